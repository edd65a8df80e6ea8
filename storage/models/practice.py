"""A psychologist's private session notes; the sizes of a teacher's intake before the first session.

A note is its author's alone: `author_id` is the psychologist's (or a group's facilitator's) users
row, and every read filters by it. Its body (free text, topics, next step) and an intake's answers
are one encrypted JSON value each, padded to the same length whatever was written: a copy of the
database shows neither what nor how much. A note goes with its booking or group session (retention,
a teacher's "delete my data": storage.repo.practice). An intake is the booking's own sealed column
(`bookings.intake`, sealed None when there is none) and the teacher's consent that a psychologist
sees their earlier sessions is in the user's sealed preferences (`users.prefs`): no row exists only
because a teacher answered an intake or consented.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base
from storage.types import EncryptedJSON, text_size

NOTE_TEXT_LIMIT = 1500  # UTF-16 code units of a note's free text
NEXT_STEP_LIMIT = 300  # and of its "next step"
INTAKE_TEXT_LIMIT = 500  # what brings the teacher, in their words
CODES_SIZE = 256  # topic codes, answer codes and JSON keys: no free text
NOTE_SIZE = text_size(NOTE_TEXT_LIMIT) + text_size(NEXT_STEP_LIMIT) + CODES_SIZE
INTAKE_SIZE = text_size(INTAKE_TEXT_LIMIT) + CODES_SIZE


class SessionNote(Base):
    """One psychologist's note on one booking or one group session (exactly one of the two)."""

    __tablename__ = "session_notes"
    __table_args__ = (
        UniqueConstraint("booking_id", name="uq_session_notes_booking_id"),
        UniqueConstraint("group_id", "author_id", name="uq_session_notes_group_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("group_sessions.id", ondelete="CASCADE"))
    # {"t": free text, "k": [topic codes], "n": next step}
    body: Mapped[Any] = mapped_column(EncryptedJSON(NOTE_SIZE))
