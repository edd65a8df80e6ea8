"""Calendar files (RFC 5545) for consultations and group seats, in the bot's time zone, that stay true.

Times are written as local times with a TZID and the matching VTIMEZONE, so a phone shows
the session at the same wall-clock time the bot showed, whatever zone the phone is in.

- One event per booking and per group seat, under a random UID (bot/services/rooms.py) kept for
  good: a reschedule sends the same UID with a SEQUENCE one higher (the calendar moves the event),
  a cancel by either side sends METHOD:CANCEL with STATUS:CANCELLED (the calendar drops it).
- Neutral by default: the title is «Demeu» alone, with no format, no "psychologist" and no names,
  no address and no link (a school may manage the calendar; titles show on lock screens). A
  teacher may choose detailed titles in Settings (`User.calendar_detail`, sealed in `users.prefs`). The video link is never
  written into a file: it reaches only the two sides, in the bot, shortly before the start.

`booking_document` and `group_document` are what any sender calls (a handler now, the notice
renderer of the reminders outbox later): the file for a booking or a seat, as it stands or cancelled.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.types import BufferedInputFile
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from icalendar import Timezone, vDuration, vText
from icalendar.parser import Contentline
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.rooms import calendar_uid, seat_calendar
from storage.models import Booking, GroupSeat, GroupSession, User
from storage.models.base import utcnow
from storage.repo import groups as groups_repo

log = logging.getLogger(__name__)

PRODID = "-//Demeu//Sessions//KK-RU"
REMIND_BEFORE = timedelta(hours=1)
ORGANIZER = "mailto:noreply@demeu.invalid"


def event_file(
    uid: str,
    starts_at: datetime,
    ends_at: datetime,
    tz: ZoneInfo,
    summary: str,
    description: str = "",
    location: str = "",
    *,
    sequence: int = 0,
    cancelled: bool = False,
) -> bytes:
    """The calendar, written line by line as icalendar writes it (its property order, escapes
    and folding; tests/test_ics.py compares the two): building it with icalendar's objects took
    more than the rest of sending it."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:" + _text(PRODID),
        "METHOD:" + ("CANCEL" if cancelled else "PUBLISH"),
        "BEGIN:VEVENT",
        "SUMMARY:" + _text(summary),
        f"DTSTART;TZID={tz.key}:{starts_at.astimezone(tz):{LOCAL_TIME}}",
        f"DTEND;TZID={tz.key}:{ends_at.astimezone(tz):{LOCAL_TIME}}",
        f"DTSTAMP:{utcnow():{LOCAL_TIME}}Z",
        "UID:" + _text(uid),
        f"SEQUENCE:{sequence}",
    ]
    if description:
        lines.append("DESCRIPTION:" + _text(description))
    if location:
        lines.append("LOCATION:" + _text(location))
    if cancelled:  # iTIP (RFC 5546) wants the organizer on a CANCEL; a reserved domain, no mail goes anywhere
        lines.append("ORGANIZER;CN=Demeu:" + ORGANIZER)
    lines.append("STATUS:" + ("CANCELLED" if cancelled else "CONFIRMED"))
    if not cancelled:
        alarm = ["BEGIN:VALARM", "ACTION:DISPLAY", "DESCRIPTION:" + _text(summary), TRIGGER, "END:VALARM"]
        lines.extend(alarm)
    lines.append("END:VEVENT")
    body = b"".join(_folded(line) + b"\r\n" for line in lines)
    # The zone's block is the same in every file; RFC 5545 lets it stand anywhere in the calendar.
    return body + _vtimezone(tz.key) + b"END:VCALENDAR\r\n"


LOCAL_TIME = "%Y%m%dT%H%M%S"
TRIGGER = "TRIGGER:" + vDuration(-REMIND_BEFORE).to_ical().decode()


def _text(value: str) -> str:
    """A TEXT value (RFC 5545 3.3.11) escaped."""
    return vText(value).to_ical().decode()


def _folded(line: str) -> bytes:
    """Lines of at most 75 octets (RFC 5545 3.1); most are shorter, and are left as they are."""
    encoded = line.encode()
    return encoded if len(encoded) < FOLD_AT else Contentline(line).to_ical()


FOLD_AT = 75


