"""Notices: the durable outbox for what tells someone about a change to a booking.

A notice is a row of the reminders table due at once, written by `follow` (subscribed to
BookingChanged in bot/app.py) in the change's own transaction: the booking and its notice commit
or roll back together. The reminder worker sends it once the transaction commits (it is woken by
the commit) with its delivery rules: 429 waits, 5xx backoff and later tries, 403 stops, claims
across replicas, dead after `max_attempts`. So a notice is never lost to a Telegram error, and
the screens say the other side "will be notified".

    booked          -> the psychologist (with the teacher's note), and the teacher's .ics file
    rescheduled     -> the psychologist (was / now), and the teacher's .ics update (same UID)
    cancelled by the teacher          -> the psychologist; the teacher's .ics cancellation
    cancelled by the psychologist     -> the teacher, with the reason, and the .ics cancellation
    cancelled by a deactivation       -> the teacher (the psychologist no longer receives), and
                                         the .ics cancellation
    confirmed by the psychologist     -> the teacher
    the teacher deleted their data    -> the psychologist (`erase_teacher`)

Other changes write their notices with `notice()` (kinds "notice-<name>", renderers next to the
feature, all in RENDERERS of bot/app.py): group seats offered, lapsed, a session cancelled, a
rating asked (bot/workers/groups.py); a question (or a crisis hand-off) announced to
psychologists, taken, answered with its title and the copy of the answer
(handlers/common/questions.py, handlers/common/safety.py); the chats a
deactivation ended (bot/workers/chat_notices.py) and the psychologist deactivated or reactivated
(handlers/coordinator/staff.py).

Params name the booking only ("booking": id; sealed like every reminder's params); the text is
made when it is sent, in the recipient's language, from the booking as it is then (the note is
decrypted into the message only). Keys are "notice:<name>:<booking id>", so a replayed event adds
nothing. Each notice expires when the session starts. A notice about a booking that no longer
holds (a "booked" for a booking cancelled or moved meanwhile) is dropped: the later notice tells.
After "delete my data" the booking is gone, so that one notice carries the code, time and format.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.events import BookingChange, BookingChanged, UserErased
from bot.services.bookings import Bookings
from bot.views import booking as views
from bot.views import ics
from bot.workers.reminders import Rendered, Renderer, main_menu_markup
from storage.models import Booking, Reminder, User
from storage.models.base import utcnow
from storage.repo import booking as booking_repo
from storage.repo import reminders as repo
from storage.repo import staff as staff_repo

PREFIX = "notice-"
# name -> who is told ("psychologist" or "teacher")
TO = {
    "booked": "psychologist",
    "rescheduled": "psychologist",
    "cancelled": "psychologist",
    "erased": "psychologist",
    "cancelled_by_psy": "teacher",
    "psy_off": "teacher",
    "confirmed": "teacher",
    "ics": "teacher",
    "ics_cancel": "teacher",
}
KINDS = tuple(PREFIX + name for name in TO)


def key(name: str, booking_id: int | str) -> str:
    return f"notice:{name}:{booking_id}"


def notice(
    name: str,
    ident: int | str,
    recipient: int,
    params: dict,
    *,
    expires_at: datetime | None = None,
    after: int = 0,
) -> repo.Planned:
    """A notice of any other change (group seats, questions, a deactivation), due now (`after`
    milliseconds later: the order of one recipient's notices); its kind's renderer is in RENDERERS."""
    due = utcnow() + timedelta(milliseconds=after)
    return repo.Planned(key(name, ident), recipient, due, PREFIX + name, params, expires_at=expires_at)


def planned(booking: Booking, name: str, params: dict | None = None) -> repo.Planned:
    recipient = booking.slot.psychologist.user_id if TO[name] == "psychologist" else booking.teacher_id
    return repo.Planned(
        key(name, booking.id),
        recipient,
        utcnow(),
        PREFIX + name,
        params or {"booking": booking.id},
        expires_at=booking.slot.starts_at,
    )


def names_for(booking: Booking, change: BookingChange) -> list[str]:
    if change is BookingChange.BOOKED:
        return ["booked", "ics"]
    if change is BookingChange.RESCHEDULED:
        return ["rescheduled", "ics"]
    if change is BookingChange.CONFIRMED:
        return ["confirmed"]
    if change is BookingChange.CANCELLED and booking.cancelled_by == "teacher":
        return ["cancelled", "ics_cancel"]
    if change is BookingChange.CANCELLED:
        told = "cancelled_by_psy" if staff_repo.is_active(booking.slot.psychologist) else "psy_off"
        return [told, "ics_cancel"]
    return []


async def follow(event: BookingChanged) -> list[repo.Planned]:
    """Subscribed to BookingChanged (bot/app.py): the notices of a change, written in its
    transaction with its reminders (bot/services/bookings.py)."""
    return [planned(event.booking, name) for name in names_for(event.booking, event.change)]


async def erase_teacher(event: UserErased, bookings: Bookings) -> None:
    """Subscribed to UserErased: the teacher's upcoming bookings are cancelled; their psychologists
    are told so, from what the notice carries (the booking goes with the teacher's row)."""
    session = event.session
    for booking in await bookings.cancel_all_for_teacher(session, event.user, utcnow()):
        await repo.cancel(session, key("cancelled", booking.id))
        slot = booking.slot
        params = {"code": event.user.pseudonym, "at": slot.starts_at.isoformat(), "f": slot.format}
        await repo.schedule_all(session, [planned(booking, "erased", params)])


def to_psychologists(
    question_id: int, psychologist_ids: Iterable[int], mute_hours: Sequence[int]
) -> list[repo.Planned]:
    """The notices of a question (or of a crisis hand-off: the same rows, told apart only when
    rendered, as the question rows are) to the psychologists who may take it."""
    params = {"question": question_id, "mute": list(mute_hours)}
    return [notice("ask", f"{question_id}:{user_id}", user_id, params) for user_id in psychologist_ids]


# --- rendered when sent, in the recipient's language ---------------------------------------------------


async def _booking(session: AsyncSession, reminder: Reminder, *, holding: bool = False) -> Booking | None:
    booking = await booking_repo.noticed_booking(session, reminder.params["booking"])
    if booking is None or (holding and not booking.upcoming):
        return None
    return booking


def _to_psychologist(name: str, *, holding: bool) -> Renderer:
    async def render(session: AsyncSession, reminder: Reminder, user: User, tz: ZoneInfo) -> Rendered | None:
        booking = await _booking(session, reminder, holding=holding)
        if booking is None:
            return None
        previous = None
        if name == "rescheduled" and booking.previous_id is not None:
            old = await booking_repo.noticed_booking(session, booking.previous_id)
            previous = old.slot if old is not None else None
        text, markup = views.psychologist_notice(booking, name, tz, user.language, previous)
        return Rendered(text, markup or main_menu_markup())

    return render


def _to_teacher(name: str) -> Renderer:
    async def render(session: AsyncSession, reminder: Reminder, user: User, tz: ZoneInfo) -> Rendered | None:
        booking = await _booking(session, reminder, holding=name == "confirmed")
        if booking is None:
            return None
        return Rendered(*views.teacher_notice(booking, name, tz, user.language))

    return render


async def render_ics(session: AsyncSession, reminder: Reminder, user: User, tz: ZoneInfo) -> Rendered | None:
    """The .ics file of a booking just made or moved (the same calendar event, updated), not
    protected: a protected file cannot be opened in a calendar app."""
    booking = await _booking(session, reminder, holding=True)
    if booking is None:
        return None
    caption = "book-ics-caption" if booking.previous_id is None else "sess-ics-update-caption"
    return Rendered(_(caption), document=ics.booking_document(booking, tz), protect_content=False)


async def render_ics_cancel(
    session: AsyncSession, reminder: Reminder, user: User, tz: ZoneInfo
) -> Rendered | None:
    """The cancellation for the teacher's calendar, whoever cancelled."""
    booking = await _booking(session, reminder)
    if booking is None:
        return None
    document = ics.booking_document(booking, tz, cancelled=True)
    return Rendered(_("sess-ics-cancel-caption"), document=document, protect_content=False)


async def render_erased(
    session: AsyncSession, reminder: Reminder, user: User, tz: ZoneInfo
) -> Rendered | None:
    params = reminder.params
    lines = views.notice_lines(datetime.fromisoformat(params["at"]), params["f"], tz, user.language)
    text = _("psy-notice-erased").format(code=params["code"]) + "\n\n" + lines
    return Rendered(text, main_menu_markup())


RENDERERS: dict[str, Renderer] = {
    PREFIX + "booked": _to_psychologist("booked", holding=True),
    PREFIX + "rescheduled": _to_psychologist("rescheduled", holding=True),
    PREFIX + "cancelled": _to_psychologist("cancelled", holding=False),
    PREFIX + "erased": render_erased,
    PREFIX + "cancelled_by_psy": _to_teacher("cancelled_by_psy"),
    PREFIX + "psy_off": _to_teacher("psy_off"),
    PREFIX + "confirmed": _to_teacher("confirmed"),
    PREFIX + "ics": render_ics,
    PREFIX + "ics_cancel": render_ics_cancel,
}
