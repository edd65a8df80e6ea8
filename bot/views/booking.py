"""What the booking screens share: times in the bot's zone, texts about a booking, the .ics file,
and the notices to the other side (sent by the outbox, bot/workers/notices.py)."""

from __future__ import annotations

import html
from datetime import datetime
from zoneinfo import ZoneInfo

from aiogram import Bot
from aiogram.types import BufferedInputFile, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot.content.regions import region_name
from bot.telegram import callbacks as cb
from bot.telegram.i18n import plural
from bot.telegram.keyboards import KeyboardBuilder, button, urgent_row, with_nav
from bot.views import dates
from bot.views.ics import event_file
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
    """Where the session happens. The video link is given only once the time is booked."""
    profile = slot.psychologist
    if slot.format == "office":
        return _("place-office").format(address=esc(profile.address))
    if slot.format == "chat":
        return _("place-chat")
    if booked and profile.video_link:
        return _("place-video-link").format(link=esc(profile.video_link))
    return _("place-video-policy")


def slot_lines(slot: Slot, tz: ZoneInfo, language: str, *, booked: bool) -> str:
    return _("booking-slot-lines").format(
        name=esc(slot.psychologist.display_name),
        when=when(slot.starts_at, tz, language),
        minutes=slot.duration_min,
        format=format_name(slot.format),
        place=place_text(slot, booked=booked),
    )


def ics_document(booking: Booking, tz: ZoneInfo, language: str) -> BufferedInputFile:
    slot = booking.slot
    profile = slot.psychologist
    location = profile.address if slot.format == "office" else ""
    url = profile.video_link if slot.format == "video" and profile.video_link else ""
    description = _("ics-description").format(name=profile.display_name, format=format_name(slot.format))
    data = event_file(
        f"demeu-booking-{booking.id}@demeu",
        slot.starts_at,
        slot.ends_at,
        tz,
        _("ics-summary"),
        description,
        location or "",
        url,
    )
    return BufferedInputFile(
        data, filename="demeu-" + slot.starts_at.astimezone(tz).strftime("%Y%m%d-%H%M") + ".ics"
    )


async def send_ics(bot: Bot, booking: Booking, user: User, tz: ZoneInfo) -> None:
    """The .ics file, not protected: a protected file cannot be opened in a calendar app."""
    await bot.send_document(
        user.telegram_chat_id,
        ics_document(booking, tz, user.language),
        caption=_("book-ics-caption"),
        protect_content=False,
    )


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
