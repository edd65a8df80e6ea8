"""Queries about opt-in nudges. A nudge that is on is a pending reminder row of kind "nudge"
(its next occurrence); there is no other record of the choice (see bot/nudges.py)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models.reminders import PENDING, Reminder

KIND = "nudge"


async def pending(session: AsyncSession, user_id: int) -> list[Reminder]:
    """The user's next occurrence of each nudge that is on, earliest first."""
    return list(
        await session.scalars(
            select(Reminder)
            .where(Reminder.user_id == user_id, Reminder.kind == KIND, Reminder.status == PENDING)
            .order_by(Reminder.due_at)
        )
    )
