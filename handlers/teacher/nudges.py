"""Settings → Reminders: the opt-in nudges (bot/workers/nudges.py) a teacher turns on at a time they
pick, and the one-tap "turn off" on every nudge message."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _
from babel.dates import format_date
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.telegram import callbacks as cb
from bot.telegram.keyboards import KeyboardBuilder, button, with_nav
from bot.telegram.ui import show
from bot.workers import nudges
from storage.models import User
from storage.models.base import utcnow
from storage.repo import nudges as repo

Action = cb.NudgeAction
LIST = cb.Nudge(a=Action.LIST)


def minute_of(at: str) -> int:
    """ "20:30" -> 1230: a time button carries the minute of the day (":" separates callback fields)."""
    hours, minutes = at.split(":")
    return int(hours) * 60 + int(minutes)


async def chosen_times(session: AsyncSession, user: User) -> dict[str, str]:
    """kind -> "HH:MM" for every nudge that is on."""
    return {r.params["n"]: r.params["t"] for r in await repo.pending(session, user.id)}


def schedule_text(kind: str, at: str, settings: Settings, language: str) -> str:
    if kind in nudges.WEEKLY:
        day = nudges.next_time(kind, at, utcnow(), settings.tz, settings.nudges.weekly_day)
        return _("nudges-weekly").format(
            day=format_date(day.astimezone(settings.tz), "EEEE", locale=language), time=at
        )
    return _("nudges-daily").format(time=at)


async def show_list(query: CallbackQuery, session: AsyncSession, user: User, settings: Settings) -> None:
    on = await chosen_times(session, user)
    builder = KeyboardBuilder()
    lines = []
    for kind in nudges.KINDS:
        state = schedule_text(kind, on[kind], settings, user.language) if kind in on else _("nudges-off")
        lines.append(_("nudges-line").format(name=_("nudge-name-" + kind), state=state))
        builder.button(
            text=("✅ " if kind in on else "") + _("nudge-name-" + kind),
            callback_data=cb.Nudge(a=Action.KIND, k=kind),
        )
    builder.adjust(1)
    await show(
        query,
        _("nudges-title") + "\n\n" + "\n".join(lines),
        with_nav(builder, cb.Menu(item=cb.Section.SETTINGS)),
    )


async def show_kind(
    query: CallbackQuery, session: AsyncSession, user: User, settings: Settings, kind: str
) -> None:
    current = (await chosen_times(session, user)).get(kind)
    builder = KeyboardBuilder()
    for at in settings.nudges.times:
        builder.button(
            text=("✓ " if at == current else "") + at,
            callback_data=cb.Nudge(a=Action.SET, k=kind, minute=minute_of(at)),
        )
    builder.adjust(3)
    if current:
        builder.row(button(_("nudge-turn-off"), cb.Nudge(a=Action.OFF, k=kind)))
    state = schedule_text(kind, current, settings, user.language) if current else _("nudges-off")
    text = (
        _("nudge-about-" + kind)
        + "\n\n"
        + _("nudges-now").format(state=state)
        + "\n\n"
        + _("nudges-pick-time")
    )
    await show(query, text, with_nav(builder, LIST))


async def overview(query: CallbackQuery, session: AsyncSession, user: User, settings: Settings) -> None:
    await show_list(query, session, user, settings)


async def one_kind(
    query: CallbackQuery, callback_data: cb.Nudge, session: AsyncSession, user: User, settings: Settings
) -> None:
    await show_kind(query, session, user, settings, callback_data.k)


async def set_time(
    query: CallbackQuery,
    callback_data: cb.Nudge,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    user: User,
    settings: Settings,
) -> None:
    at = next((at for at in settings.nudges.times if minute_of(at) == callback_data.minute), None)
    if at is None:  # an old button after the offered times changed
        callback_answer.text = _("stale-button")
        await show_kind(query, session, user, settings, callback_data.k)
        return
    await nudges.turn_on(session, user.id, callback_data.k, at, settings.nudges, settings.tz)
    callback_answer.text = _("nudges-saved")
    await show_list(query, session, user, settings)


async def turn_off(
    query: CallbackQuery,
    callback_data: cb.Nudge,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    user: User,
) -> None:
    await nudges.turn_off(session, user.id, callback_data.k)
    callback_answer.text = _("nudges-turned-off")
    builder = KeyboardBuilder()
    builder.button(text=_("settings-nudges"), callback_data=LIST)
    await show(query, _("nudges-off-done").format(name=_("nudge-name-" + callback_data.k)), with_nav(builder))


def create_router() -> Router:
    router = Router(name="nudges")
    press = router.callback_query.register
    known = F.k.in_(set(nudges.KINDS))
    press(overview, cb.Nudge.filter(F.a == Action.LIST))
    press(one_kind, cb.Nudge.filter((F.a == Action.KIND) & known))
    press(set_time, cb.Nudge.filter((F.a == Action.SET) & known))
    press(turn_off, cb.Nudge.filter((F.a == Action.OFF) & known))
    return router
