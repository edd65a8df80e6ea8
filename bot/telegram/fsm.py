"""aiogram FSM storage in the bot's own database, so conversations survive a restart
on the default single-process setup. Keys are blind indexes; data is encrypted."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, KeyBuilder, StateType, StorageKey
from aiogram.fsm.storage.redis import RedisStorage
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import crypto
from storage.cache import MISSING, caches_of, read_through
from storage.models import FsmRecord
from storage.models.core import FSM_STATE_SIZE


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
    return BlindKeyBuilder().build(
        StorageKey(bot_id=bot_id, chat_id=telegram_user_id, user_id=telegram_user_id)
    )


@dataclass
class UpdateSession:
    """The session of the update being handled; emptied when the update ends, so a task
    started by a handler that outlives it falls back to a session of its own."""

    session: AsyncSession | None
    # State records looked up during this update (None: there is none), so navigating,
    # which clears the state on every screen, costs one read and no writes.
    records: dict[str, FsmRecord | None] = field(default_factory=dict)


update_session: ContextVar[UpdateSession | None] = ContextVar("demeu_update_session", default=None)


class DatabaseStorage(BaseStorage):
    """State changes join the update's own transaction: they commit together with what the
    handler wrote (nothing half-done after a crash) and, on SQLite, never wait for a write
    lock held by that same update. Reads come from the app's cache when it holds the key."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self.keys = BlindKeyBuilder()

    @asynccontextmanager
    async def _records(self) -> AsyncIterator[tuple[AsyncSession, dict[str, FsmRecord | None]]]:
        current = update_session.get()
        if current is not None and current.session is not None:
            yield current.session, current.records
            return
        async with self.sessions.begin() as session:
            yield session, {}

    async def _find(
        self, session: AsyncSession, records: dict[str, FsmRecord | None], index: str
    ) -> FsmRecord | None:
        """The stored record, to change it."""
        if index not in records:
            if caches_of(session).fsm.get(index) is None:
                records[index] = None  # known to be absent: no read
            else:
                records[index] = await self._load(session, index)
        return records[index]

    @staticmethod
    async def _load(session: AsyncSession, index: str) -> FsmRecord | None:
        cache = caches_of(session).fsm
        generation = cache.generation
        record = await session.get(FsmRecord, index)
        read_through(
            session.sync_session,
            cache,
            index,
            (record.state, record.data) if record else None,
            generation,
            record,
        )
        return record

    async def _read(self, index: str) -> tuple[str | None, str | None] | None:
        """(state, data) as stored, or None when nothing is."""
        async with self._records() as (session, records):
            if index in records:
                record = records[index]
            else:
                cached = caches_of(session).fsm.get(index)
                if cached is not MISSING:
                    return cached
                record = records[index] = await self._load(session, index)
            return (record.state, record.data) if record else None

    async def _write(self, key: StorageKey, field_name: str, value: str | None) -> None:
        index = self.keys.build(key)
        async with self._records() as (session, records):
            record = await self._find(session, records, index)
            if record is None:
                if value is None:
                    return  # clearing what is not there: no write at all
                record = records[index] = FsmRecord(key=index)
                session.add(record)
            setattr(record, field_name, value)
            if record.state is None and record.data is None:
                records[index] = None
                if record in session.new:
                    session.expunge(record)
                else:
                    await session.delete(record)

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        await self._write(key, "state", state.state if isinstance(state, State) else state)

    async def get_state(self, key: StorageKey) -> str | None:
        stored = await self._read(self.keys.build(key))
        return stored[0] if stored else None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._write(key, "data", json.dumps(dict(data), ensure_ascii=False) if data else None)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        stored = await self._read(self.keys.build(key))
        return json.loads(stored[1]) if stored and stored[1] else {}

    async def close(self) -> None:
        """Sessions come from the app's engine, which the app disposes."""


class SealedRedisStorage(RedisStorage):
    """aiogram's RedisStorage with the state encrypted and padded like its data: a state's name
    ("SafetyPlan:step") would otherwise say in clear what someone is doing."""

    @classmethod
    def for_url(cls, url: str, prefix: str = "demeu:fsm") -> SealedRedisStorage:
        return cls.from_url(  # type: ignore[return-value]  # aiogram's from_url builds `cls`
            url,
            key_builder=BlindKeyBuilder(prefix=prefix),
            json_dumps=crypto.json_dumps_encrypted,
            json_loads=crypto.json_loads_encrypted,
        )

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        name = state.state if isinstance(state, State) else state
        redis_key = self.key_builder.build(key, "state")
        if name is None:
            await self.redis.delete(redis_key)
        else:
            await self.redis.set(redis_key, crypto.active().encrypt(name, FSM_STATE_SIZE), ex=self.state_ttl)

    async def get_state(self, key: StorageKey) -> str | None:
        value = await self.redis.get(self.key_builder.build(key, "state"))
        if value is None:
            return None
        return crypto.active().decrypt(value.decode() if isinstance(value, bytes) else value)
