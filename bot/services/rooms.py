"""Private video rooms and calendar identities.

Every booking and every online group session gets its own room on the configured video engine
(`[video]`, Jitsi Meet by default): a name of 20 random letters and digits (about 103 bits, from
`secrets`, never derived from an id), sealed in its row, never given to another booking — a
reschedule is a new booking and gets a new room. A psychologist may give their own link for a
slot instead; with `engine = "own"` only such links are used (the slot's, else the profile's).

The link is given only to the two sides of a booking (or a session's enrolled teachers and its
facilitator), and only from `[video] link_minutes` before the start until its end: a teacher who
would come back to an old message finds nothing there to walk into.

Calendar UIDs are random too (a UID in a calendar a school may manage must not count bookings),
kept by a booking across reschedules with a SEQUENCE one higher each time.
"""

from __future__ import annotations

import secrets
import string
from datetime import datetime

from bot.config import VideoConfig
from bot.services.profiles import valid_link
from storage.models import Booking, GroupSeat, GroupSession, Slot

ALPHABET = string.ascii_lowercase + string.digits
ROOM_LENGTH = 20


def new_room() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(ROOM_LENGTH))


def new_calendar_uid() -> str:
    return secrets.token_hex(16) + "@demeu"


def room_url(config: VideoConfig, room: str) -> str:
    url = f"{config.base_url}/{room}"
    return url + "#config.startWithVideoMuted=true" if config.camera_off else url


def open_now(config: VideoConfig, starts_at: datetime, ends_at: datetime, now: datetime) -> bool:
    """Whether the way in is given now: from `link_minutes` before the start to the end."""
    return starts_at - config.link_window <= now < ends_at


def prepare_booking(booking: Booking, previous: Booking | None = None) -> None:
    """A new booking's own room and its calendar identity (a reschedule keeps the UID, one SEQUENCE up)."""
    booking.room = new_room()
    if previous is not None:
        booking.calendar_uid = calendar_uid(previous)
        booking.calendar_seq = (previous.calendar_seq or 0) + 1
    else:
        booking.calendar_uid, booking.calendar_seq = new_calendar_uid(), 0


def calendar_uid(booking: Booking) -> str:
    """Bookings made before calendar UIDs were random keep the UID their file was given then."""
    return booking.calendar_uid or f"demeu-booking-{booking.id}@demeu"


def booking_link(config: VideoConfig, booking: Booking) -> str | None:
    """The video link of a booking: the slot's own link, else its room (or, with engine "own",
    the psychologist's profile link). Not for other formats."""
    slot = booking.slot
    if slot.format != "video":
        return None
    if slot.video_link:
        return slot.video_link
    if config.engine == "own":
        return slot.psychologist.video_link or None
    if booking.room is None:  # a booking made before rooms existed gets one when first needed
        booking.room = new_room()
    return room_url(config, booking.room)


def set_slot_link(slot: Slot, text: str) -> bool:
    """A psychologist's own link for one slot instead of a room ("-" or empty: the room again);
    False, nothing set, for a link that is not a valid https address."""
    value = text.strip()
    if value in ("", "-"):
        slot.video_link = None
        return True
    if not valid_link(value):
        return False
    slot.video_link = value
    return True


def group_link(config: VideoConfig, group: GroupSession) -> str | None:
    if group.format != "online" or config.engine == "own":
        return None
    if group.room is None:
        group.room = new_room()
    return room_url(config, group.room)


def seat_calendar(seat: GroupSeat) -> tuple[str, int]:
    """A seat's calendar UID (made once, kept when the teacher leaves and comes back) and SEQUENCE."""
    if seat.calendar_uid is None:
        seat.calendar_uid, seat.calendar_seq = new_calendar_uid(), 0
    return seat.calendar_uid, seat.calendar_seq or 0
