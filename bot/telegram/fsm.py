"""aiogram FSM storage in the bot's own database, so conversations survive a restart
on the default single-process setup. Keys are blind indexes; data is encrypted."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, cast

from aiogram.fsm.context import FSMContext
from aiogram.fsm.middleware import FSMContextMiddleware
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage, KeyBuilder, StateType, StorageKey
from aiogram.fsm.storage.redis import RedisStorage
from aiogram.types import TelegramObject
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


class LockedFSM(FSMContextMiddleware):
    """aiogram's FSM middleware (the same context, the same per-user lock) that, inside the lock and
    before the state is read, lets `read_first` fetch at once what the update needs."""

    def __init__(
        self,
        storage: BaseStorage,
        events_isolation: BaseEventIsolation,
        read_first: Callable[[FSMContext, TelegramObject, dict[str, Any]], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__(storage, events_isolation)
        self.read_first = read_first

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        context = self.resolve_event_context(data["bot"], data)
        data["fsm_storage"] = self.storage
        if context is None:
            return await handler(event, data)
        async with self.events_isolation.lock(key=context.key):  # state read after the lock (aiogram #1317)
            if self.read_first is not None:
                await self.read_first(context, event, data)
            data.update({"state": context, "raw_state": await context.get_state()})
            return await handler(event, data)


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
        record = await session.get(FsmRecord, index, populate_existing=True)  # as read, to be cached
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


class _Known(dict[str, Any]):
    """Per update, inside the user's lock: the Redis values of their state and data as read with
    the lock (None: absent), kept up to date by this update's writes; raw as stored (encrypted).
    Emptied when the lock is freed: a task the update started (which copies the context) reads
    Redis again after that."""


_redis_known: ContextVar[_Known | None] = ContextVar("demeu_redis_known", default=None)
# Frees the lock only if it is still this update's (it may have expired and been taken since).
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
# Keeps this update's lock for another `ARGV[2]` ms, if it is still its own.
_EXTEND = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"


class SealedRedisStorage(RedisStorage):
    """aiogram's RedisStorage with the state encrypted and padded like its data: a state's name
    ("SafetyPlan:step") would otherwise say in clear what someone is doing.

    A press costs two round trips: the user's lock taken and their state and data read in one
    pipeline, the lock freed at the end (aiogram's lock, GETs and DELs took six); what the update
    read or wrote is known, so a key known to be absent is not deleted again."""

    @classmethod
    def for_url(cls, url: str, prefix: str = "demeu:fsm") -> SealedRedisStorage:
        return cls.from_url(  # type: ignore[return-value]  # aiogram's from_url builds `cls`
            url,
            key_builder=BlindKeyBuilder(prefix=prefix),
            json_dumps=crypto.json_dumps_encrypted,
            json_loads=crypto.json_loads_encrypted,
        )

    def create_isolation(self, **kwargs: Any) -> ReadingRedisIsolation:  # type: ignore[override]
        return ReadingRedisIsolation(self, **kwargs)

    async def _get(self, redis_key: str) -> Any:
        known = _redis_known.get()
        if known is not None and redis_key in known:
            return known[redis_key]
        return await self.redis.get(redis_key)

    async def _put(self, redis_key: str, value: str | None, ttl: Any) -> None:
        known = _redis_known.get()
        if value is None:
            if known is not None and redis_key in known and known[redis_key] is None:
                return  # nothing there to delete
            await self.redis.delete(redis_key)
        else:
            await self.redis.set(redis_key, value, ex=ttl)
        if known:  # only while the update holds the lock (emptied after)
            known[redis_key] = value

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        name = state.state if isinstance(state, State) else state
        sealed = crypto.active().encrypt(name, FSM_STATE_SIZE) if name is not None else None
        await self._put(self.key_builder.build(key, "state"), sealed, self.state_ttl)

    async def get_state(self, key: StorageKey) -> str | None:
        value = await self._get(self.key_builder.build(key, "state"))
        if value is None:
            return None
        return crypto.active().decrypt(value.decode() if isinstance(value, bytes) else value)

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._put(
            self.key_builder.build(key, "data"), self.json_dumps(dict(data)) if data else None, self.data_ttl
        )

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        value = await self._get(self.key_builder.build(key, "data"))
        if value is None:
            return {}
        return cast(dict[str, Any], self.json_loads(value.decode() if isinstance(value, bytes) else value))


class ReadingRedisIsolation(BaseEventIsolation):
    """One update at a time per user across replicas (a Redis lock, as aiogram's), with the user's
    state and data read in the same round trip as the lock is taken."""

    def __init__(self, storage: SealedRedisStorage, timeout: float = 60.0, retry: float = 0.02) -> None:
        self.storage, self.timeout, self.retry = storage, timeout, retry
        self.release = storage.redis.register_script(_RELEASE)
        self.extend = storage.redis.register_script(_EXTEND)

    def _keep(
        self, lock_key: str, token: str, kept: list[asyncio.TimerHandle], tasks: set[asyncio.Task]
    ) -> None:
        """An update still running halfway to its lock's expiry keeps it (a long handler must not
        let the same user's next update in beside it); a timer, so a short press pays nothing."""
        task = asyncio.ensure_future(self.extend(keys=[lock_key], args=[token, int(self.timeout * 1000)]))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        kept[0] = asyncio.get_running_loop().call_later(
            self.timeout / 2, self._keep, lock_key, token, kept, tasks
        )

    @asynccontextmanager
    async def lock(self, key: StorageKey) -> AsyncIterator[None]:
        build = self.storage.key_builder.build
        lock_key, state_key, data_key = build(key, "lock"), build(key, "state"), build(key, "data")
        token = secrets.token_hex(16)
        while True:
            async with self.storage.redis.pipeline(transaction=False) as pipe:
                pipe.set(lock_key, token, nx=True, px=int(self.timeout * 1000))
                pipe.mget(state_key, data_key)
                taken, (state, data) = await pipe.execute()
            if taken:
                break
            await asyncio.sleep(self.retry)  # the same user's other update is being handled
        known = _Known({state_key: state, data_key: data})
        token_of_known = _redis_known.set(known)
        tasks: set[asyncio.Task] = set()
        kept: list[asyncio.TimerHandle] = []  # the timer due next
        kept.append(
            asyncio.get_running_loop().call_later(self.timeout / 2, self._keep, lock_key, token, kept, tasks)
        )
        try:
            yield
        finally:
            kept[0].cancel()
            known.clear()
            _redis_known.reset(token_of_known)
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.release(keys=[lock_key], args=[token])

    async def close(self) -> None:
        """The storage's connection pool is closed with the storage."""
