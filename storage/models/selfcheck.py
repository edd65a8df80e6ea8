"""Self-check questionnaires: finished results and unfinished drafts.

What is plain and why: `instrument` (which questionnaire: history per instrument and usage
counts), `created_at` (ordering, counts per period) and a draft's `position` (how far the
teacher got). The answers and whether the safety screen was shown are encrypted and padded
to one size: a copy of the database must not say who scored "severe" or answered PHQ-9 item
9, not even by a token's length. Only data is stored, never rendered text: scores and bands are
computed from the answers by the instrument (content validated at start), labels come from it
at display time. Statistics decrypt in the application, never in SQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow
from storage.types import EncryptedJSON, UTCDateTime

# The longest instrument's answers with its flags take 600 bytes (CBI, 19 items).
DATA_SIZE = 1024


class SelfCheckResult(Base):
    """One finished questionnaire: `data` = {"answers": {item: value}, "safety_screen": bool}."""

    __tablename__ = "selfcheck_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    instrument: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON(DATA_SIZE))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SelfCheckDraft(Base):
    """A questionnaire in progress, one per teacher and instrument. Kept in its own table,
    not in the FSM state, because every menu screen clears the FSM: an interrupted
    questionnaire must resume after any detour and after a restart.
    `data` = {"answers": {item: value}, "alerted": bool (safety screen already shown)}."""

    __tablename__ = "selfcheck_drafts"
    __table_args__ = (UniqueConstraint("user_id", "instrument", name="uq_selfcheck_drafts_user_instrument"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    instrument: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(Integer, default=0)
    data: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON(DATA_SIZE))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
