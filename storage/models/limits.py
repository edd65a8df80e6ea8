"""A psychologist's mute on a pseudonym's questions: until `until`, the teacher's new questions wait
in the queue without a notice. No health information: it says only that a psychologist asked for
fewer notices from this pseudonym. `region` scopes it to that region's coordinator."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow
from storage.types import UTCDateTime


class QuestionMute(Base):
    __tablename__ = "question_mutes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    teacher_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    muted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    region: Mapped[str | None] = mapped_column(String(8))
    until: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
