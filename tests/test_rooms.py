"""Rooms and calendar identities (bot/services/rooms.py), without Telegram or a database: rooms are
random and never repeat, links are given only in their window, a psychologist's own link wins, and
with engine "own" there are no rooms at all."""

import re
from datetime import timedelta

from bot.config import VideoConfig
from bot.services import rooms
from storage.models import Booking, PsychologistProfile, Slot
from storage.models.base import utcnow

JITSI = VideoConfig()
OWN = VideoConfig(engine="own")


def booking(fmt: str = "video", profile_link: str | None = "https://meet.example.org/forever") -> Booking:
    profile = PsychologistProfile(video_link=profile_link)
    slot = Slot(format=fmt, starts_at=utcnow() + timedelta(minutes=30), duration_min=50, psychologist=profile)
    made = Booking(slot=slot, calendar_seq=0)
    rooms.prepare_booking(made)
    return made


def test_every_booking_gets_its_own_unguessable_room_and_calendar_uid():
    made = [booking() for _ in range(200)]
    assert len({b.room for b in made}) == 200 and len({b.calendar_uid for b in made}) == 200
    assert all(re.fullmatch(r"[a-z0-9]{20}", b.room) for b in made)
    link = rooms.booking_link(JITSI, made[0])
    assert link == f"https://meet.jit.si/{made[0].room}#config.startWithVideoMuted=true"
    assert "forever" not in link


def test_a_reschedule_keeps_the_calendar_event_one_version_up_with_a_new_room():
    old = booking()
    new = Booking(slot=old.slot)
    rooms.prepare_booking(new, old)
    assert (new.calendar_uid, new.calendar_seq) == (old.calendar_uid, 1) and new.room != old.room


def test_the_link_is_given_only_from_the_window_before_the_start_to_the_end():
    starts = utcnow() + timedelta(hours=2)
    ends = starts + timedelta(minutes=50)
    assert not rooms.open_now(JITSI, starts, ends, starts - timedelta(minutes=61))
    assert rooms.open_now(JITSI, starts, ends, starts - timedelta(minutes=60))
    assert rooms.open_now(JITSI, starts, ends, ends - timedelta(seconds=1))
    assert not rooms.open_now(JITSI, starts, ends, ends)


def test_a_psychologists_own_link_for_a_slot_and_the_engine_own():
    made = booking()
    assert not rooms.set_slot_link(made.slot, "http://insecure.example.org/x")
    assert not rooms.set_slot_link(made.slot, "https://two words.org")
    assert rooms.set_slot_link(made.slot, " https://meet.example.org/just-once ")
    assert rooms.booking_link(JITSI, made) == "https://meet.example.org/just-once"
    assert rooms.set_slot_link(made.slot, "-") and made.slot.video_link is None
    assert rooms.booking_link(OWN, made) == "https://meet.example.org/forever"
    assert rooms.booking_link(OWN, booking(profile_link=None)) is None
    assert rooms.booking_link(JITSI, booking("office")) is None
