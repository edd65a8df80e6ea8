"""Relaxation and mood: the private journal, mood check-ins.

Everything a teacher writes, sends or scores (notes, reflections, the reference to a drawing's
photo, mood scores) is encrypted and padded; favourite exercises are in the user's sealed
preferences (`users.prefs`), so no row names one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow
from storage.types import EncryptedJSON, EncryptedText, UTCDateTime, text_size

MOOD_NOTE_LIMIT = 1000  # UTF-16 code units
JOURNAL_TEXT_LIMIT = 2000
JOURNAL_META_SIZE = 96  # {"kind", "exercise", "at"}
SCORE_SIZE = 16


class JournalEntry(Base):
    """A drawing (its Telegram file reference) or a few lines kept after an exercise.

    Nothing here links an entry to a teacher: `owner` is a keyed blind index of the user (see
    storage.repo.relax.journal_owner), and what kind of entry it is, for which exercise and when
    are inside the padded `meta` ({"kind", "exercise", "at"}); `content` is the text or the photo's
    file reference, padded to the longest text. A copy of the database shows how many entries
    exist, not who wrote one or what kind.
    """

    __tablename__ = "relax_journal"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner: Mapped[str] = mapped_column(String(64), index=True)
    meta: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON(JOURNAL_META_SIZE))
    content: Mapped[str] = mapped_column(EncryptedText(text_size(JOURNAL_TEXT_LIMIT)))


class MoodEntry(Base):
    """A check-in: the 1-5 score and the optional note are encrypted and padded alike, so a 1 and
    a 5, a note and none, look the same. `note_purged` says retention passed (by age, for every
    entry), so the nightly job touches each row once."""

    __tablename__ = "mood_entries"
    __table_args__ = (Index("ix_mood_entries_user_created", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    score: Mapped[int] = mapped_column(EncryptedJSON(SCORE_SIZE))  # 1..5
    note: Mapped[str | None] = mapped_column(EncryptedText(text_size(MOOD_NOTE_LIMIT)))
    note_purged: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
