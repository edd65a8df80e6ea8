"""Shared fixtures: test keys, databases (SQLite always, PostgreSQL when
DEMEU_TEST_POSTGRES_URL is set) and a running bot wired to the fake Bot API server."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.config import Settings, load_settings
from bot.telegram import followups
from storage import crypto, db
from tests.date_style import foreign_dates
from tests.fakeapi import FakeBotAPI
from tests.fakeapi.reporting import report_handled

pytest_plugins = ["tests.fakeapi.pytest_plugin"]

TEST_KEYS = ["x7Y5jM4qVv0w3yVd7QwCkq9m3e4pQK3n6b0bI8t8hbM="]
TEST_HMAC = "test-hmac-key-0123456789abcdef0123456789abcdef"
POSTGRES_URL = os.environ.get("DEMEU_TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("DEMEU_TEST_REDIS_URL")
E2E_ON_POSTGRES = os.environ.get("DEMEU_TEST_E2E_DATABASE") == "postgres"
if E2E_ON_POSTGRES and not POSTGRES_URL:
    raise RuntimeError("DEMEU_TEST_E2E_DATABASE=postgres needs DEMEU_TEST_POSTGRES_URL")

BACKENDS = [
    "sqlite",
    pytest.param(
        "postgres", marks=pytest.mark.skipif(not POSTGRES_URL, reason="DEMEU_TEST_POSTGRES_URL not set")
    ),
]


PSEUDONYM = re.compile(r"\bT-[0-9A-Z]{6}\b")
# Events that are sensitive in themselves: a log line naming a teacher must never speak of them.
SENSITIVE = re.compile(
    r"safety|crisis|urgent|self-check|selfcheck|mood|check-in|checkin|hand-off|handoff|"
    r"distress|suicid|sealed|concern",
    re.IGNORECASE,
)


class _SensitiveLogWatch(logging.Handler):
    """Every log line of the run at the level a deployment logs (INFO), checked as it is written."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.offences: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if PSEUDONYM.search(message) and SENSITIVE.search(message):
            self.offences.append(f"{record.name}: {message}")


@pytest.fixture(scope="session", autouse=True)
def no_pseudonym_beside_a_sensitive_event():
    """Over the whole run (every end-to-end test included): no log line puts a teacher's code next to
    a safety screen, a crisis signal, an urgent question, a self-check outcome or a check-in."""
    watch = _SensitiveLogWatch()
    root = logging.getLogger()
    level = root.level
    root.addHandler(watch)
    root.setLevel(min(level, logging.INFO))
    yield
    root.setLevel(level)
    root.removeHandler(watch)
    assert not watch.offences, "log lines name a teacher beside a sensitive event:\n" + "\n".join(
        watch.offences
    )


@pytest.fixture(autouse=True)
def one_date_style(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every end-to-end test: what the bot showed has its dates in the one style (tests/date_style.py)."""
    yield
    api = request.node.funcargs.get("fake_api")
    if api is not None and (found := foreign_dates(api.calls)):
        pytest.fail("dates in another style than bot/views/dates.py:\n" + "\n".join(found), pytrace=False)


@pytest.fixture(autouse=True)
def test_crypto() -> crypto.Crypto:
    keys = crypto.Crypto.from_keys(TEST_KEYS, TEST_HMAC)
    crypto.install(keys)
    return keys


@asynccontextmanager
async def fresh_postgres(prefix: str = "demeu_t_", template: str | None = None) -> AsyncIterator[str]:
    """A PostgreSQL database of its own on the test server (empty, or a copy of `template`),
    dropped afterwards."""
    name = prefix + uuid.uuid4().hex[:12]
    admin = db.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    copy = f' TEMPLATE "{template}"' if template else ""
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        await admin.dispose()


class MigratedTemplates:
    """Every test's database starts as a copy of one migrated once per test process: migrating
    from empty costs about 0.2 s of CPU, copying a few milliseconds (`db.upgrade` on the copy
    then finds nothing to do, as on any restart). The migrations themselves are tested from
    empty databases (`empty_database_url`)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._sqlite: Path | None = None
        self._postgres: str | None = None

    async def _migrate(self, url: str) -> None:
        crypto.install(crypto.Crypto.from_keys(TEST_KEYS, TEST_HMAC))
        engine = db.create_engine(url)
        try:
            await db.upgrade(engine)
        finally:
            await engine.dispose()

    async def sqlite(self, target: Path) -> str:
        if self._sqlite is None:
            self._sqlite = self.folder / "template.db"
            await self._migrate(f"sqlite+aiosqlite:///{self._sqlite}")
            assert not self._sqlite.with_name("template.db-wal").exists(), "the last close checkpoints"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self._sqlite, target)
        return f"sqlite+aiosqlite:///{target}"

    async def postgres_template(self) -> str:
        if self._postgres is None:
            name = f"demeu_tmpl_{os.getpid()}"
            admin = db.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
            async with admin.connect() as connection:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                await connection.execute(text(f'CREATE DATABASE "{name}"'))
            await admin.dispose()
            await self._migrate(
                make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
            )
            self._postgres = name
        return self._postgres

    async def drop(self) -> None:
        if self._postgres is not None:
            admin = db.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
            async with admin.connect() as connection:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{self._postgres}" WITH (FORCE)'))
            await admin.dispose()


