"""Group sessions outside a conversation: messages to teachers
(seat offers, lapsed offers, a cancelled session, rating requests) and the sweeper that
passes expired offers on and asks for ratings after a session."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from aiogram import Bot
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.events import AfterCommit, UserErased
from bot.telegram import delivery
from bot.views.groups import describe, menu_markup, offer_markup, rating_markup, when
from storage.models import GroupSession, User
from storage.models.base import utcnow
from storage.repo import groups

log = logging.getLogger("demeu.groups")
Compose = Callable[[User], tuple[str, InlineKeyboardMarkup | None]]


async def tell(
    bot: Bot,
    session: AsyncSession,
    sessions: async_sessionmaker[AsyncSession] | None,
    i18n: I18n,
    user_ids: Iterable[int],
    compose: Compose,
) -> int:
    """Send each user a message in their own language; returns how many were delivered."""
    sent = 0
    for user in await groups.teachers(session, list(dict.fromkeys(user_ids))):
        with i18n.context(), i18n.use_locale(user.language):
            text, markup = compose(user)
        result = await delivery.send_message(
            bot, user.telegram_chat_id, text, reply_markup=markup, user_id=user.id, sessions=sessions
        )
        sent += result.sent
    return sent


async def notify_offers(
    bot: Bot, session: AsyncSession, sessions, i18n: I18n, tz: ZoneInfo, offers: Iterable[groups.Offer]
) -> None:
    for offer in offers:
        group = await groups.get(session, offer.session_id)
        if group is None:
            continue

        def compose(user: User, group=group, offer=offer):
            text = (
                _("groups-offer").format(until=when(offer.expires_at, tz))
                + "\n\n"
                + describe(group, user.language, tz)
            )
            return text, offer_markup(group.id)

        await tell(bot, session, sessions, i18n, [offer.user_id], compose)


async def notify_lapsed(bot: Bot, session: AsyncSession, sessions, i18n: I18n, user_ids: list[int]) -> None:
    await tell(bot, session, sessions, i18n, user_ids, lambda user: (_("groups-offer-lapsed"), menu_markup()))


async def notify_cancelled(
    bot: Bot,
    session: AsyncSession,
    sessions,
    i18n: I18n,
    tz: ZoneInfo,
    group: GroupSession,
    user_ids: list[int],
) -> int:
    def compose(user: User):
        from html import escape

        return _("groups-session-cancelled").format(
            title=escape(group.title(user.language)), when=when(group.starts_at, tz)
        ), menu_markup()

    return await tell(bot, session, sessions, i18n, user_ids, compose)


async def ask_ratings(
    bot: Bot, session: AsyncSession, sessions, i18n: I18n, due: list[tuple[int, int]]
) -> None:
    for group_id, user_id in due:
        group = await groups.get(session, group_id)
        if group is None:
            continue

        def compose(user: User, group=group):
            from html import escape

            return _("groups-rate-ask").format(title=escape(group.title(user.language))), rating_markup(
                group.id
            )

        await tell(bot, session, sessions, i18n, [user_id], compose)


class GroupSweeper:
    """Every few seconds: pass expired seat offers to the next teacher, ask finished sessions for ratings."""

    def __init__(
        self, bot: Bot, sessions: async_sessionmaker[AsyncSession], i18n: I18n, settings: Settings
    ) -> None:
        self.bot, self.sessions, self.i18n, self.settings = bot, sessions, i18n, settings
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
            lapsed, offers = await groups.expire_offers(session, now, config.offer_hold)
            due = await groups.due_for_rating(session, now, timedelta(hours=config.rating_window_hours))
            await session.commit()  # decided before anyone is told
            await notify_lapsed(self.bot, session, self.sessions, self.i18n, lapsed)
            await notify_offers(self.bot, session, self.sessions, self.i18n, self.settings.tz, offers)
            await ask_ratings(self.bot, session, self.sessions, self.i18n, due)

    async def _run(self) -> None:
        while True:
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:  # keep sweeping; the next round retries what failed
                log.exception("group sweep failed")
            await asyncio.sleep(self.settings.groups.sweep_seconds)


async def erase_user(
    event: UserErased, sessions: async_sessionmaker[AsyncSession], i18n: I18n, settings: Settings
) -> list[AfterCommit]:
    """Subscribed to UserErased: they leave every session first, so a freed seat goes to the next
    teacher in line, who is offered it once the deletion is committed."""
    offers: list[groups.Offer] = []
    for group_id in await groups.active_seats_of(event.session, event.user.id):
        left = await groups.leave(
            event.session, group_id, event.user.id, utcnow(), settings.groups.offer_hold
        )
        offers += left.offers
    if not offers:
        return []

    async def after_commit(bot: Bot) -> None:
        async with sessions() as fresh:
            await notify_offers(bot, fresh, None, i18n, settings.tz, offers)

    return [after_commit]


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
