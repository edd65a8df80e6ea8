"""Individual consultations: psychologists' profiles, their slots and teachers' bookings.

What is plain and why: times, durations, formats, languages and region codes (to find free
slots with SQL), a booking's state (schedules, counts). Free text is encrypted: the
psychologist's display name, bio, address and video link, the teacher's note and intake, a
cancel reason, a rating and its comment; sealed too, with one size in every booking, which self-check
results the teacher showed its psychologist. A booking names the teacher only by the users row (and through
it the pseudonym); Telegram identities never appear here.

One slot holds at most one live booking: `holds` is true while a booking occupies its slot
(booked, confirmed, attended, no-show) and a partial unique index on `slot_id` where `holds`
makes the database refuse a second one, whatever the races between handlers or replicas.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, SmallInteger, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base, utcnow
from storage.models.core import User
from storage.models.practice import INTAKE_SIZE
from storage.types import EncryptedJSON, EncryptedText, UTCDateTime, text_size

FORMATS = ("video", "chat", "office")
LANGUAGES = ("kk", "ru")

# Booking states. A booking "holds" its slot in the first four.
BOOKED, CONFIRMED, ATTENDED, NO_SHOW = "booked", "confirmed", "attended", "no_show"
CANCELLED, MOVED = "cancelled", "moved"
UPCOMING_STATES = (BOOKED, CONFIRMED)

# What may be typed, in UTF-16 code units (Telegram's measure); the encrypted columns are padded to it.
NOTE_LIMIT = 500  # the teacher's note to the psychologist
REASON_LIMIT = 300  # why a consultation was cancelled
COMMENT_LIMIT = 500  # a rating's comment
# A rating (1-5 stars, a seat's score, a chat's 0/1), sealed as JSON in every row of its table:
# "not rated" is a sealed None of the same size, so neither a score nor the fact of rating shows.
RATING_SIZE = 16
STAFF_TEXT_SIZE = 256  # staff profile texts grow in steps of this: no teacher's choice shows in them
ROOM_SIZE = 64  # a video room's name (random, bot/services/rooms.py)
CALENDAR_UID_SIZE = 48  # a calendar event's random UID (sealed: a stable random value would tell rows apart)
SHARED_LIMIT = 40  # self-check results a teacher may show the psychologist of one booking
SHARED_SIZE = 512  # their ids (up to ten digits and a comma each) as a JSON list, padded to one size


def split_codes(value: str | None) -> list[str]:
    return [code for code in (value or "").split(",") if code]


class PsychologistProfile(Base):
    __tablename__ = "psychologist_profiles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    display_name: Mapped[str] = mapped_column(EncryptedText(STAFF_TEXT_SIZE, grows=True))
    # Comma-separated codes: "kk,ru"; "video,chat,office"; "KZ-61,KZ-75".
    languages: Mapped[str] = mapped_column(String(16), default="")
    formats: Mapped[str] = mapped_column(String(32), default="")
    regions: Mapped[str] = mapped_column(String(256), default="")
    address: Mapped[str | None] = mapped_column(EncryptedText(STAFF_TEXT_SIZE, grows=True))
    video_link: Mapped[str | None] = mapped_column(EncryptedText(STAFF_TEXT_SIZE, grows=True))
    bio_kk: Mapped[str | None] = mapped_column(EncryptedText(STAFF_TEXT_SIZE, grows=True))
    bio_ru: Mapped[str | None] = mapped_column(EncryptedText(STAFF_TEXT_SIZE, grows=True))
    # Shown to teachers only when the profile is complete enough to be booked.
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    # Created by `python -m bot seed-demo`; removed by `seed-demo --remove`.
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    # "On duty now" (urgent questions and crisis hand-offs come first to them) until this moment.
    on_duty_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Accepts bookings up to [booking] urgent_notice_minutes before the start (the earliest help).
    short_notice: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(lazy="joined")

    @property
    def language_list(self) -> list[str]:
        return split_codes(self.languages)

    @property
    def format_list(self) -> list[str]:
        return split_codes(self.formats)

    @property
    def region_list(self) -> list[str]:
        return split_codes(self.regions)

    def bio(self, language: str) -> str:
        own = self.bio_kk if language == "kk" else self.bio_ru
        return own or self.bio_ru or self.bio_kk or ""


class Slot(Base):
    __tablename__ = "booking_slots"
    __table_args__ = (
        UniqueConstraint("psychologist_id", "starts_at", name="uq_booking_slots_psychologist_start"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    psychologist_id: Mapped[int] = mapped_column(ForeignKey("psychologist_profiles.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    duration_min: Mapped[int] = mapped_column(SmallInteger)
    format: Mapped[str] = mapped_column(String(8))
    # A removed slot keeps its past bookings' history but is never offered again.
    removed: Mapped[bool] = mapped_column(Boolean, default=False)
    # The psychologist's own link for this slot (instead of a room of the video engine).
    video_link: Mapped[str | None] = mapped_column(EncryptedText(STAFF_TEXT_SIZE, grows=True))

    psychologist: Mapped[PsychologistProfile] = relationship(lazy="joined")

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.duration_min)


class Booking(Base):
    __tablename__ = "bookings"
    __table_args__ = (
        Index(
            "uq_bookings_slot_holds",
            "slot_id",
            unique=True,
            sqlite_where=text("holds"),
            postgresql_where=text("holds"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("booking_slots.id", ondelete="CASCADE"))
    teacher_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(12), default=BOOKED)
    holds: Mapped[bool] = mapped_column(Boolean, default=True)
    note: Mapped[str | None] = mapped_column(EncryptedText(text_size(NOTE_LIMIT)))
    # The booking this one replaced (a reschedule); the old one is then MOVED.
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id", ondelete="SET NULL"))
    cancelled_by: Mapped[str | None] = mapped_column(String(12))  # "teacher" or "psychologist"
    cancel_reason: Mapped[str | None] = mapped_column(EncryptedText(text_size(REASON_LIMIT)))
    late_cancel: Mapped[bool] = mapped_column(Boolean, default=False)
    rating: Mapped[int | None] = mapped_column(EncryptedJSON(RATING_SIZE))
    rating_comment: Mapped[str | None] = mapped_column(EncryptedText(text_size(COMMENT_LIMIT)))
    # The booking's own video room (random, never reused; a reschedule gets a new one). Sealed:
    # a copy of the database must not let anyone into a session.
    room: Mapped[str | None] = mapped_column(EncryptedText(ROOM_SIZE))
    # The calendar event: a random UID kept across reschedules, and its SEQUENCE (bot/views/ics.py).
    calendar_uid: Mapped[str | None] = mapped_column(EncryptedText(CALENDAR_UID_SIZE))
    calendar_seq: Mapped[int] = mapped_column(SmallInteger, default=0)
    # The teacher's intake before a first session, for its psychologist only (bot/services/practice.py):
    # {"k": [topic codes], "t": free text, "l": preferred language, "u": urgency 0-2, "b": been before}.
    # Every booking holds one token of the same size, None (no intake) sealed like any answers.
    intake: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON(INTAKE_SIZE))
    # The self-check results the teacher showed this booking's psychologist, each sent once
    # (storage.repo.selfcheck.share): a sealed list of result ids in every booking, [] for most.
    shared: Mapped[list[int]] = mapped_column(EncryptedJSON(SHARED_SIZE), nullable=True, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    slot: Mapped[Slot] = relationship(lazy="joined")
    teacher: Mapped[User] = relationship(lazy="joined")

    @property
    def upcoming(self) -> bool:
        return self.state in UPCOMING_STATES


class BookingWait(Base):
    """A teacher's "tell me when a time opens" for individual consultations with these filters;
    deleted once they are told (bot/workers/waitlist.py), so they are told once."""

    __tablename__ = "booking_waits"
    __table_args__ = (
        UniqueConstraint(
            "teacher_id", "format", "language", "region", "psychologist_id", name="uq_booking_waits"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    teacher_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    format: Mapped[str] = mapped_column(String(8))
    language: Mapped[str] = mapped_column(String(2), default="")
    region: Mapped[str] = mapped_column(String(8), default="")
    psychologist_id: Mapped[int] = mapped_column(Integer, default=0)  # a profile id; 0 = any
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
