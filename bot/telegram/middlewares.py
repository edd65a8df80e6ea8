"""Outer middlewares: one database session per update, its commit, then the user behind it.

Handlers receive `session`, `user` (None for a stranger), `role` and `settings`
through aiogram's dependency injection.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject
from aiogram.types import User as TelegramUser
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.telegram.fsm import UpdateSession, update_session
from storage.models.base import utcnow
from storage.repo import users

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class DatabaseMiddleware(BaseMiddleware):
    """Opens the update's session (the transaction begins with its first statement); whatever
    was not committed is rolled back when the update ends."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        async with self.sessions() as session:
            data["session"] = session
            current = UpdateSession(session)
            token = update_session.set(current)
            try:
                return await handler(event, data)
            finally:
                current.session = None
                update_session.reset(token)


class CommitMiddleware(BaseMiddleware):
    """Commits when the handler returns. Placed inside the FSM middleware, so within the user's
    event-isolation lock: their next update starts only once this one's changes are committed
    (and cached), never reading the user or the state as they were before it."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        result = await handler(event, data)
        await data["session"].commit()
        return result


class UserMiddleware(BaseMiddleware):
    def __init__(self, settings: Settings) -> None:
        self.admins = frozenset(settings.bot.admins)

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        telegram_user: TelegramUser | None = data.get("event_from_user")
        chat = data.get("event_chat")
        if telegram_user is None or telegram_user.is_bot or (chat is not None and chat.type != "private"):
            return None  # Demeu talks to people in private chats only
        session: AsyncSession = data["session"]
        user = await users.by_telegram_id(session, telegram_user.id)
        if user is not None:
            await users.mark_seen(session, user, utcnow().date())
        data["user"] = user
        # Plain copies for the error handler, which runs after the session is gone.
        data["language"] = user.language if user else None
        data["role"] = "admin" if telegram_user.id in self.admins else (user.role if user else "teacher")
        return await handler(event, data)