@pytest.fixture(scope="session")
def migrated_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MigratedTemplates]:
    templates = MigratedTemplates(tmp_path_factory.mktemp("templates"))
    yield templates
    asyncio.run(templates.drop())


@pytest.fixture(params=BACKENDS)
async def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, migrated_templates: MigratedTemplates
) -> AsyncIterator[str]:
    """A fresh database at the newest schema: a SQLite file, or a PostgreSQL database of its own."""
    if request.param == "sqlite":
        yield await migrated_templates.sqlite(tmp_path / "demeu.db")
        return
    async with fresh_postgres(template=await migrated_templates.postgres_template()) as url:
        yield url


@pytest.fixture(params=BACKENDS)
async def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database (no schema): a SQLite file, or a PostgreSQL database of its own."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'demeu.db'}"
        return
    async with fresh_postgres() as url:
        yield url


async def stored_bytes(database_url: str) -> bytes:
    """Everything the database holds, as bytes to search for plaintext: the SQLite files (with the
    WAL), or on PostgreSQL every row of every table as text, under its table's name."""
    if db.is_sqlite(database_url):
        database = Path(make_url(database_url).database)
        return b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
    from storage.models import Base

    engine = db.create_engine(database_url)
    parts = []
    try:
        async with engine.connect() as connection:
            for table in Base.metadata.sorted_tables:
                rows = await connection.scalars(text(f'SELECT t::text FROM "{table.name}" t'))
                parts.append(f"table {table.name}\n" + "\n".join(rows))
    finally:
        await engine.dispose()
    return "\n".join(parts).encode()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'demeu.db'}"


def make_settings(database_url: str, api_base: str, token: str, tmp_path: Path, **sections: dict) -> Settings:
    environ = {
        "BOT_TOKEN": token,
        "DEMEU_DATABASE_URL": database_url,
        "DEMEU_ENCRYPTION_KEYS": ",".join(TEST_KEYS),
        "DEMEU_HMAC_KEY": TEST_HMAC,
        "DEMEU_TELEGRAM_API_SERVER": api_base,
        "DEMEU_BOT_DATA_DIR": str(tmp_path / "data"),
    }
    empty = tmp_path / "config.toml"
    empty.touch()
    settings = load_settings(empty, environ=environ)
    # The simulated users type faster than any person: the per-second throttle only where a test sets it.
    sections["limits"] = {"messages_per_second": 30} | sections.get("limits", {})
    return settings.model_copy(
        update={name: getattr(settings, name).model_copy(update=values) for name, values in sections.items()}
    )


class RunningBot:
    """The real app polling the fake server in a task of this event loop; it reports each update
    handled to the fake server, for which the simulated users wait."""

    def __init__(self, settings: Settings, api: FakeBotAPI) -> None:
        self.settings = settings
        self.api = api
        self.app = None
        self.task: asyncio.Task | None = None

    async def start(self) -> RunningBot:
        from bot.app import App

        self.app = await App.create(self.settings)
        report_handled(self.app.dispatcher, self.api, settle=followups.settled)
        self.task = asyncio.create_task(self.app.run_polling(handle_signals=False))
        return self

    async def stop(self) -> None:
        if self.task is not None and not self.task.done():
            await self.app.dispatcher.stop_polling()
            await asyncio.wait_for(self.task, 10)
        await self.app.close()


@pytest.fixture
async def start_bot(fake_api, tmp_path: Path, migrated_templates: MigratedTemplates):
    """start_bot(database_url=..., **config sections) -> RunningBot; stopped at teardown."""
    running: list[RunningBot] = []
    async with AsyncExitStack() as stack:
        # One database per test (restarts within a test find their data): SQLite, or PostgreSQL
        # when DEMEU_TEST_E2E_DATABASE=postgres (.ci/run runs the suite both ways).
        if E2E_ON_POSTGRES:
            template = await migrated_templates.postgres_template()
            default_url = await stack.enter_async_context(fresh_postgres("demeu_e_", template))
        else:
            default_url = await migrated_templates.sqlite(tmp_path / "demeu.db")

        async def start(database_url: str | None = None, **sections: dict) -> RunningBot:
            settings = make_settings(
                database_url or default_url, fake_api.base_url, fake_api.token, tmp_path, **sections
            )
            bot = await RunningBot(settings, fake_api).start()
            running.append(bot)
            return bot

        yield start
        for bot in running:
            await bot.stop()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With DEMEU_TEST_E2E_DATABASE=postgres only the tests that run the bot are collected: the rest
    already ran on both databases (through `database_url`) or need none."""
    if not E2E_ON_POSTGRES:
        return
    kept = [item for item in items if "start_bot" in getattr(item, "fixturenames", ())]
    config.hook.pytest_deselected(items=[item for item in items if item not in kept])
    items[:] = kept


# A ceiling, not a measure: the first statistics screen of a period publishes every region's months
# (and the chart renders in a thread), which on a loaded two-core CI machine runs past the default wait.
STATS_CEILING = 60
