"""Per-process caches of the rows most updates read: the user behind the update, their
conversation (FSM) state, an unfinished questionnaire and whether they are in an open chat, so
that a menu press needs no database round trip at all and a questionnaire answer one write.

Only where one process owns the database (SQLite: one bot per region). With PostgreSQL several
replicas share the rows and another replica's change would not be seen, so there the caches
hold nothing and every update reads the database.

A cache never serves a row that differs from the committed one:
- the app's session class is watched: every flush drops the rows it touches, a bulk
  UPDATE/DELETE empties the cache of that table, a transaction that ends without committing
  drops what it had flushed;
- a read that began before a drop does not fill the cache (the generation check), nor does a
  read of a row the reading transaction itself has changed and not yet committed;
- once a transaction commits, a row it wrote is cached as committed (the next step of a
  conversation needs no read) only if nobody else changed that row since this transaction read
  it; otherwise its unchanged columns might be stale and the row is just dropped;
- values are copied in and out, so no instance shares a mutable value (a JSON dict) with it.
Who is in an open chat (`open_chats`: user id -> chat id, or None) is keyed by either side of a
chat, so any write to a chat empties it whole, as a bulk statement empties the others.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from itertools import chain
from typing import Any, TypeVar, cast

from sqlalchemy import Select, event, inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import (
    Mapper,
    ORMExecuteState,
    Session,
    SessionTransaction,
    UOWTransaction,
    make_transient_to_detached,
)

from storage.db import is_sqlite
from storage.models import ChatSession, FsmRecord, SelfCheckDraft, User

MISSING = object()
DEFAULT_SIZE = 20_000  # users active within minutes of each other in one region; bounded memory
READ_AT = "demeu_cache_read_at"  # InstanceState.info: the generation at which the row was read
Row = TypeVar("Row")


class RowCache:
    """Values by key; the least recently used are dropped past `size` (0: caches nothing)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.generation = 0
        self._values: OrderedDict[Hashable, Any] = OrderedDict()
        # When each key was last dropped (bounded; what is forgotten counts as changed).
        self._dropped_at: OrderedDict[Hashable, int] = OrderedDict()
        self._forgotten_until = 0
        self._cleared_at = 0

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
        if not self.size:
            return
        self.generation += 1
        self._values.pop(key, None)
        self._dropped_at[key] = self.generation
        self._dropped_at.move_to_end(key)
        if len(self._dropped_at) > 2 * self.size:
            _, self._forgotten_until = self._dropped_at.popitem(last=False)

    def clear(self) -> None:
        if not self.size:
            return
        self.generation += 1
        self._values.clear()
        self._cleared_at = self.generation

    def changed_since(self, key: Hashable, generation: int) -> bool:
        dropped = self._dropped_at.get(key, self._forgotten_until)
        return dropped > generation or self._cleared_at > generation

    def __len__(self) -> int:
        return len(self._values)


def column_values(instance: Any) -> tuple | None:
    """The row as plain values (mutable ones copied), or None when some column is not loaded."""
    loaded = inspect(instance).dict
    keys = column_keys(type(instance))
    if any(key not in loaded for key in keys):
        return None
    return tuple(_copied(loaded[key]) for key in keys)


