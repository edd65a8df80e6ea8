"""Reminders before consultations: they follow bookings (BookingChanged, subscribed in bot/app.py).

Booked -> one reminder per `[reminders] teacher_offsets` for the teacher and per
`psychologist_offsets` for the psychologist; rescheduled -> the old booking's reminders are
cancelled and the new one's scheduled; cancelled, attended, no-show -> cancelled. All in the
booking's own transaction, so a booking and its reminders never disagree, whatever crashes.

Keys are "booking:<id>:<role>:<seconds before>", so replaying an event changes nothing. Offsets
already past when the booking is made are skipped (a booking 3 hours ahead gets no "tomorrow"
reminder). Each reminder expires at the session's start: one still pending then (the bot was
down) is recorded as missed instead of arriving late.

The teacher's reminder names the session by time and format, with the address, or for video the
session's own room (bot/views/rooms.py: only in a reminder within `[video] link_minutes` of the
start, with how to stay private) and Cancel / Reschedule buttons (the same psychologist first).
Reminders caught up after downtime collapse into the nearest: one whose nearer sibling is due too
(or the session is within it) is dropped, so a bot back 2 minutes before a session sends one. The psychologist's names the teacher by code and carries the
teacher's note: it is decrypted from the booking only into that message when it is sent, never
copied into the reminder's params. Booking reminders are not subject to the announcements
setting: the teacher asked for this session.

The feedback request: one reminder "feedback:<booking id>" per booking, `[reminders]
feedback_after` after the session's end (booked / rescheduled schedule it, cancelled and no-show
cancel it). It is the only rating prompt: a rating needs the psychologist's "attended" mark, so at
its time it asks only for an attended, unrated booking; one not marked yet is dropped then, and
the "attended" mark re-arms it (due at once if the hour has already passed). So exactly one
prompt, whichever comes first, and none after a rating.

The psychologists' agenda: at `[reminders] agenda_time` (local) every replica plans one reminder
per psychologist with consultations that day, keyed "agenda:<user id>:<YYYYMMDD>", so however
many replicas plan it, there is one row and one message. It is planned again at start and expires when that psychologist's first consultation begins.
"""

from __future__ import annotations

import html
from datetime import date, datetime, time, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import RemindersConfig, VideoConfig, parse_duration
from bot.events import BookingChange, BookingChanged
from bot.telegram import callbacks as cb
from bot.telegram.keyboards import KeyboardBuilder, button, nav_row
from bot.views import dates
from bot.views.booking import book_same_data, move_data, rating_buttons, when
from bot.views.rooms import booking_room, booking_way_in, join_button
from bot.workers.reminders import Plan, ReminderWorker, Rendered, Renderer
from storage.models import Booking, Reminder, User
from storage.models.base import utcnow
from storage.models.booking import ATTENDED
from storage.repo import booking as booking_repo
from storage.repo import reminders as repo

KIND = "booking"
AGENDA = "agenda"
FEEDBACK = "feedback"
ROLES = ("teacher", "psychologist")


def prefix(booking_id: int) -> str:
    return f"booking:{booking_id}:"


def planned_for(booking: Booking, config: RemindersConfig) -> list[repo.Planned]:
    """The reminders before the booking, to teacher and psychologist, that are still ahead."""
    starts_at = booking.slot.starts_at
    now = utcnow()
    recipients = {"teacher": booking.teacher_id, "psychologist": booking.slot.psychologist.user_id}
    return [
        repo.Planned(
            f"{prefix(booking.id)}{role}:{int(offset.total_seconds())}",
            user_id,
            starts_at - offset,
            KIND,
            {"booking": booking.id, "role": role},
            expires_at=starts_at,
        )
        for role, user_id in recipients.items()
        for offset in config.offsets(role)
        if starts_at - offset > now
    ]


def feedback_key(booking_id: int) -> str:
    return f"feedback:{booking_id}"


def planned_feedback(booking: Booking, config: RemindersConfig, now: datetime | None = None) -> repo.Planned:
    due = max(booking.slot.ends_at + parse_duration(config.feedback_after), now or booking.slot.ends_at)
    return repo.Planned(feedback_key(booking.id), booking.teacher_id, due, FEEDBACK, {"booking": booking.id})


async def follow(event: BookingChanged, config: RemindersConfig) -> list[repo.Planned]:
    """Subscribed to BookingChanged (bot/app.py): the booking's reminders change in its own
    transaction; those to schedule are returned (written with the change's notices, bot/services/bookings.py)."""
    session, booking, change = event.session, event.booking, event.change
    if change is BookingChange.RESCHEDULED and booking.previous_id is not None:
        await repo.cancel_prefix(session, prefix(booking.previous_id))
        await repo.cancel(session, feedback_key(booking.previous_id))
    if change in (BookingChange.BOOKED, BookingChange.RESCHEDULED):
        return [*planned_for(booking, config), planned_feedback(booking, config)]
    if change in (BookingChange.CANCELLED, BookingChange.ATTENDED, BookingChange.NO_SHOW):
        await repo.cancel_prefix(session, prefix(booking.id))
        if change is BookingChange.ATTENDED:  # the same time (no change) or, if already past, now
            return [planned_feedback(booking, config, utcnow())]
        await repo.cancel(session, feedback_key(booking.id))
    return []


def agenda_plan(worker: ReminderWorker) -> Plan:
    """Every day at `agenda_time`, and at start (a bot down at 08:00 still sends it)."""
    at = time.fromisoformat(worker.config.agenda_time)
    trigger = CronTrigger(hour=at.hour, minute=at.minute, timezone=worker.tz)
    return Plan("agenda", trigger, partial(plan_agenda, worker), at_start=True)


