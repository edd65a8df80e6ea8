"""Users, invites, conversation state and the staff audit log.

A user row holds no Telegram identity in plain: `tg_index` is an HMAC blind index
of the Telegram user id, `chat_id` is encrypted, names and usernames are never kept.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage import crypto
from storage.models.base import Base, utcnow
from storage.types import EncryptedText, UTCDateTime

CHAT_ID_SIZE = 24  # a Telegram chat id has at most 20 characters
FSM_STATE_SIZE = 64  # "Group:Name" of the longest state
# What a teacher types into a form (a booking note) fits; staff drafts (a broadcast) may grow.
FSM_DATA_SIZE = crypto.FSM_DATA_SIZE

ROLES = ("teacher", "psychologist", "coordinator")


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
    # Calendar files titled in detail (format, psychologist) instead of the neutral «Demeu».
    calendar_detail: Mapped[bool] = mapped_column(Boolean, default=False)
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
