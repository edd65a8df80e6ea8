"""The rules of an anonymous question: which ones psychologists see first, how long the teacher may
go on writing to whoever answered, and the live chat a question (or a crisis hand-off) leads to."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import ChatConfig
from bot.services.safety import Kind, Signal
from storage.models import AnonQuestion, ChatSession, User
from storage.repo import chat as repo


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


async def answered(session: AsyncSession, question: AnonQuestion, rules: ChatConfig, now: datetime) -> None:
    """Answered: the teacher may reply for [chat] reply_hours."""
    await repo.mark_answered(session, question, now + timedelta(hours=rules.reply_hours))


async def live_chat(
    session: AsyncSession, question: AnonQuestion, psychologist: User, rules: ChatConfig, now: datetime
) -> ChatSession:
    """A live chat on a question, open from now for [chat] live_minutes."""
    ends_at = now + timedelta(minutes=rules.live_minutes)
    return await repo.create_session(
        session, question.teacher_id, psychologist.id, now, ends_at, question_id=question.id
    )


async def answer_handoff(
    session: AsyncSession, question: AnonQuestion, psychologist: User, rules: ChatConfig, now: datetime
) -> ChatSession:
    """A crisis hand-off taken is answered with a live chat: at rest it looks like any other question."""
    await answered(session, question, rules, now)
    return await live_chat(session, question, psychologist, rules, now)
