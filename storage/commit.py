"""An update's commit: nothing sent when nothing changed, and one statement when what changed is
one row.

Most presses that write change one row and nothing else (a questionnaire's answer, the day's
first visit). Through the ORM that is a flush (its unit of work, SQLAlchemy's execution of the
UPDATE) and a commit: on PostgreSQL BEGIN, UPDATE and COMMIT, three round trips; on SQLite four
trips to aiosqlite's thread (SQLAlchemy's adapter makes a cursor per statement and closes it).
A single statement is atomic alone, so here it is sent by itself, compiled once per table and
set of columns and given to the driver itself (as the first read is, storage/repo/users.first_read),
with SQLAlchemy's own bind processors (encryption included): on PostgreSQL one round trip outside
any transaction, on SQLite the statement and its commit. The row caches are told what a flush
and its commit would have told them (storage/cache.RowCaches.written_alone).
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass
from typing import Any, cast

import asyncpg
from sqlalchemy import Table, bindparam, inspect, update
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Mapper, Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.schema import ColumnDefault

from storage.cache import caches_of
from storage.db import USED

PRIMARY_KEY = "demeu_pk"  # the bound parameter of the row's primary key (not a column's name)


def _parameter(attribute: str) -> str:
    """The bound parameter of an attribute's new value: not the column's own name, which
    SQLAlchemy keeps for the SET clause it would make itself."""
    return f"demeu_{attribute}"


def autocommit(engine: AsyncEngine) -> AsyncEngine:
    """The engine's connections outside any transaction: a single statement needs none."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def single_writer(engine: AsyncEngine) -> AsyncEngine:
    """Where one changed row is written: on PostgreSQL outside any transaction; on SQLite as
    connections are (the driver begins a transaction with the statement, at no trip of its own,
    where switching to autocommit would take one there and one back)."""
    return engine if engine.dialect.name == "sqlite" else autocommit(engine)


def statements_at_commit(session: Session) -> None:
    """The session will run statements of its own when it commits (a tally's count): its work is
    then more than its changed rows, and its commit a transaction."""
    session.info[USED] = True


async def commit_update(session: AsyncSession, alone: AsyncEngine) -> None:
    """Commit an update's work, and only when there is some: a press answered from what was read
    before the transaction (PostgreSQL's first read, SQLite's caches) ran no statement and changed
    nothing, and sends nothing. `alone`: where a single changed row is written (`single_writer`)."""
    sync = session.sync_session
    if sync.info.get(USED) or sync.new or sync.deleted:
        await session.commit()
        return
    dirty = sync.dirty
    if not dirty:
        return
    if len(dirty) == 1:
        await _write_alone(alone, sync, next(iter(dirty)))
    await session.commit()  # its listeners hear it; with the row written, the flush has nothing to do


@dataclass(frozen=True)
class _Statement:
    sql: str
    names: tuple[str, ...]  # the bound parameters, in the order the SQL numbers them
    processors: dict[str, Any]  # SQLAlchemy's bind processor of each parameter, or None
    defaults: dict[str, ColumnDefault]  # columns set on every UPDATE (`onupdate`), by attribute key


_STATEMENTS: dict[tuple[str, Mapper[Any], frozenset[str]], _Statement | None] = {}


