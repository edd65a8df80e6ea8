"""Relaxation and mood: favourite exercises, the private journal, mood check-ins.

Everything a teacher writes or sends (notes, reflections, the id of a drawing's photo)
is encrypted; scores and exercise ids are not free text and stay plain for the chart.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow
from storage.types import EncryptedText, UTCDateTime


class FavouriteExercise(Base):
    __tablename__ = "relax_favourites"
    __table_args__ = (UniqueConstraint("user_id", "exercise_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    exercise_id: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class JournalEntry(Base):
    """A drawing (Telegram file id) or a few lines kept after an exercise; both encrypted."""

    __tablename__ = "relax_journal"
    __table_args__ = (Index("ix_relax_journal_user_created", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    exercise_id: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(8))  # "photo" or "text"
    content: Mapped[str] = mapped_column(EncryptedText)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MoodEntry(Base):
    __tablename__ = "mood_entries"
    __table_args__ = (Index("ix_mood_entries_user_created", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    score: Mapped[int] = mapped_column(SmallInteger)  # 1..5
    note: Mapped[str | None] = mapped_column(EncryptedText)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
