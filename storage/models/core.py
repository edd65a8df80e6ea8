"""Users, invites, conversation state and the staff audit log.

A user row holds no Telegram identity in plain: `tg_index` is an HMAC blind index
of the Telegram user id, `chat_id` is encrypted, names and usernames are never kept.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage import crypto
from storage.models.base import Base, utcnow
from storage.types import EncryptedJSON, EncryptedText, UTCDateTime

CHAT_ID_SIZE = 24  # a Telegram chat id has at most 20 characters
FSM_STATE_SIZE = 64  # "Group:Name" of the longest state
# What a teacher types into a form (a booking note) fits; staff drafts (a broadcast) may grow.
FSM_DATA_SIZE = crypto.FSM_DATA_SIZE

ROLES = ("teacher", "psychologist", "coordinator")
# A user's private choices, one sealed JSON: {"c": detailed calendar titles, "p": [the pseudonyms of
# the psychologists the teacher lets see their earlier sessions with them], "x": [favourite exercise
# ids, in the order chosen]}. A pseudonym, not a profile id: SQLite may give a deleted profile's id
# to another psychologist's new one, a consent must not pass to them. 32 pseudonyms of 8 characters
# and 30 exercise ids of 16 characters fit.
PREFS_SIZE = 1024
CALENDAR_DETAIL, CARRY, FAVOURITES = "c", "p", "x"


def no_prefs() -> dict[str, Any]:
    return {CALENDAR_DETAIL: False, CARRY: [], FAVOURITES: []}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tg_index: Mapped[str] = mapped_column(String(64), unique=True)
    chat_id: Mapped[str] = mapped_column(EncryptedText(CHAT_ID_SIZE))
    pseudonym: Mapped[str] = mapped_column(String(16), unique=True)
    language: Mapped[str] = mapped_column(String(2))
    role: Mapped[str] = mapped_column(String(16), default="teacher")
    region: Mapped[str | None] = mapped_column(String(8))
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    announcements: Mapped[bool] = mapped_column(Boolean, default=True)
    # Sealed, the same size for everyone (no row or clear column tells a choice): see no_prefs().
    prefs: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON(PREFS_SIZE), default=no_prefs)
    # False once Telegram says the user blocked the bot; nothing more is sent to them.
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A day, not a time: enough for "active teachers" statistics, no activity trail.
    last_seen_on: Mapped[date | None] = mapped_column(Date)

    @property
    def consented(self) -> bool:
        return self.consent_at is not None

    @property
    def telegram_chat_id(self) -> int:
        return int(self.chat_id)

    def _prefs(self) -> dict[str, Any]:
        return no_prefs() | (self.prefs or {})

    @property
    def calendar_detail(self) -> bool:
        """Calendar files titled in detail (format, psychologist) instead of the neutral «Demeu»."""
        return bool(self._prefs()[CALENDAR_DETAIL])

    @calendar_detail.setter
    def calendar_detail(self, detail: bool) -> None:
        self.prefs = self._prefs() | {CALENDAR_DETAIL: bool(detail)}  # a new value: the change is seen

    def allows_carry(self, psychologist: str) -> bool:
        """The teacher lets the psychologist of this pseudonym see their earlier sessions with them
        (default: no)."""
        return psychologist in self._prefs()[CARRY]

    def set_carry(self, psychologist: str, allowed: bool) -> None:
        chosen = set(self._prefs()[CARRY]) - {psychologist} | ({psychologist} if allowed else set())
        self.prefs = self._prefs() | {CARRY: sorted(chosen)}

    def forget_carry(self) -> None:
        self.prefs = self._prefs() | {CARRY: []}

    @property
    def favourites(self) -> list[str]:
        """Favourite exercises, in the order they were chosen."""
        return list(self._prefs()[FAVOURITES])

    def set_favourite(self, exercise_id: str, on: bool) -> None:
        """Idempotent: a double tap neither duplicates nor fails."""
        kept = [each for each in self.favourites if each != exercise_id]
        self.prefs = self._prefs() | {FAVOURITES: kept + [exercise_id] if on else kept}

    def forget_favourites(self) -> None:
        self.prefs = self._prefs() | {FAVOURITES: []}


class Invite(Base):
    """A one-time link granting a staff role; only the SHA-256 of its token is kept."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    region: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class FsmRecord(Base):
    """aiogram conversation state; the key is a blind index, state and data encrypted and padded
    (a state's name would say what someone is doing, e.g. writing a safety plan)."""

    __tablename__ = "fsm_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str | None] = mapped_column(EncryptedText(FSM_STATE_SIZE))
    data: Mapped[str | None] = mapped_column(EncryptedText(FSM_DATA_SIZE, grows=True))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class AuditEntry(Base):
    """Who on the staff did what to which record; never the content of notes or results."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor: Mapped[str] = mapped_column(String(16))  # pseudonym, or "cli"
    action: Mapped[str] = mapped_column(String(48))
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
