"""Per-teacher limits over any 24 hours, counted from the database so they hold across replicas
and restarts. A rolling day rather than since midnight: the same for every time zone, and no
burst just before and after midnight. The safety path is never limited: callers pass
`urgent` for a question with a crisis phrase, which always goes."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import LimitsConfig
from storage.models import User
from storage.repo import limits as repo

DAY = timedelta(hours=24)


async def question_allowed(
    session: AsyncSession, teacher: User, urgent: bool, rules: LimitsConfig, now: datetime
) -> bool:
    if urgent:
        return True
    return await repo.questions_since(session, teacher.id, now - DAY) < rules.questions_per_day


async def booking_allowed(session: AsyncSession, teacher: User, rules: LimitsConfig, now: datetime) -> bool:
    return await repo.bookings_since(session, teacher.id, now - DAY) < rules.bookings_per_day


async def cancellation_allowed(
    session: AsyncSession, teacher: User, rules: LimitsConfig, now: datetime
) -> bool:
    return await repo.cancellations_since(session, teacher.id, now - DAY) < rules.cancellations_per_day


async def announced(session: AsyncSession, teacher: User, urgent: bool, now: datetime) -> bool:
    """Whether psychologists are told of a new question: not while a psychologist has muted the
    teacher (it waits in the queue); a question with a crisis phrase always is."""
    return urgent or not await repo.is_muted(session, teacher.id, now)


async def mute(
    session: AsyncSession,
    question_id: int,
    psychologist: User,
    hours: int,
    rules: LimitsConfig,
    now: datetime,
) -> bool:
    """Mute the teacher behind a question the psychologist may see, for one of the allowed periods."""
    question = await repo.visible_question(session, question_id, psychologist)
    teacher = await session.get(User, question.teacher_id) if question else None
    if teacher is None or hours not in rules.mute_hours:
        return False
    await repo.mute(session, teacher, psychologist, now + timedelta(hours=hours))
    return True
