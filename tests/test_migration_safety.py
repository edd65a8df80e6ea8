"""Migrations neither brick the bot nor race: a kill at any moment of a first start leaves a
database the next start migrates, and processes starting together on a fresh database all succeed."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from pathlib import Path

import pytest
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from storage import crypto, db
from storage.models import Base
from tests.conftest import POSTGRES_URL, fresh_postgres

ROOT = Path(__file__).resolve().parents[1]
KILLS = 10
CONCURRENT_STARTS = 10

# A first start's migration: counts its statements, or kills itself (SIGKILL: nothing runs after it)
# once the given one has run (0: never).
KILL_AFTER = """
import asyncio, os, signal, sys
from sqlalchemy import event
from storage import crypto, db

async def main(url, kill_after):
    crypto.install(crypto.Crypto.from_keys([crypto.generate_encryption_key()], crypto.generate_hmac_key()))
    engine = db.create_engine(url)
    count = 0
    def statement_done(*_):
        nonlocal count
        count += 1
        if count == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)
    event.listen(engine.sync_engine, "after_cursor_execute", statement_done)
    await db.upgrade(engine)
    print(count)

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


async def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *args,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, output.decode()


def schema(connection) -> tuple[tuple[str, ...], dict[str, list[str]]]:
    heads = MigrationContext.configure(connection).get_current_heads()
    inspector = inspect(connection)
    tables = {
        name: sorted(c["name"] for c in inspector.get_columns(name)) for name in inspector.get_table_names()
    }
    return heads, tables


async def schema_of(url: str) -> tuple[tuple[str, ...], dict[str, list[str]]]:
    engine = db.create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(schema)
    finally:
        await engine.dispose()


def head() -> str:
    revision = ScriptDirectory.from_config(db.alembic_config("sqlite://")).get_current_head()
    assert revision
    return revision


async def test_a_kill_at_any_moment_of_a_first_start_leaves_a_database_the_next_start_migrates(
    tmp_path: Path,
):
    reference = f"sqlite+aiosqlite:///{tmp_path / 'reference.db'}"
    code, output = await run(sys.executable, "-c", KILL_AFTER, reference, "0")
    assert code == 0, output
    statements = int(output.split()[-1])
    expected = await schema_of(reference)
    assert expected[0] == (head(),)
    assert set(Base.metadata.tables) <= set(expected[1])

    # Ten moments spread over the whole first migration, the first and the last statement included.
    moments = sorted({1 + (statements - 1) * i // (KILLS - 1) for i in range(KILLS)})
    assert len(moments) == KILLS
    for moment in moments:
        url = f"sqlite+aiosqlite:///{tmp_path / f'killed-{moment}.db'}"
        code, output = await run(sys.executable, "-c", KILL_AFTER, url, str(moment))
        assert code == -signal.SIGKILL, (moment, output)
        engine = db.create_engine(url)
        try:
            await db.upgrade(engine)
        finally:
            await engine.dispose()
        assert await schema_of(url) == expected, f"killed after statement {moment} of {statements}"


async def start_twice_at_once(url: str) -> None:
    """Two first starts' migrations at once (the bot and `invite`, or two replicas)."""
    results = await asyncio.gather(*(run(sys.executable, "-c", KILL_AFTER, url, "0") for _ in range(2)))
    for code, output in results:
        assert code == 0, output
    assert (await schema_of(url))[0] == (head(),)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_two_processes_starting_together_on_a_fresh_database_both_succeed(tmp_path: Path, backend: str):
    if backend == "postgres" and not POSTGRES_URL:
        pytest.skip("DEMEU_TEST_POSTGRES_URL not set")
    for round_ in range(CONCURRENT_STARTS):
        if backend == "sqlite":
            await start_twice_at_once(f"sqlite+aiosqlite:///{tmp_path / f'{round_}.db'}")
        else:
            async with fresh_postgres() as url:
                await start_twice_at_once(url)


def test_processes_generating_local_keys_at_once_end_with_the_same_keys(tmp_path: Path):
    start = threading.Barrier(8)
    seen: list[tuple[list[str], str]] = []

    def load() -> None:
        start.wait()
        seen.append(crypto.load_or_create_local_keys(tmp_path))

    threads = [threading.Thread(target=load) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 8
    assert all(keys == seen[0] for keys in seen)
    assert [p.name for p in tmp_path.iterdir()] == ["keys.json"]