def _copied(value: Any) -> Any:
    """JSON columns are dicts and lists (of JSON values); every other column value is immutable.
    Copied as JSON: copy.deepcopy's memo and dispatch cost three times as much."""
    if isinstance(value, dict):
        return {key: _copied(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copied(item) for item in value]
    return value


_COLUMN_KEYS: dict[type, tuple[str, ...]] = {}


def column_keys(entity: type) -> tuple[str, ...]:
    """The entity's column attributes, in the order its values are kept and attached."""
    if entity not in _COLUMN_KEYS:
        mapper: Mapper[Any] = inspect(entity)
        _COLUMN_KEYS[entity] = tuple(attribute.key for attribute in mapper.column_attrs)
    return _COLUMN_KEYS[entity]


def caches_of(session: AsyncSession | Session) -> RowCaches:
    """The caches of the app the session belongs to (none for other sessions: CLI, tests)."""
    sync_session = session.sync_session if isinstance(session, AsyncSession) else session
    return getattr(sync_session, "row_caches", NO_CACHES)


def read_through(
    session: Session, cache: RowCache, key: Hashable, value: Any, generation: int, instance: Any = None
) -> None:
    """Cache what was just read at `generation`, unless this transaction has changed that row
    itself (it would read its own uncommitted write)."""
    if instance is not None:
        inspect(instance).info[READ_AT] = generation
    if not RowCaches.pending_key(session, cache, key):
        cache.put(key, value, generation)


def attach(session: Session, entity: type[Row], values: tuple, generation: int) -> Row:
    """The row of these column values as loaded in `session` (changing it flushes only what
    changed); the session's own instance if it has one already (read twice in one update)."""
    instance = inspect(entity).class_manager.new_instance()
    # As the ORM's loading fills a row's instance: its state's dict, no attribute events (a fresh
    # instance has no history to keep; set_committed_value per column took a third of this).
    inspect(instance).dict.update(zip(column_keys(entity), map(_copied, values), strict=True))
    make_transient_to_detached(instance)
    present = session.identity_map.get(inspect(instance).key)
    if present is not None:
        return cast(Row, present)
    inspect(instance).info[READ_AT] = generation
    session.add(instance)
    return instance


async def cached_row(
    session: AsyncSession,
    cache: RowCache,
    key: Hashable,
    entity: type[Row],
    query: Callable[[], Select[Row]],
) -> Row | None:
    """The row of `entity` with cache key `key`, read by `query()` when the cache lacks it.
    A cached row joins the session as loaded: changing it flushes only what changed."""
    values = recall(session, cache, key)
    sync_session = session.sync_session
    if values is None:  # known to be absent (this update's first read)
        return None
    if values is not MISSING:
        return attach(sync_session, entity, values, cache.generation)
    generation = cache.generation
    # Read into the session's own instance, if it has one: it may be older than this read (read
    # earlier in the update, since changed by another), and what is cached is what was read.
    instance = await session.scalar(query().execution_options(populate_existing=True))
    if instance is not None and (values := column_values(instance)) is not None:
        read_through(sync_session, cache, key, values, generation, instance)
    return instance


@dataclass(frozen=True)
class Watched:
    cache: RowCache
    entity: type
    key_of: Callable[[Any], Hashable]
    value_of: Callable[[Any], Any]


PENDING = "demeu_cache_pending"
KNOWN = "demeu_cache_known"  # session.info: what this update read before its transaction, by cache


def remember(session: AsyncSession, cache: RowCache, key: Hashable, value: Any) -> None:
    """What the update's first read found (outside its transaction, bot/telegram/press.py), for
    the rest of the update: also where the caches hold nothing (PostgreSQL)."""
    session.sync_session.info.setdefault(KNOWN, {}).setdefault(cache, {})[key] = value


def recall(session: AsyncSession, cache: RowCache, key: Hashable) -> Any:
    """The value this update remembered, else the cache's, else MISSING."""
    known = session.sync_session.info.get(KNOWN, {}).get(cache, {})
    return known[key] if key in known else cache.get(key)


class RowCaches:
    def __init__(self, size: int) -> None:
        self.users = RowCache(size)
        self.fsm = RowCache(size)
        self.drafts = RowCache(size)
        self.open_chats = RowCache(size)
        self._wholly = ((self.open_chats, ChatSession),)  # caches emptied by any write to the table
        self._watched = (
            Watched(self.users, User, lambda user: user.tg_index, column_values),
            Watched(
                self.fsm, FsmRecord, lambda record: record.key, lambda record: (record.state, record.data)
            ),
            Watched(
                self.drafts, SelfCheckDraft, lambda draft: (draft.user_id, draft.instrument), column_values
            ),
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
        event.listen(watched, "after_transaction_end", self._ended)
        return watched

    @staticmethod
    def _pending(session: Session) -> dict[RowCache, dict[Hashable, Any] | None]:
        """Per cache: rows written in this transaction by key (the instance, or None when it is
        not to be cached again: deleted, or changed by someone else since read), or None for
        the whole table (after a bulk statement)."""
        return session.info.setdefault(PENDING, {})

    @classmethod
    def pending_key(cls, session: Session, cache: RowCache, key: Hashable) -> bool:
        rows = session.info.get(PENDING, {}).get(cache, {})
        return rows is None or key in rows

    def _watching(self, instance: Any) -> Watched | None:
        return next((watched for watched in self._watched if isinstance(instance, watched.entity)), None)

    def _after_flush(self, session: Session, _flush: UOWTransaction) -> None:
        self._writing(session, set(session.new), session.dirty, set(session.deleted))

    def _writing(
        self, session: Session, inserted: set[Any], changed: Iterable[Any], deleted: set[Any]
    ) -> None:
        """Rows this transaction writes: dropped now, and noted to be cached as written when it
        commits, if nobody else changed them since it read them."""
        pending = self._pending(session)
        for cache, entity in self._wholly:
            if any(isinstance(instance, entity) for instance in chain(inserted, changed, deleted)):
                cache.clear()
                pending[cache] = None
                session.info.get(KNOWN, {}).pop(cache, None)
        for instance in chain(inserted, changed, deleted):
            watched = self._watching(instance)
            if watched is None:
                continue
            key, cache, info = watched.key_of(instance), watched.cache, inspect(instance).info
            session.info.get(KNOWN, {}).get(cache, {}).pop(key, None)
            untouched_by_others = instance in inserted or (
                READ_AT in info and not cache.changed_since(key, info[READ_AT])
            )
            cache.drop(key)
            rows = pending.setdefault(cache, {})
            if rows is None:
                continue
            if instance in deleted or not untouched_by_others:
                rows[key] = None
                info.pop(READ_AT, None)
            else:
                rows[key] = instance
                info[READ_AT] = cache.generation  # our own drop is not someone else's change

    def writing_alone(self, session: Session, instance: Any) -> None:
        """The instance's row is about to be written by its one statement, outside a flush
        (storage/commit.py): what a flush does. Should that write fail, the ORM's flush of the
        same row notes it again, and a transaction that ends uncommitted drops it (`_ended`)."""
        self._writing(session, set(), (instance,), set())

    def written_alone(self, session: Session) -> None:
        """The row written alone is committed: what a commit does (before the instance leaves
        the session, which would make it no longer ours to cache)."""
        self._committed(session)

    def _bulk_statement(self, state: ORMExecuteState) -> None:
        if not (state.is_update or state.is_delete or state.is_insert) or state.bind_mapper is None:
            return
        tables = chain(((w.cache, w.entity) for w in self._watched), self._wholly)
        for cache, entity in tables:
            if state.bind_mapper.class_ is entity:
                cache.clear()
                self._pending(state.session)[cache] = None
                state.session.info.get(KNOWN, {}).pop(cache, None)

    def _committed(self, session: Session) -> None:
        """Now the rows are what others read: drop them again (a read of the old row may have
        run between the flush and the commit), then cache what was written, if still ours."""
        watched_by_cache = {watched.cache: watched for watched in self._watched}
        for cache, rows in session.info.pop(PENDING, {}).items():
            if rows is None:
                cache.clear()
                continue
            for key, instance in rows.items():
                state = inspect(instance) if instance is not None else None
                if state is not None and (
                    not state.persistent or cache.changed_since(key, state.info[READ_AT])
                ):
                    state = None  # gone, or changed by another update since read: not ours to cache
                cache.drop(key)
                if state is not None and (value := watched_by_cache[cache].value_of(instance)) is not None:
                    cache.put(key, value, cache.generation)
                    state.info[READ_AT] = cache.generation

    def _ended(self, session: Session, transaction: SessionTransaction) -> None:
        """A transaction that ends without a commit (rolled back, or the session closed):
        what it flushed never happened; drop it."""
        if transaction.parent is not None:
            return
        for cache, rows in session.info.pop(PENDING, {}).items():
            if rows is None:
                cache.clear()
            else:
                for key in rows:
                    cache.drop(key)


NO_CACHES = RowCaches(0)
