"""The rules of an anonymous question: which ones psychologists see first, and how long the teacher
may go on writing to whoever answered."""

from __future__ import annotations

from datetime import datetime

from bot.services.safety import Kind, Signal
from storage.models import AnonQuestion, User


def is_urgent(signal: Signal | None) -> bool:
    """A crisis, or a worry for a student or someone else: psychologists see it first."""
    return signal is not None and signal.kind is not Kind.DISTRESS


def can_reply(question: AnonQuestion, teacher: User, now: datetime) -> bool:
    """The teacher who asked may reply to the answer until its reply time is over."""
    return (
        question.teacher_id == teacher.id
        and question.status == "answered"
        and question.psychologist_id is not None
        and question.reply_until is not None
        and question.reply_until > now
    )
