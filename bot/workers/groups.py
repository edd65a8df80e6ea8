"""Group sessions outside a conversation: what teachers are told (seat offers, lapsed offers, a
cancelled session, rating requests), the facilitator's question how many came, and the sweeper
that passes expired offers on and, once a session has ended, asks for ratings and attendance.

Each message is a notice (bot/workers/notices.py): a row of the reminders table written in the
transaction that decided the change (the offer, the cancel, the rating's claim), sent by the
reminder worker with its delivery rules and rendered then, in the teacher's language, from the
session as it is: an offer no longer held, or a session no longer open, is not sent. Params name
ids only; keys are "notice:group-<what>:<session>:<teacher>". The facilitator is asked once: the
sweep claims the ended session (ratings_requested) in the transaction that writes the question,
and a question whose answer came meanwhile (a coordinator's) is not sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.events import UserErased
from bot.services import groups as rules
from bot.views.groups import (
    attendance_markup,
    attendance_question,
    describe,
    menu_markup,
    offer_markup,
    rating_markup,
    when,
)
from bot.workers.notices import PREFIX, notice
from bot.workers.reminders import Rendered, Renderer
from storage.models import GroupSession, Reminder, User
from storage.models.base import utcnow
from storage.repo import groups
from storage.repo import reminders as repo

log = logging.getLogger("demeu.groups")


def _notice(what: str, group_id: int, user_id: int, **extra) -> repo.Planned:
    return notice(f"group-{what}", f"{group_id}:{user_id}", user_id, {"group": group_id}, **extra)


async def offered(session: AsyncSession, offers: Iterable[groups.Offer]) -> None:
    """Each teacher offered a seat is told, in the offer's transaction (until the offer lapses)."""
    planned = [_notice("offer", o.session_id, o.user_id, expires_at=o.expires_at) for o in offers]
    await repo.schedule_all(session, planned)


async def lapsed(session: AsyncSession, lapsed: Iterable[tuple[int, int]]) -> None:
    """Each teacher whose offer (session id, teacher id) lapsed is told so."""
    await repo.schedule_all(session, [_notice("lapsed", group_id, user) for group_id, user in lapsed])


async def cancelled(session: AsyncSession, group: GroupSession, user_ids: Iterable[int]) -> None:
    """Everyone who held a seat, an offer or a place in line is told the session is cancelled."""
    planned = [_notice("cancelled", group.id, user, expires_at=group.starts_at) for user in user_ids]
    await repo.schedule_all(session, planned)


async def ask_ratings(session: AsyncSession, due: Iterable[tuple[int, int]]) -> None:
    await repo.schedule_all(session, [_notice("rate", group_id, user) for group_id, user in due])


async def ask_attendance(session: AsyncSession, ended: Iterable[GroupSession]) -> None:
    """Each ended session's facilitator is asked how many came."""
    planned = [
        _notice("attendance", group.id, group.facilitator_id)
        for group in ended
        if group.facilitator_id is not None
    ]
    await repo.schedule_all(session, planned)


# --- rendered when sent, in the teacher's language -------------------------------------------------------------


async def _group(session: AsyncSession, reminder: Reminder) -> GroupSession | None:
    return await groups.get(session, reminder.params["group"])


async def render_offer(
    session: AsyncSession, reminder: Reminder, user: User, tz: ZoneInfo
) -> Rendered | None:
    group = await _group(session, reminder)
    seat = await groups.seat_of(session, group.id, user.id) if group is not None else None
    if group is None or group.status != "open" or seat is None or seat.status != "offered":
        return None  # taken back, declined or passed on meanwhile
    assert seat.offer_expires_at is not None, "an offered seat has its deadline"
    text = (
        _("groups-offer").format(until=when(seat.offer_expires_at, tz))
        + "\n\n"
        + describe(group, user.language, tz)
    )
    return Rendered(text, offer_markup(group.id))


async def render_lapsed(
    session: AsyncSession, reminder: Reminder, user: User, tz: ZoneInfo
) -> Rendered | None:
    return Rendered(_("groups-offer-lapsed"), menu_markup())


async def render_cancelled(
    session: AsyncSession, reminder: Reminder, user: User, tz: ZoneInfo
) -> Rendered | None:
    group = await _group(session, reminder)
    if group is None or group.status != "cancelled":
        return None
    text = _("groups-session-cancelled").format(
        title=escape(group.title(user.language)), when=when(group.starts_at, tz)
    )
    return Rendered(text, menu_markup())


async def render_rate(session: AsyncSession, reminder: Reminder, user: User, tz: ZoneInfo) -> Rendered | None:
    group = await _group(session, reminder)
    if group is None or not await groups.can_rate(session, group.id, user.id):
        return None
    text = _("groups-rate-ask").format(title=escape(group.title(user.language)))
    return Rendered(text, rating_markup(group.id))


