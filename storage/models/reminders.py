"""Reminders: the durable truth behind every scheduled message (APScheduler is only the clock).

A row is one message to one user at one time. `key` is the caller's idempotency key
("booking:42:teacher:1440"): scheduling the same key again moves the reminder instead of adding
a second one. `params` may name a booking or hold other details, so it is encrypted; `kind` and
times are plain because the worker selects by them.

Life cycle: pending -> sent | cancelled | missed (its moment passed while the bot was down, see
`expires_at`) | dead (gave up: recipient blocked the bot, Telegram refused, or retries ran out;
`last_error` says which). A pending row is claimed by a worker for a lease (`claimed_by`,
`claimed_until`); a worker that dies leaves the lease to expire and another one takes over.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow
from storage.types import EncryptedJSON, UTCDateTime

PENDING, SENT, CANCELLED, MISSED, DEAD = "pending", "sent", "cancelled", "missed", "dead"
STATUSES = (PENDING, SENT, CANCELLED, MISSED, DEAD)
PARAMS_SIZE = 256  # ids, a day, a time: no free text


class Reminder(Base):
    __tablename__ = "reminders"
    __table_args__ = (Index("ix_reminders_status_due_at", "status", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(96), unique=True)
    # None for a sealed reminder (a check-in after a hard moment): its recipient is in `params` only,
    # so no row links a teacher to it (storage.repo.reminders.schedule_sealed).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Not sent after this moment (e.g. the session's start): recorded as missed instead.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(32))
    params: Mapped[Any] = mapped_column(EncryptedJSON(PARAMS_SIZE), nullable=True)
    status: Mapped[str] = mapped_column(String(12), default=PENDING)
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    # While in the future the row belongs to `claimed_by`; after a failed try it is also the retry time.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(32))  # an exception class name, never a text
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
