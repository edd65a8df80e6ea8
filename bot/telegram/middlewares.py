"""Outer middlewares: one database session per update, its commit, then the user behind it.

Handlers receive `session`, `user` (None for a stranger), `role` and `settings`
through aiogram's dependency injection.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import BaseStorage
from aiogram.types import TelegramObject, Update
from aiogram.types import User as TelegramUser
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.telegram import callbacks as cb
from bot.telegram.dispatch import UNPACKED
from bot.telegram.fsm import DatabaseStorage, UpdateSession, update_session
from storage import crypto
from storage.cache import attach, caches_of, remember
from storage.commit import autocommit, commit_update, single_writer
from storage.models import FsmRecord
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


def private_person(data: dict[str, Any]) -> TelegramUser | None:
    """The person behind the update, when it comes from a private chat (Demeu talks in no other)."""
    telegram_user: TelegramUser | None = data.get("event_from_user")
    chat = data.get("event_chat")
    if telegram_user is None or telegram_user.is_bot or (chat is not None and chat.type != "private"):
        return None
    return telegram_user


def answered_instrument(update: Update | None, data: dict[str, Any]) -> str | None:
    """The questionnaire a self-check press is about: its draft is read with the user. The press
    unpacked here is the one the dispatcher hands on (bot/telegram/dispatch.UNPACKED)."""
    raw = update.callback_query.data if update is not None and update.callback_query else None
    if not raw or not raw.startswith(cb.SelfCheck.__prefix__ + ":"):
        return None
    try:
        pressed: cb.SelfCheck | None = cb.SelfCheck.unpack(raw)
    except (TypeError, ValueError):
        pressed = None
    data.setdefault(UNPACKED, {})[cb.SelfCheck] = pressed
    if pressed is None or not pressed.inst:
        return None
    return pressed.inst


class FirstRead:
    """Where the row caches hold nothing (PostgreSQL, shared by replicas): what every update needs —
    the user, their conversation state, their open chat — read in one statement outside any
    transaction, inside the user's lock (bot/telegram/fsm.LockedFSM), for the update's session to
    use as read. A press that writes nothing then costs one round trip, not four (BEGIN, state,
    user, COMMIT)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], storage: BaseStorage) -> None:
        self.engine = autocommit(sessions.kw["bind"])
        self.storage = storage if isinstance(storage, DatabaseStorage) else None  # Redis: its own read

    async def __call__(self, context: FSMContext, event: TelegramObject, data: dict[str, Any]) -> None:
        person = private_person(data)
        if person is None:
            return
        session: AsyncSession = data["session"]
        fsm_key = self.storage.keys.build(context.key) if self.storage else None
        user_index = crypto.active().user_index(person.id)
        instrument = answered_instrument(event if isinstance(event, Update) else None, data)
        found = await users.first_read(self.engine, user_index, fsm_key, instrument)
        caches = caches_of(session)
        remember(session, caches.users, user_index, found.user)
        if found.user is not None:
            user_id = found.user[users.USER_ID]
            remember(session, caches.open_chats, user_id, found.open_chat)
            if instrument is not None:
                remember(session, caches.drafts, (user_id, instrument), found.draft)
        current = update_session.get()
        if fsm_key and current is not None:
            current.records[fsm_key] = (
                attach(session.sync_session, FsmRecord, found.state, caches.fsm.generation)
                if found.state
                else None
            )


class CommitMiddleware(BaseMiddleware):
    """Commits when the handler returns (storage/commit.py: nothing when nothing changed, one
    statement when one row did). Placed inside the FSM middleware, so within the
    user's event-isolation lock: their next update starts only once this one's changes are
    committed (and cached), never reading the user or the state as they were before it."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.alone = single_writer(sessions.kw["bind"])

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        result = await handler(event, data)
        await commit_update(data["session"], self.alone)
        return result


class UserMiddleware(BaseMiddleware):
    def __init__(self, settings: Settings) -> None:
        self.admins = frozenset(settings.bot.admins)

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        telegram_user = private_person(data)
        if telegram_user is None:
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
