"""Counts behind the per-teacher limits: existing rows only, so they hold across replicas and
restarts and add nothing to what is stored about a teacher."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import changed
from storage.models import AnonQuestion, QuestionMute, User
from storage.models.booking import CANCELLED, Booking
from storage.repo.chat import visible_to


async def questions_since(session: AsyncSession, teacher_id: int, since: datetime) -> int:
    query = select(func.count()).where(
        AnonQuestion.teacher_id == teacher_id, AnonQuestion.created_at >= since
    )
    return await session.scalar(query) or 0


async def bookings_since(session: AsyncSession, teacher_id: int, since: datetime) -> int:
    """Bookings the teacher made, a reschedule's new booking included."""
    query = select(func.count()).where(Booking.teacher_id == teacher_id, Booking.created_at >= since)
    return await session.scalar(query) or 0


async def cancellations_since(session: AsyncSession, teacher_id: int, since: datetime) -> int:
    """Bookings the teacher cancelled (a cancelled row is not changed again)."""
    query = select(func.count()).where(
        Booking.teacher_id == teacher_id,
        Booking.state == CANCELLED,
        Booking.cancelled_by == "teacher",
        Booking.updated_at >= since,
    )
    return await session.scalar(query) or 0


async def mute(session: AsyncSession, teacher: User, psychologist: User, until: datetime) -> QuestionMute:
    row = QuestionMute(teacher_id=teacher.id, muted_by=psychologist.id, region=teacher.region, until=until)
    session.add(row)
    await session.flush()
    return row


async def is_muted(session: AsyncSession, teacher_id: int, now: datetime) -> bool:
    query = select(QuestionMute.id).where(QuestionMute.teacher_id == teacher_id, QuestionMute.until > now)
    return await session.scalar(query.limit(1)) is not None


async def active_mutes(
    session: AsyncSession, region: str | None, now: datetime
) -> list[tuple[QuestionMute, User]]:
    """Mutes in force with their teachers, soonest to end first; every region's for None."""
    query = (
        select(QuestionMute, User)
        .join(User, User.id == QuestionMute.teacher_id)
        .where(QuestionMute.until > now)
    )
    if region is not None:
        query = query.where(QuestionMute.region == region)
    rows = await session.execute(query.order_by(QuestionMute.until))
    return [(row[0], row[1]) for row in rows]


async def lift(session: AsyncSession, mute_id: int, region: str | None) -> bool:
    """Delete a mute, if it is one of the region's (every region's for None)."""
    query = delete(QuestionMute).where(QuestionMute.id == mute_id)
    if region is not None:
        query = query.where(QuestionMute.region == region)
    return await changed(session, query) == 1


async def visible_question(
    session: AsyncSession, question_id: int, psychologist: User
) -> AnonQuestion | None:
    """The question, if it is one the psychologist may see (a forged id of another region's gives None)."""
    query = select(AnonQuestion).where(AnonQuestion.id == question_id, visible_to(psychologist.region))
    return await session.scalar(query)