@functools.lru_cache(maxsize=8)
def _vtimezone(tzid: str) -> bytes:
    """The zone's VTIMEZONE block, made once: icalendar derives it from the tz database and
    writes it out in several ms, which would be most of a booking's time."""
    return Timezone.from_tzid(tzid).to_ical()


def _document(
    uid: str,
    starts_at: datetime,
    ends_at: datetime,
    tz: ZoneInfo,
    texts: tuple[str, str, str],
    sequence: int,
    cancelled: bool,
) -> BufferedInputFile:
    """The event (its summary, description and location) as a named .ics file to send."""
    summary, description, location = texts
    data = event_file(
        uid, starts_at, ends_at, tz, summary, description, location, sequence=sequence, cancelled=cancelled
    )
    stem = "demeu-" + starts_at.astimezone(tz).strftime("%Y%m%d-%H%M")
    return BufferedInputFile(data, filename=stem + ("-cancel" if cancelled else "") + ".ics")


def booking_document(booking: Booking, tz: ZoneInfo, *, cancelled: bool = False) -> BufferedInputFile:
    """The booking's event (in the current locale): as it stands, or its cancellation."""
    slot, detail = booking.slot, booking.teacher.calendar_detail
    summary, description, location = _("sess-ics-title"), _("sess-ics-neutral-note"), ""
    if detail:
        summary = _("sess-ics-title-detail").format(format=_("bk-format-" + slot.format))
        description = _("sess-ics-detail").format(name=slot.psychologist.display_name)
        location = slot.psychologist.address or "" if slot.format == "office" else ""
    # A cancel is one step past the last version the teacher was sent.
    sequence = (booking.calendar_seq or 0) + (1 if cancelled else 0)
    texts = (summary, description, location)
    return _document(calendar_uid(booking), slot.starts_at, slot.ends_at, tz, texts, sequence, cancelled)


def group_document(
    group: GroupSession, seat: GroupSeat, teacher: User, tz: ZoneInfo, *, cancelled: bool = False
) -> BufferedInputFile:
    """A group seat's event; a cancellation raises the seat's SEQUENCE, so coming back later sends a
    newer version of the same event."""
    uid, sequence = seat_calendar(seat)
    if cancelled:
        seat.calendar_seq = sequence = sequence + 1
    summary, description, location = _("sess-ics-title"), _("sess-ics-neutral-note"), ""
    if teacher.calendar_detail:
        summary = _("sess-ics-group-detail").format(title=group.title(teacher.language))
        location = group.place or "" if group.format == "offline" else ""
    ends_at = group.starts_at + timedelta(minutes=group.duration_min)
    return _document(uid, group.starts_at, ends_at, tz, (summary, description, location), sequence, cancelled)


async def send_document(bot: Bot, user: User, document: BufferedInputFile, caption_key: str) -> None:
    """The .ics file, not protected: a protected file cannot be opened in a calendar app."""
    await send_made(bot, Made(user, document, _(caption_key)))


@dataclass(frozen=True)
class Made:
    """A calendar file made in its recipient's language, to send after commit."""

    user: User
    document: BufferedInputFile
    caption: str


async def send_made(bot: Bot, made: Made) -> None:
    await bot.send_document(
        made.user.telegram_chat_id, made.document, caption=made.caption, protect_content=False
    )


async def group_cancellations(
    session: AsyncSession, group: GroupSession, i18n: I18n, tz: ZoneInfo
) -> list[Made]:
    """A whole session called off: the cancellation for each seat that was given a calendar file
    (call before the seats are cancelled; their SEQUENCE is raised in the caller's transaction)."""
    made = []
    for seat, teacher in await groups_repo.calendar_seats(session, group.id):
        if teacher.active:
            with i18n.use_locale(teacher.language):
                document = group_document(group, seat, teacher, tz, cancelled=True)
                made.append(Made(teacher, document, _("sess-ics-cancel-caption")))
    return made


async def send_all_made(bot: Bot, made: list[Made]) -> None:
    """After commit; one recipient who blocked the bot does not stop the others."""
    for item in made:
        try:
            await send_made(bot, item)
        except (TelegramForbiddenError, TelegramBadRequest) as error:
            log.info("calendar file to user=%s not delivered: %s", item.user.id, type(error).__name__)
