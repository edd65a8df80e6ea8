"""aiogram FSM storage in the bot's own database, so conversations survive a restart
on the default single-process setup. Keys are blind indexes; data is encrypted."""
from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, KeyBuilder, StateType, StorageKey
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import crypto
from storage.models import FsmRecord


class BlindKeyBuilder(KeyBuilder):
    """Storage keys without Telegram ids: an HMAC of the ids (also used for Redis)."""

    def __init__(self, prefix: str = "fsm") -> None:
        self.prefix = prefix

    def build(self, key: StorageKey, part: str | None = None) -> str:
        raw = f"{key.bot_id}:{key.chat_id}:{key.user_id}:{key.thread_id}:{key.business_connection_id}:{key.destiny}"
        index = crypto.active().blind_index("fsm", raw)
        return f"{self.prefix}:{index}:{part}" if part else index


def fsm_key_for(bot_id: int, telegram_user_id: int) -> str:
    """The database key of a private chat's default state (for erasing a user's data)."""
    return BlindKeyBuilder().build(StorageKey(bot_id=bot_id, chat_id=telegram_user_id, user_id=telegram_user_id))


@dataclass
class UpdateSession:
    """The session of the update being handled; emptied when the update ends, so a task
    started by a handler that outlives it falls back to a session of its own."""

    session: AsyncSession | None


update_session: ContextVar[UpdateSession | None] = ContextVar("demeu_update_session", default=None)


class DatabaseStorage(BaseStorage):
    """State changes join the update's own transaction: they commit together with what the
    handler wrote (nothing half-done after a crash) and, on SQLite, never wait for a write
    lock held by that same update."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self.keys = BlindKeyBuilder()

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[AsyncSession]:
        current = update_session.get()
        if current is not None and current.session is not None:
            yield current.session
            return
        async with self.sessions.begin() as session:
            yield session

    async def _record(self, session: AsyncSession, key: StorageKey) -> FsmRecord:
        index = self.keys.build(key)
        record = await session.get(FsmRecord, index)
        if record is None:
            record = FsmRecord(key=index)
            session.add(record)
        return record

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        async with self._session() as session:
            record = await self._record(session, key)
            record.state = state.state if isinstance(state, State) else state
            await self._drop_if_empty(session, record)

    async def get_state(self, key: StorageKey) -> str | None:
        async with self._session() as session:
            return await session.scalar(select(FsmRecord.state).where(FsmRecord.key == self.keys.build(key)))

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        async with self._session() as session:
            record = await self._record(session, key)
            record.data = json.dumps(dict(data), ensure_ascii=False) if data else None
            await self._drop_if_empty(session, record)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        async with self._session() as session:
            record = await session.get(FsmRecord, self.keys.build(key))
            return json.loads(record.data) if record and record.data else {}

    @staticmethod
    async def _drop_if_empty(session: AsyncSession, record: FsmRecord) -> None:
        if record.state is None and record.data is None:
            await session.execute(delete(FsmRecord).where(FsmRecord.key == record.key))
            session.expunge(record)

    async def close(self) -> None:
        """Sessions come from the app's engine, which the app disposes."""