async def plan_agenda(worker: ReminderWorker, now: datetime | None = None) -> int:
    """Plan today's agenda reminders once agenda time has come; returns how many psychologists."""
    now = now or utcnow()
    local = now.astimezone(worker.tz)
    due = datetime.combine(local.date(), time.fromisoformat(worker.config.agenda_time), worker.tz)
    if now < due:
        return 0
    day_end = datetime.combine(local.date() + timedelta(days=1), time(), worker.tz)
    async with worker.sessions() as session:
        first_start: dict[int, datetime] = {}
        for booking in await booking_repo.upcoming_bookings(session, now, day_end):  # earliest first
            first_start.setdefault(booking.slot.psychologist.user_id, booking.slot.starts_at)
        for user_id, starts_at in first_start.items():
            await repo.schedule(
                session,
                f"agenda:{user_id}:{local:%Y%m%d}",
                user_id,
                due,
                AGENDA,
                {"day": local.date().isoformat()},
                expires_at=starts_at,
            )
        await session.commit()
    return len(first_start)


def teacher_markup(booking: Booking, link: str | None = None) -> InlineKeyboardMarkup:
    builder = KeyboardBuilder()
    builder.row(*join_button(link))
    builder.row(
        button(_("rem-cancel"), cb.Mine(a=cb.MineAction.CANCEL, id=booking.id)),
        button(_("rem-move"), move_data(booking)),
    )
    builder.row(*nav_row())
    return builder.as_markup()


def place(booking: Booking, video: VideoConfig, now: datetime) -> str:
    if booking.slot.format == "video":
        way_in = booking_way_in(video, booking, now)
        return "\n\n" + way_in if way_in else ""
    profile = booking.slot.psychologist
    if booking.slot.format == "office" and profile.address:
        return _("rem-place-address").format(address=html.escape(profile.address))
    if booking.slot.format == "chat":
        return _("rem-place-chat")
    return ""


def superseded(reminder: Reminder, starts_at: datetime, config: RemindersConfig, now: datetime) -> bool:
    """A reminder caught up after downtime when a nearer one of the same side is due too (or the
    session is already within it): only the nearest is sent, the others are dropped."""
    own = timedelta(seconds=int(reminder.key.rsplit(":", 1)[-1]))
    return any(
        offset < own and starts_at - offset <= now for offset in config.offsets(reminder.params["role"])
    )


async def render_booking(
    session: AsyncSession,
    reminder: Reminder,
    user: User,
    tz: ZoneInfo,
    video: VideoConfig,
    config: RemindersConfig,
) -> Rendered | None:
    booking = await booking_repo.booking_by_id(session, reminder.params["booking"])
    now = utcnow()
    if booking is None or not booking.upcoming or booking.slot.starts_at <= now - timedelta(minutes=1):
        return None
    if superseded(reminder, booking.slot.starts_at, config, now):
        return None
    when = dates.moment(booking.slot.starts_at, tz)
    fmt = _("rem-format-" + booking.slot.format)
    link = booking_room(video, booking, now)
    if reminder.params["role"] == "psychologist":
        text = _("rem-booking-psy").format(code=booking.teacher.pseudonym, when=when, format=fmt)
        way_in = booking_way_in(video, booking, now, psychologist=True)
        if way_in:
            text += "\n\n" + way_in
        if booking.note:  # decrypted from the booking into this message only
            text += "\n\n" + _("psy-notice-note").format(note=html.escape(booking.note, quote=False))
        return Rendered(
            text, InlineKeyboardMarkup(inline_keyboard=[r for r in (join_button(link), nav_row()) if r])
        )
    text = _("rem-booking-teacher").format(when=when, format=fmt, place=place(booking, video, now))
    return Rendered(text, teacher_markup(booking, link))


async def render_agenda(
    session: AsyncSession, reminder: Reminder, user: User, tz: ZoneInfo
) -> Rendered | None:
    profile = await booking_repo.profile_of(session, user.id)
    day = date.fromisoformat(reminder.params["day"])
    end = datetime.combine(day + timedelta(days=1), time(), tz)
    rows = await booking_repo.schedule(session, profile, utcnow(), end) if profile else []
    upcoming = [(slot, booking) for slot, booking in rows if booking is not None and booking.upcoming]
    if not upcoming:
        return None
    lines = [
        _("rem-agenda-line").format(
            time=f"{slot.starts_at.astimezone(tz):%H:%M}",
            code=booking.teacher.pseudonym,
            format=_("rem-format-" + slot.format),
        )
        for slot, booking in upcoming
    ]
    text = _("rem-agenda").format(date=dates.day(day), count=len(upcoming)) + "\n\n" + "\n".join(lines)
    builder = KeyboardBuilder()
    builder.button(text=_("menu-psy"), callback_data=cb.Menu(item="psy"))
    builder.row(*nav_row())
    return Rendered(text, builder.as_markup())


async def render_feedback(
    session: AsyncSession, reminder: Reminder, user: User, tz: ZoneInfo
) -> Rendered | None:
    """The rating prompt; None (dropped) unless attended and not rated yet: "attended" re-arms it."""
    booking = await booking_repo.booking_by_id(session, reminder.params["booking"])
    if booking is None or booking.state != ATTENDED or booking.rating is not None:
        return None
    builder = KeyboardBuilder()
    rating_buttons(builder, booking)
    builder.row(button(_("sess-book-same"), book_same_data(booking)))  # the same psychologist, two taps away
    builder.row(*nav_row())
    return Rendered(
        _("teacher-notice-rate").format(when=when(booking.slot.starts_at, tz, user.language)),
        builder.as_markup(),
    )


def renderers(video: VideoConfig, config: RemindersConfig) -> dict[str, Renderer]:
    return {
        KIND: partial(render_booking, video=video, config=config),
        AGENDA: render_agenda,
        FEEDBACK: render_feedback,
    }