async def render_attendance(
    session: AsyncSession, reminder: Reminder, user: User, tz: ZoneInfo
) -> Rendered | None:
    group = await _group(session, reminder)
    if not rules.reportable(group, utcnow()) or not rules.leads(group, user) or group.attended is not None:
        return None  # no longer theirs, told meanwhile, or too late to tell
    text = attendance_question(group, user.language, tz)
    return Rendered(text, attendance_markup(group.id, await groups.enrolled(session, group.id)))


RENDERERS: dict[str, Renderer] = {
    PREFIX + "group-offer": render_offer,
    PREFIX + "group-lapsed": render_lapsed,
    PREFIX + "group-cancelled": render_cancelled,
    PREFIX + "group-rate": render_rate,
    PREFIX + "group-attendance": render_attendance,
}


class GroupSweeper:
    """Every few seconds: pass expired seat offers to the next teacher, ask finished sessions'
    teachers for ratings and facilitators how many came; who is told is written with the decision
    (the reminder worker sends it)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self.sessions, self.settings = sessions, settings
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="group-sweeper")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def sweep(self, now: datetime | None = None) -> None:
        config = self.settings.groups
        now = now or utcnow()
        async with self.sessions() as session:
            gone, offers = await groups.expire_offers(session, now, config.offer_hold)
            ended = await groups.ended(session, now, timedelta(hours=config.rating_window_hours))
            await lapsed(session, gone)
            await offered(session, offers)
            await ask_ratings(session, ended.to_rate)
            await ask_attendance(session, ended.sessions)
            await session.commit()  # the decisions and their notices together

    async def _run(self) -> None:
        while True:
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:  # keep sweeping; the next round retries what failed
                log.exception("group sweep failed")
            await asyncio.sleep(self.settings.groups.sweep_seconds)


async def erase_user(event: UserErased, settings: Settings) -> None:
    """Subscribed to UserErased: they leave every session first, so a freed seat goes to the next
    teacher in line, who is told by a notice written in the deletion's transaction."""
    for group_id in await groups.active_seats_of(event.session, event.user.id):
        left = await groups.leave(
            event.session, group_id, event.user.id, utcnow(), settings.groups.offer_hold
        )
        await offered(event.session, left.offers)


# --- `python -m bot seed-demo`: three clearly marked group sessions -------------------------------------------

DEMO_SESSIONS = [
    # days ahead, hour, format, region, language, capacity, title kk, title ru, description kk, description ru
    (
        3,
        16,
        "online",
        None,
        "kk",
        12,
        "Кәсіби күйіп қалудың алдын алу (ДЕМО)",
        "Профилактика выгорания (ДЕМО)",
        "Демо-сабақ: нағыз кездесу емес. Шаршау белгілерін тану және өзіңізге көмектесу.",
        "Демо-занятие: это не настоящая встреча. Как распознать усталость и помочь себе.",
    ),
    (
        5,
        15,
        "offline",
        "KZ-71",
        "ru",
        8,
        "Ата-аналармен қиын әңгімелер (ДЕМО)",
        "Трудные разговоры с родителями (ДЕМО)",
        "Демо-сабақ: нағыз кездесу емес. Өрлеу филиалы, Астана.",
        "Демо-занятие: это не настоящая встреча. Филиал Өрлеу, Астана.",
    ),
    (
        8,
        17,
        "online",
        None,
        "ru",
        6,
        "Стресс пен ұйқы (ДЕМО)",
        "Стресс и сон (ДЕМО)",
        "Демо-сабақ: нағыз кездесу емес. Онлайн, бейнебайланыспен.",
        "Демо-занятие: это не настоящая встреча. Онлайн, по видеосвязи.",
    ),
]


async def seed_demo(session: AsyncSession, context) -> str:
    """Idempotent: the three demo sessions, led by the demo psychologists when there are any."""
    if await groups.demo_sessions(session):
        return "demo group sessions: already there"
    tz = context.settings.tz
    leaders = [p.user_id for p in getattr(context, "psychologists", [])]
    today = context.now.astimezone(tz).date()
    for number, (
        days,
        hour,
        fmt,
        region,
        language,
        capacity,
        title_kk,
        title_ru,
        text_kk,
        text_ru,
    ) in enumerate(DEMO_SESSIONS):
        starts = datetime.combine(today + timedelta(days=days), datetime.min.time().replace(hour=hour), tz)
        await groups.create_session(
            session,
            title_kk=title_kk,
            title_ru=title_ru,
            description_kk=text_kk,
            description_ru=text_ru,
            starts_at=starts,
            duration_min=60,
            capacity=capacity,
            format=fmt,
            region=region,
            language=language,
            facilitator_id=leaders[number % len(leaders)] if leaders else None,
            demo=True,
        )
    return f"demo group sessions: {len(DEMO_SESSIONS)}"


async def remove_demo(session: AsyncSession, context) -> str:
    return f"demo group sessions removed: {await groups.remove_demo(session)}"
