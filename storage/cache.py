"""Per-process caches of the rows most updates read: the user behind the update, their
conversation (FSM) state and an unfinished questionnaire, so that a menu press needs no
database round trip at all and a questionnaire answer one write.

Only where one process owns the database (SQLite: one bot per region). With PostgreSQL several
replicas share the rows and another replica's change would not be seen, so there the caches
hold nothing and every update reads the database.

A cache never serves a row that differs from the committed one: the app's session class is
watched, and every flush drops the rows it touches; once the transaction commits, the rows it
wrote are cached as committed (the next step of a conversation needs no read), and a bulk
UPDATE/DELETE empties the cache of that table. A read that began before a drop does not fill
the cache (the generation check), so a read racing another update's commit cannot leave a
stale row behind.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from itertools import chain
from typing import Any, TypeVar

from sqlalchemy import Select, event, inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from storage.db import is_sqlite
from storage.models import FsmRecord, SelfCheckDraft, User

MISSING = object()
DEFAULT_SIZE = 20_000  # users active within minutes of each other in one region; bounded memory
Row = TypeVar("Row")


class RowCache:
    """Values by key; the least recently used are dropped past `size` (0: caches nothing)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.generation = 0
        self._values: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, key: Hashable) -> Any:
        value = self._values.get(key, MISSING)
        if value is not MISSING:
            self._values.move_to_end(key)
        return value

    def put(self, key: Hashable, value: Any, generation: int) -> None:
        """Store what was read at `generation`, unless something was dropped since."""
        if not self.size or generation != self.generation:
            return
        self._values[key] = value
        self._values.move_to_end(key)
        if len(self._values) > self.size:
            self._values.popitem(last=False)

    def drop(self, key: Hashable) -> None:
        self.generation += 1
        self._values.pop(key, None)

    def clear(self) -> None:
        self.generation += 1
        self._values.clear()

    def __len__(self) -> int:
        return len(self._values)


def column_values(instance: Any) -> tuple | None:
    """The row as plain values, or None when some column is not loaded."""
    loaded = inspect(instance).dict
    keys = _column_keys(type(instance))
    if any(key not in loaded for key in keys):
        return None
    return tuple(loaded[key] for key in keys)


def _column_keys(entity: type) -> tuple[str, ...]:
    return tuple(attribute.key for attribute in inspect(entity).column_attrs)


def caches_of(session: AsyncSession | Session) -> RowCaches:
    """The caches of the app the session belongs to (none for other sessions: CLI, tests)."""
    sync_session = session.sync_session if isinstance(session, AsyncSession) else session
    return getattr(sync_session, "row_caches", NO_CACHES)


async def cached_row(session: AsyncSession, cache: RowCache, key: Hashable, entity: type[Row],
                     query: Callable[[], Select[tuple[Row]]]) -> Row | None:
    """The row of `entity` with cache key `key`, read by `query()` when the cache lacks it.
    A cached row joins the session as loaded: changing it flushes only what changed."""
    values = cache.get(key)
    if values is not MISSING:
        instance = inspect(entity).class_manager.new_instance()
        for column, value in zip(_column_keys(entity), values):
            set_committed_value(instance, column, value)
        make_transient_to_detached(instance)
        session.sync_session.add(instance)
        return instance
    generation = cache.generation
    instance = await session.scalar(query())
    if instance is not None and (values := column_values(instance)) is not None:
        cache.put(key, values, generation)
    return instance


@dataclass(frozen=True)
class Watched:
    cache: RowCache
    entity: type
    key_of: Callable[[Any], Hashable]
    value_of: Callable[[Any], Any]


class RowCaches:
    def __init__(self, size: int) -> None:
        self.users = RowCache(size)
        self.fsm = RowCache(size)
        self.drafts = RowCache(size)
        self._watched = (
            Watched(self.users, User, lambda user: user.tg_index, column_values),
            Watched(self.fsm, FsmRecord, lambda record: record.key, lambda record: (record.state, record.data)),
            Watched(self.drafts, SelfCheckDraft, lambda draft: (draft.user_id, draft.instrument), column_values),
        )

    @classmethod
    def for_database(cls, url: str, size: int = DEFAULT_SIZE) -> RowCaches:
        return cls(size if is_sqlite(url) else 0)

    def session_class(self) -> type[Session]:
        """A session class whose sessions keep these caches true to what they commit."""
        watched = type("CachingSession", (Session,), {"row_caches": self})
        event.listen(watched, "after_flush", self._after_flush)
        event.listen(watched, "do_orm_execute", self._bulk_statement)
        event.listen(watched, "after_commit", self._committed)
        event.listen(watched, "after_rollback", self._rolled_back)
        return watched

    def _watching(self, instance: Any) -> Watched | None:
        return next((watched for watched in self._watched if isinstance(instance, watched.entity)), None)

    @staticmethod
    def _pending(session: Session) -> dict[Watched, dict[Hashable, Any] | None]:
        """Per watched table: rows written in this transaction by key (None: deleted), or
        None for the whole table (after a bulk statement)."""
        return session.info.setdefault("demeu_cache_pending", {})

    def _after_flush(self, session: Session, _flush: UOWTransaction) -> None:
        pending = self._pending(session)
        deleted = set(session.deleted)
        for instance in chain(session.new, session.dirty, deleted):
            watched = self._watching(instance)
            if watched is None:
                continue
            key = watched.key_of(instance)
            watched.cache.drop(key)
            rows = pending.setdefault(watched, {})
            if rows is not None:
                rows[key] = None if instance in deleted else instance

    def _bulk_statement(self, state: ORMExecuteState) -> None:
        if not (state.is_update or state.is_delete or state.is_insert) or state.bind_mapper is None:
            return
        watched = self._watching_entity(state.bind_mapper.class_)
        if watched is not None:
            watched.cache.clear()
            self._pending(state.session)[watched] = None

    def _watching_entity(self, entity: type) -> Watched | None:
        return next((watched for watched in self._watched if watched.entity is entity), None)

    def _committed(self, session: Session) -> None:
        """Now the rows are what others read: drop them again (a read of the old row may have
        run between the flush and the commit), then cache what was written."""
        for watched, rows in session.info.pop("demeu_cache_pending", {}).items():
            if rows is None:
                watched.cache.clear()
                continue
            for key, instance in rows.items():
                watched.cache.drop(key)
                if instance is not None and inspect(instance).persistent:
                    value = watched.value_of(instance)
                    if value is not None:
                        watched.cache.put(key, value, watched.cache.generation)

    def _rolled_back(self, session: Session) -> None:
        for watched, rows in session.info.pop("demeu_cache_pending", {}).items():
            if rows is None:
                watched.cache.clear()
            else:
                for key in rows:
                    watched.cache.drop(key)


NO_CACHES = RowCaches(0)