def _statement(dialect: Dialect, mapper: Mapper[Any], changed: frozenset[str]) -> _Statement | None:
    """The UPDATE of these attributes of one row of `mapper`, or None when the ORM's flush would
    do more than one such statement (several tables, a composite key, a value the server makes)."""
    key = (dialect.name, mapper, changed)
    if key in _STATEMENTS:
        return _STATEMENTS[key]
    _STATEMENTS[key] = None
    table, (primary_key, *more_keys) = cast(Table, mapper.local_table), mapper.primary_key
    if len(mapper.tables) != 1 or more_keys or any(c.server_onupdate is not None for c in table.columns):
        return None
    columns: dict[str, Any] = {attribute: mapper.columns[attribute] for attribute in changed}
    defaults: dict[str, ColumnDefault] = {}
    for prop in mapper.column_attrs:
        column = prop.columns[0]
        if column.onupdate is None or prop.key in changed:
            continue
        if not isinstance(column.onupdate, ColumnDefault) or column.onupdate.is_clause_element:
            return None  # made by SQL: the ORM's flush has it
        if column.onupdate.is_callable and _wants_context(column.onupdate):
            return None
        defaults[prop.key] = column.onupdate
        columns[prop.key] = column
    if primary_key.key in columns:
        return None
    query = (
        update(table)
        .where(primary_key == bindparam(PRIMARY_KEY, type_=primary_key.type))
        .values({column: bindparam(_parameter(a), type_=column.type) for a, column in columns.items()})
    )
    compiled = query.compile(dialect=dialect)
    processors = {
        _parameter(attribute): column.type.dialect_impl(dialect).bind_processor(dialect)
        for attribute, column in columns.items()
    }
    processors[PRIMARY_KEY] = primary_key.type.dialect_impl(dialect).bind_processor(dialect)
    _STATEMENTS[key] = _Statement(str(compiled), tuple(compiled.positiontup or ()), processors, defaults)
    return _STATEMENTS[key]


def _wants_context(default: ColumnDefault) -> bool:
    """Whether an `onupdate` function reads the statement's context (which this path has not):
    SQLAlchemy wraps one that takes no argument, and keeps the original as `__wrapped__`."""
    return not hasattr(default.arg, "__wrapped__")


async def _write_alone(engine: AsyncEngine, session: Session, instance: Any) -> None:
    """Write the instance's changes by its one UPDATE and mark them committed (the row caches
    told, as a flush and its commit would tell them); where that cannot be (see `_statement`, or
    the driver failed) leave them to the ORM's flush."""
    state = inspect(instance)
    if any(state.attrs[r.key].history.has_changes() for r in state.mapper.relationships):
        return  # the ORM's flush turns a related object into keys (and maybe other rows)
    changed: dict[str, Any] = {}
    for prop in state.mapper.column_attrs:
        added = state.attrs[prop.key].history.added
        if added:
            changed[prop.key] = added[0]
    if not changed:
        return
    statement = _statement(engine.dialect, state.mapper, frozenset(changed))
    if statement is None:
        return
    values = changed | {
        attribute: made.arg(None) if made.is_callable else made.arg
        for attribute, made in statement.defaults.items()
    }
    given = {_parameter(attribute): value for attribute, value in values.items()}
    given[PRIMARY_KEY] = state.identity[0]
    args = [
        process(given[name]) if (process := statement.processors[name]) else given[name]
        for name in statement.names
    ]
    caches = caches_of(session)
    caches.writing_alone(session, instance)
    if await _sent(engine, statement.sql, args) != 1:
        return  # the row is gone, or the driver failed: the ORM's flush says so as it would have
    for attribute, value in values.items():
        set_committed_value(instance, attribute, value)
    caches.written_alone(session)
    # Out of the session: the ORM would still see it as touched and flush it, to find nothing.
    # The update's handler is done with it (the commit is its last step).
    session.expunge(instance)


async def _sent(engine: AsyncEngine, sql: str, args: list[Any]) -> int | None:
    """The statement sent by the driver itself; the rows it changed, or None when the driver
    failed (the ORM's flush then says it again through SQLAlchemy, whose error is the one the bot
    handles, and whose pool drops a broken connection)."""
    async with engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None, "an open connection of the pool"
        if engine.dialect.name == "sqlite":
            try:  # aiosqlite: one trip to its thread for the statement, one for its commit
                cursor = await driver.execute(sql, args)
                await driver.commit()
                return int(cursor.rowcount)
            except sqlite3.Error:
                await driver.rollback()
                return None
            except BaseException:  # cancelled between them: no transaction left open in the pool
                await asyncio.shield(driver.rollback())
                raise
        try:
            status = await driver.execute(sql, *args)  # "UPDATE <rows>"
        except (asyncpg.InterfaceError, OSError):
            await connection.invalidate()  # a broken connection: not back into the pool
            return None
        except asyncpg.PostgresError:
            return None
        return int(status.rsplit(" ", 1)[1])
