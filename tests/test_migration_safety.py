"""Migrations neither brick the bot nor race: a kill at any moment of a first start leaves a
database the next start migrates, and processes starting together on a fresh database all succeed."""

from __future__ import annotations

import asyncio
import json
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

# First starts' migrations as processes of their own, forked from one that imported the migration
# code once (a fresh interpreter per start spent most of its CPU importing). Each line in is a list
# of [url, kill_after] started at once; each line out their [exit code, output]. A start counts its
# statements, or kills itself (SIGKILL: nothing runs after it) once the given one has run (0: never).
LAUNCHER = """
import asyncio, json, os, signal, sys, traceback
import alembic.command
from sqlalchemy import event
import storage.models
from storage import crypto, db

async def first_start(url, kill_after):
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

def fork(url, kill_after):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        os.dup2(write, 1)
        os.dup2(write, 2)
        code = 0
        try:
            asyncio.run(first_start(url, kill_after))
        except BaseException:
            traceback.print_exc()
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    os.close(write)
    return pid, read

for line in sys.stdin:
    children = [fork(url, kill_after) for url, kill_after in json.loads(line)]
    results = []
    for pid, read in children:
        with os.fdopen(read) as pipe:
            output = pipe.read()
        results.append([os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), output])
    print(json.dumps(results), flush=True)
"""


class FirstStarts:
    """The launcher process; `start` runs first starts at once and returns their exit codes and output."""

    def __init__(self) -> None:
        self.process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> FirstStarts:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            LAUNCHER,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.close()
        await self.process.wait()

    async def start(self, *starts: tuple[str, int]) -> list[tuple[int, str]]:
        assert self.process is not None and self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(starts).encode() + b"\n")
        await self.process.stdin.drain()
        line = await self.process.stdout.readline()
        assert line, "the launcher died"
        return [(code, output) for code, output in json.loads(line)]


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
    async with FirstStarts() as launcher:
        [(code, output)] = await launcher.start((reference, 0))
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
            [(code, output)] = await launcher.start((url, moment))
            assert code == -signal.SIGKILL, (moment, output)
            engine = db.create_engine(url)
            try:
                await db.upgrade(engine)
            finally:
                await engine.dispose()
            assert await schema_of(url) == expected, f"killed after statement {moment} of {statements}"


async def start_twice_at_once(launcher: FirstStarts, url: str) -> None:
    """Two first starts' migrations at once (the bot and `invite`, or two replicas)."""
    for code, output in await launcher.start((url, 0), (url, 0)):
        assert code == 0, output
    assert (await schema_of(url))[0] == (head(),)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_two_processes_starting_together_on_a_fresh_database_both_succeed(tmp_path: Path, backend: str):
    if backend == "postgres" and not POSTGRES_URL:
        pytest.skip("DEMEU_TEST_POSTGRES_URL not set")
    async with FirstStarts() as launcher:
        for round_ in range(CONCURRENT_STARTS):
            if backend == "sqlite":
                await start_twice_at_once(launcher, f"sqlite+aiosqlite:///{tmp_path / f'{round_}.db'}")
            else:
                async with fresh_postgres() as url:
                    await start_twice_at_once(launcher, url)


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
