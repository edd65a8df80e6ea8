"""Safety: a teacher's own safety plan, and when psychologists are on duty.

A safety plan exists only for someone who once went through a hard moment: no column links it to
a teacher. `owner` is a keyed blind index of the user (storage.repo.safety.plan_owner), there is no
time column, and each of the six steps is padded to the same size whether written or not.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base
from storage.types import EncryptedText, text_size

PLAN_STEPS = 6  # Stanley & Brown's safety-planning intervention
STEP_LIMIT = 300  # UTF-16 code units per step


class SafetyPlan(Base):
    __tablename__ = "safety_plans"

    owner: Mapped[str] = mapped_column(String(64), primary_key=True)
    step1: Mapped[str | None] = mapped_column(EncryptedText(text_size(STEP_LIMIT)))  # my warning signs
    step2: Mapped[str | None] = mapped_column(EncryptedText(text_size(STEP_LIMIT)))  # what helps me cope
    step3: Mapped[str | None] = mapped_column(
        EncryptedText(text_size(STEP_LIMIT))
    )  # people and places that distract
    step4: Mapped[str | None] = mapped_column(
        EncryptedText(text_size(STEP_LIMIT))
    )  # people I can ask for help
    step5: Mapped[str | None] = mapped_column(EncryptedText(text_size(STEP_LIMIT)))  # professionals and lines
    step6: Mapped[str | None] = mapped_column(EncryptedText(text_size(STEP_LIMIT)))  # a safer surrounding

    def step(self, number: int) -> str | None:
        return getattr(self, f"step{number}")

    def set_step(self, number: int, text: str | None) -> None:
        setattr(self, f"step{number}", text)


class DutyHours(Base):
    """One weekly window in which a psychologist is on duty (local time; minutes after midnight)."""

    __tablename__ = "duty_hours"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    profile_id: Mapped[int] = mapped_column(
        ForeignKey("psychologist_profiles.id", ondelete="CASCADE"), index=True
    )
    weekday: Mapped[int] = mapped_column(SmallInteger)  # 0 Monday .. 6 Sunday
    start_min: Mapped[int] = mapped_column(SmallInteger)
    end_min: Mapped[int] = mapped_column(SmallInteger)  # exclusive; up to 24:00
