"""SQLAlchemy's aiosqlite dialect with one trip to the SQLite thread per statement.

The stock adapter awaits aiosqlite four times per statement (open a cursor, execute, fetch,
close), and each await is a hand-off to aiosqlite's thread and back (~75 µs here) while the
statement itself takes a few µs. Most of a menu press went into those hand-offs. This cursor
does all four in one call on aiosqlite's thread, with the same connection, transaction and
locking, so SQLAlchemy sees an ordinary DBAPI cursor.

`create_engine` in `storage.db` uses it for `sqlite+aiosqlite` URLs.
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)

DRIVER = "demeu_aiosqlite"


def _run(connection: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> tuple:
    """On aiosqlite's thread: the whole statement, results read and cursor closed."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        else:
            cursor.execute(operation, () if parameters is None else parameters)
        rows = cursor.fetchall() if cursor.description else None
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ("_arraysize", "_description", "_lastrowid", "_rowcount")

    def _make_new_cursor(self, connection: Any) -> None:
        self._description = None
        self._rowcount = -1
        self._lastrowid = None
        self._arraysize = 1

    def _aenter_cursor(self, cursor: Any) -> None:
        return None  # the sqlite3 cursor lives only inside `_run`

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _async_soft_close(self) -> None:
        """Nothing to close: the rows are already read."""

    async def _execute_async(self, operation: Any, parameters: Any) -> None:
        await self._trip(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> None:
        await self._trip(operation, seq_of_parameters, many=True)

    async def _trip(self, operation: Any, parameters: Any, *, many: bool) -> None:
        async with self._adapt_connection._execute_mutex:
            aiosqlite_connection = self._connection
            description, self._rowcount, self._lastrowid, rows = await aiosqlite_connection._execute(
                _run, aiosqlite_connection._conn, operation, parameters, many
            )
            self._description = description
            if rows is not None:
                self._rows = collections.deque(rows)


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneTripCursor


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        return OneTripConnection(self, super().connect(*arg, **kw)._connection)


class OneTripSQLiteDialect(SQLiteDialect_aiosqlite):
    driver = DRIVER
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> OneTripDBAPI:
        return OneTripDBAPI(__import__("aiosqlite"), __import__("sqlite3"))


registry.register(f"sqlite.{DRIVER}", __name__, "OneTripSQLiteDialect")
