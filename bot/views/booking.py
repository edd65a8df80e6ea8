"""What the booking screens share: times in the bot's zone, texts about a booking, the .ics file,
and messages to the other side (sent only after the change is committed)."""

from __future__ import annotations

import contextlib
import html
import logging
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from babel.dates import format_date, format_datetime
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.content.regions import region_name
from bot.events import AfterCommit, UserErased
from bot.services.bookings import Bookings
from bot.telegram import callbacks as cb
from bot.telegram import delivery
from bot.telegram.keyboards import KeyboardBuilder, button, urgent_row, with_nav
from bot.views.ics import booking_document, send_document
from storage.models import Booking, PsychologistProfile, Slot, User
from storage.models.base import utcnow

log = logging.getLogger(__name__)


def esc(text: str | None) -> str:
    return html.escape(text or "", quote=False)


def when(moment: datetime, tz: ZoneInfo, language: str) -> str:
    return format_datetime(moment.astimezone(tz), "d MMMM, EEEE, HH:mm", tzinfo=tz, locale=language)


def day_label(day: date, language: str) -> str:
    return format_date(day, "EEE, d MMM", locale=language)


def day_title(day: date, language: str) -> str:
    return format_date(day, "d MMMM, EEEE", locale=language)


def hhmm(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%H:%M")


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
    return cb.Book(a=cb.BookAction.DAYS, f=booking.slot.format, r=booking.id, p=booking.slot.psychologist_id)


def book_same_data(booking: Booking) -> cb.Book:
    """Book again with the same psychologist: their free days at once (any psychologist one tap there)."""
    return cb.Book(a=cb.BookAction.DAYS, f=booking.slot.format, p=booking.slot.psychologist_id)


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


async def send_cancel_ics(bot: Bot, booking: Booking, tz: ZoneInfo, i18n: I18n | None = None) -> None:
    """The cancellation for the teacher's calendar (cancelled by either side), in their language;
    a teacher who blocked the bot is skipped (the notice before it recorded that)."""
    teacher = booking.teacher
    if not teacher.active:
        return
    with i18n.use_locale(teacher.language) if i18n is not None else contextlib.nullcontext():
        document = booking_document(booking, tz, cancelled=True)
        try:
            await send_document(bot, teacher, document, "sess-ics-cancel-caption")
        except (TelegramForbiddenError, TelegramBadRequest) as error:
            log.info("cancellation file to user=%s not delivered: %s", teacher.id, type(error).__name__)


# --- telling the other side ------------------------------------------------------------------------------


@dataclass
class Outgoing:
    """A message to send after commit; its text was made in the recipient's language."""

    user_id: int
    chat_id: int
    text: str
    markup: InlineKeyboardMarkup | None = None


async def send_all(
    bot: Bot, sessions: async_sessionmaker[AsyncSession] | None, outbox: list[Outgoing]
) -> None:
    for item in outbox:
        result = await delivery.send_message(
            bot, item.chat_id, item.text, reply_markup=item.markup, user_id=item.user_id, sessions=sessions
        )
        if not result.sent:
            log.info("booking notice to user=%s not delivered: %s", item.user_id, result.outcome)


def _in_language(i18n: I18n, user: User, render) -> Outgoing | None:
    if not user.active:
        return None
    with i18n.use_locale(user.language):
        text, markup = render(user.language)
    return Outgoing(user.id, user.telegram_chat_id, text, markup)


def psychologist_actions(booking: Booking) -> InlineKeyboardMarkup:
    builder = KeyboardBuilder()
    if booking.state == "booked":
        builder.button(text=_("psy-confirm"), callback_data=cb.Psy(a="bcf", id=booking.id))
    if booking.upcoming:
        builder.button(text=_("psy-cancel"), callback_data=cb.Psy(a="bcx", id=booking.id))
    builder.button(text=_("psy-open-booking"), callback_data=cb.Psy(a="bk", id=booking.id))
    builder.adjust(2, 1)
    return builder.as_markup()


def to_psychologist(
    i18n: I18n, booking: Booking, event: str, tz: ZoneInfo, previous: Slot | None = None
) -> Outgoing | None:
    """event: booked, rescheduled, cancelled, erased. The teacher's note is decrypted only into this text."""

    def render(language: str):
        slot = booking.slot
        parts = [_("psy-notice-" + event).format(code=booking.teacher.pseudonym)]
        if previous is not None:
            parts.append(_("psy-notice-was").format(when=when(previous.starts_at, tz, language)))
        parts.append(
            _("psy-notice-lines").format(
                when=when(slot.starts_at, tz, language), format=format_name(slot.format)
            )
        )
        if booking.late_cancel:
            parts.append(_("psy-notice-late"))
        if booking.note and event in ("booked", "rescheduled"):
            parts.append(_("psy-notice-note").format(note=esc(booking.note)))
        markup = psychologist_actions(booking) if booking.upcoming else None
        return "\n\n".join(parts), markup

    return _in_language(i18n, booking.slot.psychologist.user, render)


def to_teacher(i18n: I18n, booking: Booking, event: str, tz: ZoneInfo) -> Outgoing | None:
    """event: cancelled_by_psy (with the reason), confirmed, rate (after an attended session)."""

    def render(language: str):
        builder = KeyboardBuilder()
        text = _("teacher-notice-" + event).format(
            when=when(booking.slot.starts_at, tz, language),
            reason=esc(booking.cancel_reason or _("reason-none")),
        )
        if event == "rate":
            rating_buttons(builder, booking)
        elif event == "cancelled_by_psy":
            builder.button(text=_("book-again"), callback_data=cb.Menu(item=cb.Section.BOOK))
        else:
            builder.button(text=_("menu-mine"), callback_data=cb.Menu(item=cb.Section.MINE))
        builder.row(button(_("nav-main"), cb.Menu(item=cb.Section.MAIN)))
        return text, builder.as_markup()

    return _in_language(i18n, booking.teacher, render)


def rating_buttons(builder: KeyboardBuilder, booking: Booking) -> None:
    """1-5 stars for an attended booking (handled by handlers/teacher/mybookings.py)."""
    for stars in range(1, 6):
        builder.button(
            text="⭐" * stars, callback_data=cb.Mine(a=cb.MineAction.RATE, id=booking.id, stars=stars)
        )
    builder.adjust(1)


def only(*items: Outgoing | None) -> list[Outgoing]:
    return [item for item in items if item is not None]


# --- "delete my data" ------------------------------------------------------------------------------------


async def erase_teacher(event: UserErased, bookings: Bookings, i18n: I18n, tz: ZoneInfo) -> list[AfterCommit]:
    """Subscribed to UserErased: the teacher's upcoming bookings are cancelled; their psychologists
    are told once it is committed."""
    cancelled = await bookings.cancel_all_for_teacher(event.session, event.user, utcnow())
    outbox = only(*(to_psychologist(i18n, b, "erased", tz) for b in cancelled))

    async def tell(bot: Bot) -> None:
        await send_all(bot, None, outbox)

    return [tell] if outbox else []


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
    return _(key).format(count=count), with_nav(builder)
