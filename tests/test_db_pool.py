"""PostgreSQL connections that died while idle in the pool (a restart, a failover) are found and
replaced at checkout, so the next update does not fail on them."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from storage import db
from tests.conftest import POSTGRES_URL, fresh_postgres

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="DEMEU_TEST_POSTGRES_URL not set")


async def backend_pid(engine) -> int:
    async with engine.connect() as connection:
        return await connection.scalar(text("SELECT pg_backend_pid()"))


async def test_a_connection_killed_while_idle_is_replaced_at_checkout(monkeypatch):
    async with fresh_postgres() as url:
        engine = db.create_engine(url)
        admin = db.create_engine(url)
        try:
            first = await backend_pid(engine)
            async with admin.connect() as connection:  # the server drops the pooled connection
                await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
            monkeypatch.setattr(db, "IDLE_PING_SECONDS", -1)  # as if it had been idle long enough
            second = await backend_pid(engine)
            assert second != first
        finally:
            await engine.dispose()
            await admin.dispose()


async def test_a_connection_in_steady_use_is_not_pinged(monkeypatch):
    from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection

    pings = []
    ping = AsyncAdapt_asyncpg_connection.ping
    monkeypatch.setattr(AsyncAdapt_asyncpg_connection, "ping", lambda self: pings.append(1) or ping(self))
    async with fresh_postgres() as url:
        engine = db.create_engine(url)
        try:
            first = await backend_pid(engine)  # a new connection: pinged once
            pings.clear()
            assert [await backend_pid(engine) for _ in range(5)] == [first] * 5
            assert pings == []  # three round trips saved on each of those five
        finally:
            await engine.dispose()
