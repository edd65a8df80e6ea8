"""Psychologist's availability: single slots (calendar, time, duration, format), a weekly
template generating slots N weeks ahead, and the day and week views of the schedule.

Every step's choices travel in cb.Psy, so a screen reopened later still knows them."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from aiogram import F, Router
from aiogram.types import CallbackQuery, InlineKeyboardButton
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services import availability as offer
from bot.telegram import callbacks as cb
from bot.telegram.filters import staff_only
from bot.telegram.keyboards import KeyboardBuilder, button, with_nav
from bot.telegram.ui import show
from bot.views import booking as common
from bot.views.calendar import day_grid, weekday_names
from storage.models import Booking, PsychologistProfile, Slot, User
from storage.models.base import utcnow
from storage.models.booking import FORMATS
from storage.repo import booking as repo

P = cb.Psy
A = cb.PsyAction
HOME = cb.Menu(item=cb.Section.PSYCHOLOGIST)
NOOP = P(a=A.NOOP)


def ymd(day: date) -> str:
    return day.strftime("%Y%m%d")


def parse_day(value: str) -> date | None:
    try:
        return datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        return None


def parse_time(value: str) -> time | None:
    try:
        return datetime.strptime(value, "%H%M").time()
    except ValueError:
        return None


def today(settings: Settings) -> date:
    return utcnow().astimezone(settings.tz).date()


def step(data: P, action: cb.PsyAction, **choice: str | int) -> P:
    """The next screen's button: this screen's choices, one more."""
    return data.model_copy(update={"a": action, **choice})


def time_buttons(data: P, action: cb.PsyAction, times: list[time], field: str = "t") -> KeyboardBuilder:
    builder = KeyboardBuilder()
    for moment in times:
        builder.button(
            text=moment.strftime("%H:%M"),
            callback_data=step(data, action, **{field: moment.strftime("%H%M")}),
        )
    builder.adjust(4)
    return builder


def format_buttons(data: P, action: cb.PsyAction, profile: PsychologistProfile) -> KeyboardBuilder:
    builder = KeyboardBuilder()
    for fmt in profile.format_list or FORMATS:
        builder.button(text=common.format_name(fmt), callback_data=step(data, action, f=fmt))
    builder.adjust(1)
    return builder


def number_buttons(
    data: P, action: cb.PsyAction, numbers: list[int], default: int, label: str
) -> KeyboardBuilder:
    builder = KeyboardBuilder()
    for number in numbers:
        mark = "✓ " if number == default else ""
        builder.button(text=mark + _(label).format(n=number), callback_data=step(data, action, n=number))
    return builder


def day_line(slot: Slot, booking: Booking | None, at: str) -> str:
    if booking is None:
        return _("psy-day-free").format(
            time=at, minutes=slot.duration_min, format=common.format_name(slot.format)
        )
    return _("psy-day-booked").format(
        time=at,
        code=booking.teacher.pseudonym,
        format=common.format_name(slot.format),
        state=_("psy-state-" + booking.state),
    )


def slot_button(slot: Slot, booking: Booking | None, at: str, day: date) -> InlineKeyboardButton:
    """A free slot can be removed, a booked one opened."""
    if booking is None:
        return button(_("psy-remove-slot").format(time=at), P(a=A.REMOVE_SLOT, id=slot.id, v=ymd(day)))
    return button(f"{at} · {booking.teacher.pseudonym}", P(a=A.BOOKING, id=booking.id))


async def show_day(
    query: CallbackQuery,
    session: AsyncSession,
    profile: PsychologistProfile,
    user: User,
    settings: Settings,
    day: date,
    prefix: str = "",
) -> None:
    start = datetime.combine(day, time(0), settings.tz)
    rows = await repo.schedule(session, profile, start, start + timedelta(days=1))
    builder = KeyboardBuilder()
    lines = []
    for slot, booking in rows:
        at = common.hhmm(slot.starts_at, settings.tz)
        lines.append(day_line(slot, booking, at))
        builder.add(slot_button(slot, booking, at, day))
    builder.adjust(2)
    builder.row(
        button("◀️", P(a=A.DAY, v=ymd(day - timedelta(days=1)))),
        button(_("psy-add-here"), P(a=A.SLOT_TIME, v=ymd(day))),
        button("▶️", P(a=A.DAY, v=ymd(day + timedelta(days=1)))),
    )
    builder.row(button(_("psy-week"), P(a=A.WEEK, v=ymd(day))))
    body = "\n".join(lines) or _("psy-day-empty")
    text = prefix + _("psy-day-title").format(day=common.day_title(day, user.language)) + "\n\n" + body
    await show(query, text, with_nav(builder, HOME))


async def show_week(
    query: CallbackQuery,
    session: AsyncSession,
    profile: PsychologistProfile,
    user: User,
    settings: Settings,
    monday: date,
) -> None:
    start = datetime.combine(monday, time(0), settings.tz)
    rows = await repo.schedule(session, profile, start, start + timedelta(days=7))
    per_day: dict[date, list[int]] = {}
    for slot, booking in rows:
        counts = per_day.setdefault(slot.starts_at.astimezone(settings.tz).date(), [0, 0])
        counts[0] += 1
        counts[1] += booking is not None
    builder = KeyboardBuilder()
    lines = []
    for offset in range(7):
        day = monday + timedelta(days=offset)
        slots, booked = per_day.get(day, (0, 0))
        label = common.day_label(day, user.language)
        lines.append(_("psy-week-line").format(day=label, slots=slots, booked=booked))
        builder.button(text=label, callback_data=P(a=A.DAY, v=ymd(day)))
    builder.adjust(4)
    builder.row(
        button("◀️", P(a=A.WEEK, v=ymd(monday - timedelta(days=7)))),
        button("▶️", P(a=A.WEEK, v=ymd(monday + timedelta(days=7)))),
    )
    text = _("psy-week-title").format(day=common.day_title(monday, user.language)) + "\n\n" + "\n".join(lines)
    await show(query, text, with_nav(builder, HOME))


async def noop(query: CallbackQuery) -> None:
    """Calendar padding and headers: the press is answered, nothing changes."""


# --- single slots --------------------------------------------------------------------------------------


async def calendar(query: CallbackQuery, settings: Settings) -> None:
    first = today(settings)
    last = first + timedelta(days=settings.booking.horizon_days)
    builder = KeyboardBuilder()
    for row in day_grid(first, last, lambda day: P(a=A.SLOT_TIME, v=ymd(day)), NOOP):
        builder.row(*row)
    await show(query, _("psy-pick-day"), with_nav(builder, HOME))


async def pick_time(query: CallbackQuery, callback_data: P, user: User, settings: Settings) -> None:
    day = parse_day(callback_data.v)
    if day is None:
        await calendar(query, settings)
        return
    now = utcnow()
    times = [t for t in offer.DAY_TIMES if datetime.combine(day, t, settings.tz) > now]
    builder = time_buttons(callback_data, A.SLOT_DURATION, times)
    text = _("psy-pick-time").format(day=common.day_title(day, user.language))
    await show(query, text, with_nav(builder, P(a=A.CALENDAR)))


async def pick_duration(query: CallbackQuery, callback_data: P, settings: Settings) -> None:
    rules = settings.booking
    builder = number_buttons(
        callback_data, A.SLOT_FORMAT, offer.durations(rules), rules.default_duration_min, "psy-minutes"
    )
    builder.adjust(3)
    await show(query, _("psy-pick-duration"), with_nav(builder, step(callback_data, A.SLOT_TIME)))


async def pick_format(query: CallbackQuery, callback_data: P, session: AsyncSession, user: User) -> None:
    profile = await repo.ensure_profile(session, user)
    builder = format_buttons(callback_data, A.SLOT_ADD, profile)
    await show(query, _("psy-pick-format"), with_nav(builder, step(callback_data, A.SLOT_DURATION)))


async def add_slot(
    query: CallbackQuery,
    callback_data: P,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    user: User,
    settings: Settings,
) -> None:
    data = callback_data
    day, at = parse_day(data.v), parse_time(data.t)
    if day is None or at is None or not offer.slot_valid(data.f, data.n, settings.booking):
        await calendar(query, settings)
        return
    starts_at = datetime.combine(day, at, settings.tz)
    if starts_at <= utcnow():
        callback_answer.text, callback_answer.show_alert = _("psy-slot-past"), True
        await pick_time(query, data, user, settings)
        return
    profile = await repo.ensure_profile(session, user)
    slot = await repo.add_slot(session, profile, starts_at, data.n, data.f)
    prefix = _("psy-slot-added") if slot is not None else _("psy-slot-overlaps")
    if slot is None:
        callback_answer.text, callback_answer.show_alert = _("psy-slot-overlaps"), True
    await show_day(query, session, profile, user, settings, day, prefix=prefix + "\n\n")


# --- weekly template -----------------------------------------------------------------------------------


async def template_weekday(query: CallbackQuery, settings: Settings) -> None:
    builder = KeyboardBuilder()
    for number, name in enumerate(weekday_names()):
        builder.button(text=name, callback_data=P(a=A.TEMPLATE_START, v=str(number)))
    builder.adjust(7)
    text = _("psy-template-intro").format(
        minutes=settings.booking.default_duration_min, pause=settings.booking.default_break_min
    )
    await show(query, text, with_nav(builder, HOME))


async def template_start(query: CallbackQuery, callback_data: P) -> None:
    builder = time_buttons(callback_data, A.TEMPLATE_END, offer.DAY_TIMES[:-1])
    await show(query, _("psy-template-start"), with_nav(builder, P(a=A.TEMPLATE)))


async def template_end(query: CallbackQuery, callback_data: P) -> None:
    start = parse_time(callback_data.t)
    times = [t for t in [*offer.DAY_TIMES, offer.DAY_END] if start is not None and t > start]
    builder = time_buttons(callback_data, A.TEMPLATE_FORMAT, times, field="e")
    await show(query, _("psy-template-end"), with_nav(builder, step(callback_data, A.TEMPLATE_START)))


async def template_format(query: CallbackQuery, callback_data: P, session: AsyncSession, user: User) -> None:
    profile = await repo.ensure_profile(session, user)
    builder = format_buttons(callback_data, A.TEMPLATE_WEEKS, profile)
    await show(query, _("psy-pick-format"), with_nav(builder, step(callback_data, A.TEMPLATE_END)))


async def template_weeks(query: CallbackQuery, callback_data: P, settings: Settings) -> None:
    rules = settings.booking
    builder = number_buttons(
        callback_data, A.TEMPLATE_APPLY, offer.week_choices(rules), rules.template_weeks, "psy-weeks"
    )
    builder.adjust(2)
    await show(query, _("psy-template-weeks"), with_nav(builder, step(callback_data, A.TEMPLATE_FORMAT)))


async def template_apply(
    query: CallbackQuery, callback_data: P, session: AsyncSession, user: User, settings: Settings
) -> None:
    data, rules = callback_data, settings.booking
    start, end = parse_time(data.t), parse_time(data.e)
    weekday = int(data.v) if data.v.isdigit() else -1
    if start is None or end is None or not offer.template_valid(weekday, data.f, data.n):
        await template_weekday(query, settings)
        return
    starts = offer.template_starts(weekday, start, end, data.n, rules, settings.tz, utcnow())
    profile = await repo.ensure_profile(session, user)
    added, skipped = await repo.add_template(session, profile, starts, rules.default_duration_min, data.f)
    builder = KeyboardBuilder()
    builder.button(text=_("psy-week"), callback_data=P(a=A.WEEK))
    text = _("psy-template-done").format(added=added, skipped=skipped)
    await show(query, text, with_nav(builder, HOME))


# --- schedule ------------------------------------------------------------------------------------------


async def day_view(
    query: CallbackQuery, callback_data: P, session: AsyncSession, user: User, settings: Settings
) -> None:
    day = parse_day(callback_data.v) or today(settings)
    await show_day(query, session, await repo.ensure_profile(session, user), user, settings, day)


async def week_view(
    query: CallbackQuery, callback_data: P, session: AsyncSession, user: User, settings: Settings
) -> None:
    day = parse_day(callback_data.v) or today(settings)
    monday = day - timedelta(days=day.weekday())
    await show_week(query, session, await repo.ensure_profile(session, user), user, settings, monday)


async def remove(
    query: CallbackQuery,
    callback_data: P,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    user: User,
    settings: Settings,
) -> None:
    profile = await repo.ensure_profile(session, user)
    if await repo.remove_slot(session, profile, callback_data.id):
        callback_answer.text = _("psy-slot-removed")
    else:
        callback_answer.text, callback_answer.show_alert = _("psy-slot-not-removed"), True
    await show_day(query, session, profile, user, settings, parse_day(callback_data.v) or today(settings))


def create_router() -> Router:
    router = staff_only(Router(name="availability"), "psychologist")
    press = router.callback_query.register
    press(noop, P.filter(F.a == A.NOOP))
    press(calendar, P.filter(F.a == A.CALENDAR))
    press(pick_time, P.filter(F.a == A.SLOT_TIME))
    press(pick_duration, P.filter(F.a == A.SLOT_DURATION))
    press(pick_format, P.filter(F.a == A.SLOT_FORMAT))
    press(add_slot, P.filter(F.a == A.SLOT_ADD))
    press(template_weekday, P.filter(F.a == A.TEMPLATE))
    press(template_start, P.filter(F.a == A.TEMPLATE_START))
    press(template_end, P.filter(F.a == A.TEMPLATE_END))
    press(template_format, P.filter(F.a == A.TEMPLATE_FORMAT))
    press(template_weeks, P.filter(F.a == A.TEMPLATE_WEEKS))
    press(template_apply, P.filter(F.a == A.TEMPLATE_APPLY))
    press(day_view, P.filter(F.a == A.DAY))
    press(week_view, P.filter(F.a == A.WEEK))
    press(remove, P.filter(F.a == A.REMOVE_SLOT))
    return router
