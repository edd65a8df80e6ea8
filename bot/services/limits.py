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
