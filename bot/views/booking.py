"""What the booking screens share: times in the bot's zone, texts about a booking, the .ics file,
and the notices to the other side (sent by the outbox, bot/workers/notices.py)."""

from __future__ import annotations

import html
from datetime import datetime
from zoneinfo import ZoneInfo

from aiogram import Bot
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot.content.regions import region_name
from bot.telegram import callbacks as cb
from bot.telegram.i18n import plural
from bot.telegram.keyboards import KeyboardBuilder, button, urgent_row, with_nav
from bot.views import dates
from bot.views.ics import booking_document, send_document
from storage.models import Booking, PsychologistProfile, Slot, User


def esc(text: str | None) -> str:
    return html.escape(text or "", quote=False)


# The one date style (bot/views/dates.py), under the names booking screens know it by.
when = dates.moment
day_label = day_title = dates.day
hhmm = dates.time


def format_name(fmt: str) -> str:
    return _("bk-format-" + fmt)


def privacy_text(fmt: str) -> str:
    """What the psychologist sees and hears in this format, and how to stay private in it."""
    return _("bk-privacy-" + fmt)


def place_text(slot: Slot, *, booked: bool) -> str:
    """Where the session happens. A video link is never here: bot/views/rooms.py gives it shortly before the start."""
    profile = slot.psychologist
    if slot.format == "office":
        return _("place-office").format(address=esc(profile.address))
    if slot.format == "chat":
        return _("place-chat")
    return _("sess-video-room")  # its own room; the link comes shortly before the start (bot/views/rooms.py)


def move_data(booking: Booking) -> cb.Book:
    """Reschedule: the same psychologist's times first ("any psychologist" is one tap there)."""
    return cb.Book(a=cb.BookAction.FIND, f=booking.slot.format, r=booking.id, p=booking.slot.psychologist_id)


def book_same_data(booking: Booking) -> cb.Book:
    """Book again with the same psychologist: their free days at once (any psychologist one tap there)."""
    return cb.Book(a=cb.BookAction.FIND, f=booking.slot.format, p=booking.slot.psychologist_id)


def slot_lines(slot: Slot, tz: ZoneInfo, language: str, *, booked: bool) -> str:
    return _("booking-slot-lines").format(
        name=esc(slot.psychologist.display_name),
        when=when(slot.starts_at, tz, language),
        minutes=slot.duration_min,
        format=format_name(slot.format),
        place=place_text(slot, booked=booked),
    )


async def send_ics(
    bot: Bot, booking: Booking, user: User, tz: ZoneInfo, caption: str = "book-ics-caption"
) -> None:
    """The .ics file (bot/views/ics.py), not protected: a protected file cannot be opened in a calendar app."""
    await send_document(bot, user, booking_document(booking, tz), caption)


# --- telling the other side (rendered at send time by bot/workers/notices.py) ----------------------------


def psychologist_actions(booking: Booking) -> InlineKeyboardMarkup:
    builder = KeyboardBuilder()
    if booking.state == "booked":
        builder.button(text=_("psy-confirm"), callback_data=cb.Psy(a="bcf", id=booking.id))
    if booking.upcoming:
        builder.button(text=_("psy-cancel"), callback_data=cb.Psy(a="bcx", id=booking.id))
    builder.button(text=_("psy-open-booking"), callback_data=cb.Psy(a="bk", id=booking.id))
    builder.adjust(2, 1)
    return builder.as_markup()


def notice_lines(starts_at: datetime, fmt: str, tz: ZoneInfo, language: str) -> str:
    return _("psy-notice-lines").format(when=when(starts_at, tz, language), format=format_name(fmt))


def psychologist_notice(
    booking: Booking, event: str, tz: ZoneInfo, language: str, previous: Slot | None = None
) -> tuple[str, InlineKeyboardMarkup | None]:
    """event: booked, rescheduled, cancelled. The teacher's note is decrypted only into this text."""
    slot = booking.slot
    parts = [_("psy-notice-" + event).format(code=booking.teacher.pseudonym)]
    if previous is not None:
        parts.append(_("psy-notice-was").format(when=when(previous.starts_at, tz, language)))
    parts.append(notice_lines(slot.starts_at, slot.format, tz, language))
    if booking.late_cancel:
        parts.append(_("psy-notice-late"))
    if booking.note and event in ("booked", "rescheduled"):
        parts.append(_("psy-notice-note").format(note=esc(booking.note)))
    return "\n\n".join(parts), psychologist_actions(booking) if booking.upcoming else None


def teacher_notice(
    booking: Booking, event: str, tz: ZoneInfo, language: str
) -> tuple[str, InlineKeyboardMarkup]:
    """event: cancelled_by_psy (with the reason), psy_off (the psychologist left), confirmed."""
    builder = KeyboardBuilder()
    text = _("teacher-notice-" + event).format(
        when=when(booking.slot.starts_at, tz, language),
        reason=esc(booking.cancel_reason or _("reason-none")),
    )
    if event in ("cancelled_by_psy", "psy_off"):
        builder.button(text=_("book-again"), callback_data=cb.Menu(item=cb.Section.BOOK))
    else:
        builder.button(text=_("menu-mine"), callback_data=cb.Menu(item=cb.Section.MINE))
    builder.row(button(_("nav-main"), cb.Menu(item=cb.Section.MAIN)))
    return text, builder.as_markup()


def rating_buttons(builder: KeyboardBuilder, booking: Booking) -> None:
    """1-5 stars for an attended booking (handled by handlers/teacher/mybookings.py)."""
    for stars in range(1, 6):
        builder.button(
            text="⭐" * stars, callback_data=cb.Mine(a=cb.MineAction.RATE, id=booking.id, stars=stars)
        )
    builder.adjust(1)


def profile_summary(profile: PsychologistProfile, language: str) -> str:
    regions = ", ".join(region_name(code, language) or code for code in profile.region_list) or "—"
    return _("psy-profile-lines").format(
        name=esc(profile.display_name) or "—",
        languages=", ".join(_("bk-lang-" + code) for code in profile.language_list) or "—",
        formats=", ".join(format_name(code) for code in profile.format_list) or "—",
        regions=regions,
        address=esc(profile.address) or "—",
        link=esc(profile.video_link) or "—",
        bio_kk=esc(profile.bio_kk) or "—",
        bio_ru=esc(profile.bio_ru) or "—",
    )


def daily_limit(key: str, count: int) -> tuple[str, InlineKeyboardMarkup]:
    """A day's bookings or cancellations used up: the teacher's bookings and Urgent help one tap away."""
    builder = KeyboardBuilder()
    builder.button(text=_("menu-mine"), callback_data=cb.Menu(item=cb.Section.MINE))
    builder.row(*urgent_row())
    return plural(key, count).format(count=count), with_nav(builder)
