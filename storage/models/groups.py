"""Group sessions with seats and a waitlist, their ratings, and coordinators' broadcasts.

A teacher's rating of a session (and its comment) is sealed on their seat, a sealed None on every
seat not rated: no row exists because a teacher rated, and no stored length tells who did.

Every recipient of a broadcast is a row with its own delivery state: a restart resumes
exactly where sending stopped, and a unique (broadcast, user) pair means one copy each.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow
from storage.models.booking import RATING_SIZE
from storage.models.core import CHAT_ID_SIZE
from storage.types import EncryptedJSON, EncryptedText, UTCDateTime, text_size

# "chat" (in-bot) was removed in migration 0014: its sessions became "online" (bot/services/rooms.py).
GROUP_FORMATS = ("online", "offline")
ROOM_SIZE = 64
CALENDAR_UID_SIZE = 48  # a calendar event's random UID (sealed: a stable random value would tell rows apart)
PLACE_SIZE = 512  # an office session's address and how to find the cabinet (staff text, grows)
# What a session is, as the Өрлеу cabinets' programme names them: a consultation group, a training,
# an art-therapy group, a relaxation session. Each has its own short description (groups-kind-<kind>-about).
GROUP_KINDS = ("consult", "training", "art", "relax")
# enrolled: has a seat; waitlisted: in line by `position`; offered: a freed seat is held for them
# until offer_expires_at; cancelled: left, declined, let the offer expire, or the session was cancelled.
SEAT_STATUSES = ("enrolled", "waitlisted", "offered", "cancelled")
COMMENT_LIMIT = 1000  # a rating's comment, in UTF-16 code units
TITLE_LIMIT = 120  # a group session's title, in UTF-16 code units (within its column's 120 characters)
DESCRIPTION_LIMIT = 2000  # its description: the card with its details stays within one message
BROADCAST_TEXT_SIZE = 1024  # staff texts grow in steps of this


class GroupSession(Base):
    __tablename__ = "group_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title_kk: Mapped[str] = mapped_column(String(TITLE_LIMIT))
    title_ru: Mapped[str] = mapped_column(String(TITLE_LIMIT))
    description_kk: Mapped[str] = mapped_column(Text, default="")
    description_ru: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    duration_min: Mapped[int] = mapped_column(Integer, default=60)
    capacity: Mapped[int] = mapped_column(Integer)
    format: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(8), default="consult", server_default="consult")
    region: Mapped[str | None] = mapped_column(String(8))  # None: online, open to every region
    # Offline: the full address and how to find the cabinet, as the coordinator wrote it.
    place: Mapped[str | None] = mapped_column(EncryptedText(PLACE_SIZE, grows=True))
    # Online: the session's own video room (random, sealed), made when it is first needed.
    room: Mapped[str | None] = mapped_column(EncryptedText(ROOM_SIZE))
    language: Mapped[str] = mapped_column(String(2))
    facilitator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(12), default="open")  # open | cancelled
    # Bumped by every seat change: the UPDATE takes the row lock (PostgreSQL) or the write
    # lock (SQLite) first, so seat decisions for one session happen one at a time.
    lock_version: Mapped[int] = mapped_column(Integer, default=0)
    ratings_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    # How many came, as the facilitator (or a coordinator) reported it after the session: a count
    # only, no row per teacher; None until reported.
    attended: Mapped[int | None] = mapped_column(SmallInteger)
    demo: Mapped[bool] = mapped_column(Boolean, default=False)  # made by `seed-demo`, removed by --remove
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def title(self, language: str) -> str:
        return self.title_kk if language == "kk" else self.title_ru

    def description(self, language: str) -> str:
        return self.description_kk if language == "kk" else self.description_ru


class GroupSeat(Base):
    """One row per teacher and session; leaving and coming back reuses it."""

    __tablename__ = "group_seats"
    __table_args__ = (
        UniqueConstraint("session_id", "user_id"),
        Index("ix_group_seats_session_status", "session_id", "status", "position"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("group_sessions.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(12))
    # Order of arrival in the session's line, never reused; waitlist place = rank among waitlisted.
    position: Mapped[int] = mapped_column(Integer)
    offer_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rating_asked: Mapped[bool] = mapped_column(Boolean, default=False)
    # 1-5 after the session, shown to coordinators only as averages over 5 or more ratings.
    rating: Mapped[int | None] = mapped_column(EncryptedJSON(RATING_SIZE))
    rating_comment: Mapped[str | None] = mapped_column(EncryptedText(text_size(COMMENT_LIMIT)))
    # The seat's calendar event: a random UID and its SEQUENCE (bot/views/ics.py).
    calendar_uid: Mapped[str | None] = mapped_column(EncryptedText(CALENDAR_UID_SIZE))
    calendar_seq: Mapped[int] = mapped_column(SmallInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Broadcast(Base):
    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Where progress is shown: the coordinator's chat (encrypted like users.chat_id) and message.
    progress_chat: Mapped[str | None] = mapped_column(EncryptedText(CHAT_ID_SIZE))
    progress_message_id: Mapped[int | None] = mapped_column(Integer)
    progress_language: Mapped[str] = mapped_column(String(2), default="kk")
    text_kk: Mapped[str] = mapped_column(EncryptedText(BROADCAST_TEXT_SIZE, grows=True))
    text_ru: Mapped[str] = mapped_column(EncryptedText(BROADCAST_TEXT_SIZE, grows=True))
    session_id: Mapped[int | None] = mapped_column(ForeignKey("group_sessions.id", ondelete="SET NULL"))
    # all | region-<code> | lang-<kk|ru> | participants-<id> | waitlist-<id> (no ":", the callback separator)
    audience: Mapped[str] = mapped_column(String(32))
    # draft -> sending <-> paused -> done | cancelled
    status: Mapped[str] = mapped_column(String(12), default="draft", index=True)
    total: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Last progress edit: a conditional UPDATE on it lets one replica edit per interval.
    progress_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class BroadcastRecipient(Base):
    __tablename__ = "broadcast_recipients"
    __table_args__ = (
        UniqueConstraint("broadcast_id", "user_id"),
        Index("ix_broadcast_recipients_state", "broadcast_id", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # pending -> claimed -> sent | blocked | failed | skipped
    state: Mapped[str] = mapped_column(String(8), default="pending")
    claim: Mapped[str | None] = mapped_column(String(32))  # the worker that holds it
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime)  # after a long flood wait
