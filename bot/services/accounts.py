"""A user's account as a whole: deleting everything about them, and a user who blocked the bot."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.events import AfterCommit, Events, UserErased
from storage.models import User
from storage.repo import reminders, users


class Accounts:
    def __init__(self, events: Events) -> None:
        self.events = events

    async def erase(self, session: AsyncSession, user: User, fsm_keys: list[str]) -> list[AfterCommit]:
        """Delete everything about a user in the caller's transaction: each feature first (UserErased,
        subscribers in bot/app.py), then the user's row. Returns what to send once committed."""
        after_commit: list[AfterCommit] = await self.events.publish(UserErased(session, user))
        await users.delete_user(session, user, fsm_keys)
        return after_commit


async def record_blocked(session: AsyncSession, user_id: int) -> None:
    """They blocked the bot: inactive (no reminders, no news) until they write again, and the
    reminders waiting for them recorded as dead rather than retried."""
    await users.mark_inactive(session, user_id)
    await reminders.cancel_for_user(session, user_id, error="blocked")
