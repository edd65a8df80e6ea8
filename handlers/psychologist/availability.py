"""Psychologist's availability: single slots (calendar, time, duration, format), a weekly
template generating slots N weeks ahead, and the day and week views of the schedule.

Every step's choices travel in cb.Psy, so a screen reopened later still knows them."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from aiogram import F, Router
from aiogram.types import CallbackQuery
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.telegram import callbacks as cb
from bot.telegram.filters import staff_only
from bot.telegram.keyboards import KeyboardBuilder, with_nav
from bot.telegram.ui import show
from bot.views import booking as common
from bot.views.calendar import day_grid, weekday_names
from storage.models import PsychologistProfile, User
from storage.models.base import utcnow
from storage.models.booking import FORMATS
from storage.repo import booking as repo

P = cb.Psy
HOME = cb.Menu(item="psy")
NOOP = P(a="noop")
DAY_TIMES = [time(hour, minute) for hour in range(8, 21) for minute in (0, 30)]  # 08:00 .. 20:30
DURATIONS = (30, 45, 50, 60, 90)
WEEK_CHOICES = (2, 4, 8, 12)


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


def time_buttons(data: P, action: str, times: list[time], field: str = "t") -> KeyboardBuilder:
    builder = KeyboardBuilder()
    for moment in times:
        builder.button(
            text=moment.strftime("%H:%M"),
            callback_data=data.model_copy(update={"a": action, field: moment.strftime("%H%M")}),
        )
    builder.adjust(4)
    return builder


def format_buttons(data: P, action: str, profile: PsychologistProfile) -> KeyboardBuilder:
    builder = KeyboardBuilder()
    for fmt in profile.format_list or FORMATS:
        builder.button(
            text=common.format_name(fmt), callback_data=data.model_copy(update={"a": action, "f": fmt})
        )
    builder.adjust(1)
    return builder


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
        if booking is None:
            lines.append(
                _("psy-day-free").format(
                    time=at, minutes=slot.duration_min, format=common.format_name(slot.format)
                )
            )
            builder.button(
                text=_("psy-remove-slot").format(time=at), callback_data=P(a="rm", id=slot.id, v=ymd(day))
            )
        else:
            lines.append(
                _("psy-day-booked").format(
                    time=at,
                    code=booking.teacher.pseudonym,
                    format=common.format_name(slot.format),
                    state=_("psy-state-" + booking.state),
                )
            )
            builder.button(text=f"{at} · {booking.teacher.pseudonym}", callback_data=P(a="bk", id=booking.id))
    builder.adjust(2)
    builder.row(
        *KeyboardBuilder()
        .button(text="◀️", callback_data=P(a="day", v=ymd(day - timedelta(days=1))))
        .button(text=_("psy-add-here"), callback_data=P(a="dt", v=ymd(day)))
        .button(text="▶️", callback_data=P(a="day", v=ymd(day + timedelta(days=1))))
        .buttons
    )
    builder.row(*KeyboardBuilder().button(text=_("psy-week"), callback_data=P(a="week", v=ymd(day))).buttons)
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
        lines.append(
            _("psy-week-line").format(day=common.day_label(day, user.language), slots=slots, booked=booked)
        )
        builder.button(text=common.day_label(day, user.language), callback_data=P(a="day", v=ymd(day)))
    builder.adjust(4)
    builder.row(
        *KeyboardBuilder()
        .button(text="◀️", callback_data=P(a="week", v=ymd(monday - timedelta(days=7))))
        .button(text="▶️", callback_data=P(a="week", v=ymd(monday + timedelta(days=7))))
        .buttons
    )
    text = _("psy-week-title").format(day=common.day_title(monday, user.language)) + "\n\n" + "\n".join(lines)
    await show(query, text, with_nav(builder, HOME))


def create_router() -> Router:
    router = staff_only(Router(name="availability"), "psychologist")

    @router.callback_query(P.filter(F.a == "noop"))
    async def noop(query: CallbackQuery) -> None:
        """Calendar padding and headers: the press is answered, nothing changes."""

    # --- single slots ------------------------------------------------------------------------------------

    @router.callback_query(P.filter(F.a == "cal"))
    async def calendar(query: CallbackQuery, settings: Settings) -> None:
        first = today(settings)
        last = first + timedelta(days=settings.booking.horizon_days)
        builder = KeyboardBuilder()
        for row in day_grid(first, last, lambda day: P(a="dt", v=ymd(day)), NOOP):
            builder.row(*row)
        await show(query, _("psy-pick-day"), with_nav(builder, HOME))

    @router.callback_query(P.filter(F.a == "dt"))
    async def pick_time(query: CallbackQuery, callback_data: P, user: User, settings: Settings) -> None:
        day = parse_day(callback_data.v)
        if day is None:
            return await calendar(query, settings)
        now = utcnow()
        times = [t for t in DAY_TIMES if datetime.combine(day, t, settings.tz) > now]
        builder = time_buttons(callback_data, "dur", times)
        text = _("psy-pick-time").format(day=common.day_title(day, user.language))
        await show(query, text, with_nav(builder, P(a="cal")))

    @router.callback_query(P.filter(F.a == "dur"))
    async def pick_duration(query: CallbackQuery, callback_data: P, settings: Settings) -> None:
        builder = KeyboardBuilder()
        default = settings.booking.default_duration_min
        for minutes in sorted({*DURATIONS, default}):
            mark = "✓ " if minutes == default else ""
            builder.button(
                text=mark + _("psy-minutes").format(n=minutes),
                callback_data=callback_data.model_copy(update={"a": "sfm", "n": minutes}),
            )
        builder.adjust(3)
        await show(
            query, _("psy-pick-duration"), with_nav(builder, callback_data.model_copy(update={"a": "dt"}))
        )

    @router.callback_query(P.filter(F.a == "sfm"))
    async def pick_format(query: CallbackQuery, callback_data: P, session: AsyncSession, user: User) -> None:
        profile = await repo.ensure_profile(session, user)
        builder = format_buttons(callback_data, "add", profile)
        await show(
            query, _("psy-pick-format"), with_nav(builder, callback_data.model_copy(update={"a": "dur"}))
        )

    @router.callback_query(P.filter(F.a == "add"))
    async def add_slot(
        query: CallbackQuery,
        callback_data: P,
        callback_answer: CallbackAnswer,
        session: AsyncSession,
        user: User,
        settings: Settings,
    ) -> None:
        profile = await repo.ensure_profile(session, user)
        day, at = parse_day(callback_data.v), parse_time(callback_data.t)
        if (
            day is None
            or at is None
            or callback_data.f not in FORMATS
            or callback_data.n not in {*DURATIONS, settings.booking.default_duration_min}
        ):
            return await calendar(query, settings)
        starts_at = datetime.combine(day, at, settings.tz)
        if starts_at <= utcnow():
            callback_answer.text, callback_answer.show_alert = _("psy-slot-past"), True
            return await pick_time(query, callback_data, user, settings)
        slot = await repo.add_slot(session, profile, starts_at, callback_data.n, callback_data.f)
        prefix = _("psy-slot-added") if slot is not None else _("psy-slot-overlaps")
        if slot is None:
            callback_answer.text, callback_answer.show_alert = _("psy-slot-overlaps"), True
        await show_day(query, session, profile, user, settings, day, prefix=prefix + "\n\n")

    # --- weekly template ---------------------------------------------------------------------------------

    @router.callback_query(P.filter(F.a == "tw"))
    async def template_weekday(query: CallbackQuery, settings: Settings) -> None:
        builder = KeyboardBuilder()
        for number, name in enumerate(weekday_names()):
            builder.button(text=name, callback_data=P(a="tws", v=str(number)))
        builder.adjust(7)
        text = _("psy-template-intro").format(
            minutes=settings.booking.default_duration_min, pause=settings.booking.default_break_min
        )
        await show(query, text, with_nav(builder, HOME))

    @router.callback_query(P.filter(F.a == "tws"))
    async def template_start(query: CallbackQuery, callback_data: P) -> None:
        builder = time_buttons(callback_data, "twe", DAY_TIMES[:-1])
        await show(query, _("psy-template-start"), with_nav(builder, P(a="tw")))

    @router.callback_query(P.filter(F.a == "twe"))
    async def template_end(query: CallbackQuery, callback_data: P) -> None:
        start = parse_time(callback_data.t)
        times = [t for t in [*DAY_TIMES, time(21, 0)] if start is not None and t > start]
        builder = time_buttons(callback_data, "twf", times, field="e")
        await show(
            query, _("psy-template-end"), with_nav(builder, callback_data.model_copy(update={"a": "tws"}))
        )

    @router.callback_query(P.filter(F.a == "twf"))
    async def template_format(
        query: CallbackQuery, callback_data: P, session: AsyncSession, user: User
    ) -> None:
        profile = await repo.ensure_profile(session, user)
        builder = format_buttons(callback_data, "twk", profile)
        await show(
            query, _("psy-pick-format"), with_nav(builder, callback_data.model_copy(update={"a": "twe"}))
        )

    @router.callback_query(P.filter(F.a == "twk"))
    async def template_weeks(query: CallbackQuery, callback_data: P, settings: Settings) -> None:
        builder = KeyboardBuilder()
        for weeks in sorted({*WEEK_CHOICES, settings.booking.template_weeks}):
            mark = "✓ " if weeks == settings.booking.template_weeks else ""
            builder.button(
                text=mark + _("psy-weeks").format(n=weeks),
                callback_data=callback_data.model_copy(update={"a": "twgo", "n": weeks}),
            )
        builder.adjust(2)
        await show(
            query, _("psy-template-weeks"), with_nav(builder, callback_data.model_copy(update={"a": "twf"}))
        )

    @router.callback_query(P.filter(F.a == "twgo"))
    async def template_apply(
        query: CallbackQuery, callback_data: P, session: AsyncSession, user: User, settings: Settings
    ) -> None:
        start, end = parse_time(callback_data.t), parse_time(callback_data.e)
        weekday = int(callback_data.v) if callback_data.v.isdigit() else -1
        if (
            start is None
            or end is None
            or not 0 <= weekday <= 6
            or callback_data.f not in FORMATS
            or not 1 <= callback_data.n <= 12
        ):
            return await template_weekday(query, settings)
        rules = settings.booking
        horizon = utcnow() + timedelta(days=rules.horizon_days)
        starts = [
            s
            for s in repo.template_times(
                weekday,
                start,
                end,
                rules.default_duration_min,
                rules.default_break_min,
                callback_data.n,
                settings.tz,
                utcnow(),
            )
            if s < horizon
        ]
        profile = await repo.ensure_profile(session, user)
        added, skipped = await repo.add_template(
            session, profile, starts, rules.default_duration_min, callback_data.f
        )
        builder = KeyboardBuilder()
        builder.button(text=_("psy-week"), callback_data=P(a="week"))
        text = _("psy-template-done").format(added=added, skipped=skipped)
        await show(query, text, with_nav(builder, HOME))

    # --- schedule ----------------------------------------------------------------------------------------

    @router.callback_query(P.filter(F.a == "day"))
    async def day_view(
        query: CallbackQuery, callback_data: P, session: AsyncSession, user: User, settings: Settings
    ) -> None:
        day = parse_day(callback_data.v) or today(settings)
        await show_day(query, session, await repo.ensure_profile(session, user), user, settings, day)

    @router.callback_query(P.filter(F.a == "week"))
    async def week_view(
        query: CallbackQuery, callback_data: P, session: AsyncSession, user: User, settings: Settings
    ) -> None:
        day = parse_day(callback_data.v) or today(settings)
        monday = day - timedelta(days=day.weekday())
        await show_week(query, session, await repo.ensure_profile(session, user), user, settings, monday)

    @router.callback_query(P.filter(F.a == "rm"))
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

    return router
