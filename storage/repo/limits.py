"""Counts behind the per-teacher limits: existing rows only, so they hold across replicas and
restarts and add nothing to what is stored about a teacher."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AnonQuestion
from storage.models.booking import CANCELLED, Booking


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
