"""Engine, sessions and migrations for SQLite (one region) and PostgreSQL (the country)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from alembic import command
from alembic.config import Config
from sqlalchemy import event, exc, text
from sqlalchemy.engine import CursorResult, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable, Select

from storage import files

MIGRATIONS = Path(__file__).parent / "migrations"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(
    url: str, *, echo: bool = False, pool_size: int = 10, max_overflow: int = 20, **options: Any
) -> AsyncEngine:
    if is_sqlite(url):
        parsed = make_url(url)
        if parsed.database and parsed.database != ":memory:":
            # Made owner-only before SQLite opens it: SQLite would create it (and its WAL) with the umask's mode.
            files.private_dir(Path(parsed.database).parent)
            files.private_file(Path(parsed.database))
        # No rollback when a connection goes back to the pool: every transaction of the app ends
        # with its commit or its rollback (a session's close, a connection's close), and on
        # aiosqlite that idle rollback is one more trip to its thread for each update that wrote.
        engine = create_async_engine(
            parsed, echo=echo, connect_args={"timeout": 30}, pool_reset_on_return=None, **options
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_async_engine(url, echo=echo, pool_size=pool_size, max_overflow=max_overflow, **options)
    event.listen(engine.sync_engine, "checkout", _ping_if_idle)
    event.listen(engine.sync_engine, "checkin", _mark_checkin)
    return engine


# A connection back in use within this many seconds is trusted without a ping. SQLAlchemy's
# pool_pre_ping pings on every checkout, which on asyncpg is three round trips (BEGIN, ping,
# ROLLBACK): more than the queries of a menu press. A connection broken meanwhile (a failover)
# fails one update, and SQLAlchemy then drops the whole pool.
IDLE_PING_SECONDS = 30


def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    if time.monotonic() - record.info.get("checked_in", float("-inf")) > IDLE_PING_SECONDS:
        try:
            dbapi_connection.ping()
        except Exception as error:
            raise exc.DisconnectionError(str(error)) from error


def _mark_checkin(_dbapi_connection: Any, record: Any) -> None:
    record.info["checked_in"] = time.monotonic()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the scheduler read while a handler writes; foreign keys make deletes cascade.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    _switch_to_wal(cursor)
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


WAL_TRIES = 100  # 5 s at most


def _switch_to_wal(cursor: Any) -> None:
    """Two processes opening a new database at once (the bot and `invite`, or two replicas) both
    switch it to WAL, and SQLite may refuse one at once, without waiting for the busy timeout:
    that one tries again a moment later (milliseconds, once, at start)."""
    for attempt in range(WAL_TRIES):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or attempt == WAL_TRIES - 1:
                raise
            time.sleep(0.05)


def session_factory(
    engine: AsyncEngine, session_class: type[Session] | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions of the app, of `session_class` (the row caches' `RowCaches.session_class()`) or a
    plain one. Either way the class is the app's own, so listeners on it (`on_commit`) hear this
    app's sessions only."""
    own = session_class or type("AppSession", (Session,), {})
    event.listen(own, "after_begin", _connection_used)
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=own)


USED = "demeu_connection_used"  # session.info: a connection took part in the session's work (or will)


def _connection_used(session: Session, _transaction: Any, _connection: Any) -> None:
    session.info[USED] = True


def on_commit(
    sessions: async_sessionmaker[AsyncSession],
    committed: Callable[[Session], None],
    rolled_back: Callable[[Session], None],
) -> None:
    """Call `committed` after each commit of these sessions, `rolled_back` after each rollback."""
    own = sessions.kw["sync_session_class"]
    event.listen(own, "after_commit", committed)
    event.listen(own, "after_rollback", rolled_back)


async def changed(session: AsyncSession, statement: Executable, params: dict[str, Any] | None = None) -> int:
    """Run an UPDATE, DELETE or INSERT ... ON CONFLICT (with `params` for its bound parameters);
    how many rows it changed."""
    result = await session.execute(statement, params)
    return cast(CursorResult[Any], result).rowcount


def dialect_of(session: AsyncSession) -> str:
    """ "sqlite" or "postgresql": the few statements that differ (upserts, locks) choose by it."""
    bind = session.bind
    assert bind is not None, "sessions of the app are bound to its engine"
    return bind.dialect.name


async def lock_rows(
    session: AsyncSession, statement: Select[Any], params: dict[str, Any] | None = None
) -> None:
    """Take the row locks of a SELECT ... FOR UPDATE/SHARE (with `params` for its bound
    parameters) on PostgreSQL. SQLite has one writer at a time and no row locks, so there the
    statement would be a round trip that locks nothing."""
    if dialect_of(session) == "postgresql":
        await session.execute(statement, params)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


# Any constant both replicas agree on: PostgreSQL's advisory lock that serialises migrations.
MIGRATION_LOCK = 0x44454D4555  # "DEMEU"


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply migrations in one transaction that also serialises processes: a kill at any moment
    leaves the previous schema, and a second process starting at once waits, then finds it done."""
    async with engine.connect() as connection:
        await connection.run_sync(
            _upgrade_sync, str(engine.url.render_as_string(hide_password=False)), revision
        )


def _upgrade_sync(connection: Any, url: str, revision: str) -> None:
    config = alembic_config(url)
    config.attributes["connection"] = connection
    if connection.dialect.name != "sqlite":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        command.upgrade(config, revision)
        connection.commit()
        return
    # Python's sqlite3 opens a transaction only before INSERT/UPDATE/DELETE, so each CREATE or
    # ALTER would commit on its own. Driving the transaction ourselves makes the DDL atomic, and
    # IMMEDIATE takes the write lock first: another process waits (busy timeout), then sees the
    # version this one committed.
    dbapi = connection.connection.dbapi_connection
    previous = dbapi.isolation_level
    dbapi.isolation_level = None
    try:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        command.upgrade(config, revision)
        connection.commit()
    finally:
        if connection.in_transaction():
            connection.rollback()
        dbapi.isolation_level = previous


async def ping(engine: AsyncEngine) -> bool:
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
