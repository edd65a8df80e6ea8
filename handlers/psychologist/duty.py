"""A psychologist's duty (Cabinet → Duty): "on duty now" for a few hours, and weekly duty hours.

On duty, a psychologist receives urgent questions and crisis hand-offs of their region first
(storage.repo.safety.on_duty_for). Times are local (the bot's time zone), picked with buttons.
"""

from __future__ import annotations

from datetime import datetime

from aiogram import F, Router
from aiogram.types import CallbackQuery
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.telegram import callbacks as cb
from bot.telegram.callbacks import Duty, DutyAction
from bot.telegram.filters import staff_only
from bot.telegram.keyboards import KeyboardBuilder, with_nav
from bot.telegram.ui import show
from bot.views import dates
from storage.models import User
from storage.models.base import utcnow
from storage.models.safety import DutyHours
from storage.repo import booking as booking_repo
from storage.repo import safety as repo

HOME = Duty(a=DutyAction.HOME)
HOURS = range(6, 24)  # duty windows may start and end on the hour, 06:00 to 24:00


def hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def weekday(number: int) -> str:
    return dates.weekdays()[number]


def duty_now(until: datetime | None, on_hours: bool, settings: Settings) -> str:
    if until is not None:
        return _("duty-now-on").format(until=dates.time(until, settings.tz))
    return _("duty-now-hours") if on_hours else _("duty-now-off")


def home_keyboard(
    until: datetime | None, hours: list[DutyHours], lines: list[str], settings: Settings
) -> KeyboardBuilder:
    builder = KeyboardBuilder()
    if until is not None:
        builder.button(text=_("duty-stop"), callback_data=Duty(a=DutyAction.STOP))
    else:
        builder.button(
            text=_("duty-start").format(hours=f"{settings.support.duty_hours:g}"),
            callback_data=Duty(a=DutyAction.START),
        )
    builder.button(text=_("duty-add"), callback_data=Duty(a=DutyAction.ADD))
    for row, line in zip(hours, lines, strict=True):
        builder.button(
            text=_("duty-remove").format(line=line), callback_data=Duty(a=DutyAction.REMOVE, id=row.id)
        )
    builder.adjust(1)
    return builder


async def show_home(query: CallbackQuery, session: AsyncSession, user: User, settings: Settings) -> None:
    profile = await booking_repo.ensure_profile(session, user)
    hours = await repo.duty_hours(session, profile.id)
    now = utcnow()
    until = (
        profile.on_duty_until if profile.on_duty_until is not None and profile.on_duty_until > now else None
    )
    state = duty_now(until, repo.on_duty(profile, hours, now, settings.tz), settings)
    lines = [
        _("duty-hours-line").format(
            day=weekday(row.weekday), start=hhmm(row.start_min), end=hhmm(row.end_min)
        )
        for row in hours
    ]
    text = _("duty-title").format(state=state, hours="\n".join(lines) or _("duty-hours-none"))
    builder = home_keyboard(until, hours, lines, settings)
    await show(query, text, with_nav(builder, cb.Menu(item=cb.Section.PSYCHOLOGIST)))


async def home(query: CallbackQuery, session: AsyncSession, user: User, settings: Settings) -> None:
    await show_home(query, session, user, settings)


async def start(query: CallbackQuery, session: AsyncSession, user: User, settings: Settings) -> None:
    profile = await booking_repo.ensure_profile(session, user)
    profile.on_duty_until = repo.duty_until(utcnow(), settings.support.duty_hours)
    await show_home(query, session, user, settings)


async def stop(query: CallbackQuery, session: AsyncSession, user: User, settings: Settings) -> None:
    profile = await booking_repo.ensure_profile(session, user)
    profile.on_duty_until = None
    await show_home(query, session, user, settings)


async def pick_day(query: CallbackQuery) -> None:
    builder = KeyboardBuilder()
    for number in range(7):
        builder.button(text=weekday(number), callback_data=Duty(a=DutyAction.DAY, d=number))
    builder.adjust(4)
    await show(query, _("duty-pick-day"), with_nav(builder, HOME))


async def pick_start(query: CallbackQuery, callback_data: Duty) -> None:
    builder = KeyboardBuilder()
    for hour in HOURS:
        builder.button(
            text=hhmm(hour * 60), callback_data=Duty(a=DutyAction.START_AT, d=callback_data.d, t=hour * 60)
        )
    builder.adjust(4)
    await show(
        query,
        _("duty-pick-start").format(day=weekday(callback_data.d % 7)),
        with_nav(builder, Duty(a=DutyAction.ADD)),
    )


async def pick_end(query: CallbackQuery, callback_data: Duty) -> None:
    builder = KeyboardBuilder()
    for hour in range(callback_data.t // 60 + 1, 25):
        builder.button(
            text=hhmm(hour * 60),
            callback_data=Duty(a=DutyAction.END_AT, d=callback_data.d, t=callback_data.t, e=hour * 60),
        )
    builder.adjust(4)
    text = _("duty-pick-end").format(day=weekday(callback_data.d % 7), start=hhmm(callback_data.t))
    await show(query, text, with_nav(builder, Duty(a=DutyAction.DAY, d=callback_data.d)))


async def save(
    query: CallbackQuery,
    callback_data: Duty,
    session: AsyncSession,
    user: User,
    settings: Settings,
    callback_answer: CallbackAnswer,
) -> None:
    data = callback_data
    if not (0 <= data.d <= 6 and 0 <= data.t < data.e <= 24 * 60):
        await show_home(query, session, user, settings)  # a forged or stale press
        return
    profile = await booking_repo.ensure_profile(session, user)
    if not await repo.add_duty_hours(session, profile.id, data.d, data.t, data.e):
        callback_answer.text, callback_answer.show_alert = _("duty-overlap"), True
    await show_home(query, session, user, settings)


async def remove(
    query: CallbackQuery, callback_data: Duty, session: AsyncSession, user: User, settings: Settings
) -> None:
    profile = await booking_repo.ensure_profile(session, user)
    await repo.remove_duty_hours(session, profile.id, callback_data.id)
    await show_home(query, session, user, settings)


def create_router() -> Router:
    router = staff_only(Router(name="duty"), "psychologist")
    press = router.callback_query.register
    press(home, Duty.filter(F.a == DutyAction.HOME))
    press(start, Duty.filter(F.a == DutyAction.START))
    press(stop, Duty.filter(F.a == DutyAction.STOP))
    press(pick_day, Duty.filter(F.a == DutyAction.ADD))
    press(pick_start, Duty.filter(F.a == DutyAction.DAY))
    press(pick_end, Duty.filter(F.a == DutyAction.START_AT))
    press(save, Duty.filter(F.a == DutyAction.END_AT))
    press(remove, Duty.filter(F.a == DutyAction.REMOVE))
    return router
