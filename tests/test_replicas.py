"""The country's topology: two bot processes in webhook mode behind a load balancer, one PostgreSQL,
one Redis. Any replica takes any update; reminders and a broadcast go out exactly once."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import ClientError, ClientSession
from sqlalchemy import text
from sqlalchemy.engine import make_url

from storage import db
from storage.models.base import utcnow
from storage.repo import broadcasts, reminders, users
from tests.conftest import POSTGRES_URL, REDIS_URL, TEST_HMAC, TEST_KEYS

pytestmark = pytest.mark.skipif(
    not (POSTGRES_URL and REDIS_URL), reason="DEMEU_TEST_POSTGRES_URL and DEMEU_TEST_REDIS_URL not set"
)

TEACHERS = list(range(9_100_000, 9_100_060))
REMINDER = re.compile(r"R-\d{4}")
BROADCAST_MARK = "Жиналыс B-7731"
COORDINATOR = 9_199_999
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
async def postgres_url() -> str:
    name = "demeu_r_" + uuid.uuid4().hex[:12]
    admin = db.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    async with admin.connect() as connection:
        await connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    await admin.dispose()


async def prepare(url: str, progress_message_id: int) -> dict[int, int]:
    """Migrated database with consented teachers, 200 due reminders and a broadcast to all of them."""
    engine = db.create_engine(url)
    await db.upgrade(engine)
    sessions = db.session_factory(engine)
    async with sessions() as session:
        ids = {}
        for telegram_id in TEACHERS:
            user = await users.create(session, telegram_id, "kk" if telegram_id % 2 else "ru")
            user.consent_at = utcnow()
            ids[telegram_id] = user.id
        coordinator = await users.create(session, COORDINATOR, "ru")
        coordinator.role, coordinator.consent_at = "coordinator", utcnow()
        due = utcnow() + timedelta(seconds=3)
        for n in range(200):
            params = {"text": "rem-booking-psy", "args": {"code": f"R-{n:04d}", "when": "—", "format": "—"}}
            await reminders.schedule(
                session, f"replica-{n}", ids[TEACHERS[n % len(TEACHERS)]], due, "message", params
            )
        draft = await broadcasts.create_draft(
            session,
            created_by=coordinator.id,
            text_kk=BROADCAST_MARK,
            text_ru=BROADCAST_MARK,
            audience="all",
            group_id=None,
            language="ru",
        )
        await broadcasts.start(session, draft, None, utcnow(), COORDINATOR, progress_message_id)
        await session.commit()
    await engine.dispose()
    return ids


def replica_env(url: str, api_base: str, token: str, port: int, data_dir) -> dict[str, str]:
    return {
        **os.environ,
        "BOT_TOKEN": token,
        "DEMEU_DATABASE_URL": url,
        "DEMEU_ENCRYPTION_KEYS": ",".join(TEST_KEYS),
        "DEMEU_HMAC_KEY": TEST_HMAC,
        "DEMEU_TELEGRAM_API_SERVER": api_base,
        "DEMEU_TELEGRAM_MODE": "webhook",
        "DEMEU_TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{port}",
        "DEMEU_TELEGRAM_WEBHOOK_HOST": "127.0.0.1",
        "DEMEU_TELEGRAM_WEBHOOK_PORT": str(port),
        "DEMEU_TELEGRAM_WEBHOOK_SECRET": "replica-secret-0123456789abcdefABCDEF_-",
        "DEMEU_FSM_STORAGE": REDIS_URL,
        "DEMEU_REMINDERS_POLL_SECONDS": "0.5",
        "DEMEU_BOT_DATA_DIR": str(data_dir),
        "PYTHONPATH": str(ROOT),  # for tests.reporting_bot, run from the replica's own directory
    }


async def wait_healthy(
    port: int, process: subprocess.Popen, timeout: float = 180
) -> None:  # a ceiling: a loaded machine imports slowly
    deadline = asyncio.get_running_loop().time() + timeout
    async with ClientSession() as client:
        while asyncio.get_running_loop().time() < deadline:
            assert process.poll() is None, "a replica exited at start"
            try:
                async with client.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return
            except ClientError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"replica on port {port} never became healthy")


def sent_texts(fake_api) -> list:
    return [c for c in fake_api.calls if c.method == "sendMessage" and c.status == 200]


async def test_two_webhook_replicas_share_updates_and_send_scheduled_work_once(
    fake_api, postgres_url, tmp_path
):
    # The coordinator's confirm screen, which the sending replica edits into a progress report.
    fake_api.user(user_id=COORDINATOR, language_code="ru")
    progress = fake_api.store_message(COORDINATOR, fake_api.bot_user, text="…")
    await prepare(postgres_url, progress.message_id)
    ports = [free_port(), free_port()]
    logs, replicas = [], []
    for number, port in enumerate(ports):
        data_dir = tmp_path / f"replica{number}"
        data_dir.mkdir()
        log = open(tmp_path / f"replica{number}.log", "w")
        logs.append(log)
        replicas.append(
            subprocess.Popen(
                [sys.executable, "-m", "tests.reporting_bot"],
                env=replica_env(postgres_url, fake_api.base_url, fake_api.token, port, data_dir),
                cwd=data_dir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    fake_api.reports_handled = True  # tests.reporting_bot tells it when each update is handled
    try:
        for port, process in zip(ports, replicas, strict=True):
            await wait_healthy(port, process)
        # The load balancer: Telegram's pushes alternate between the replicas.
        fake_api.webhook_targets = [f"http://127.0.0.1:{port}/telegram" for port in ports]

        # Teachers talk while the scheduled work runs; each press may land on either replica, and the
        # conversation state in Redis carries over.
        for telegram_id in TEACHERS[:6]:
            teacher = fake_api.user(user_id=telegram_id, language_code="ru")
            await teacher.send_text("/menu")
            await teacher.press_data("m:settings")
            await teacher.press_data("m:main")
            assert teacher.last.inline_keyboard, "every screen keeps its buttons"

        deadline = asyncio.get_running_loop().time() + 90
        while asyncio.get_running_loop().time() < deadline:
            reminders_out = [c for c in sent_texts(fake_api) if REMINDER.search(c.params.get("text", ""))]
            broadcast_out = [c for c in sent_texts(fake_api) if BROADCAST_MARK in c.params.get("text", "")]
            if len(reminders_out) >= 200 and len(broadcast_out) >= len(TEACHERS):
                break
            await asyncio.sleep(0.25)
        await asyncio.sleep(2)  # a duplicate would arrive now
    finally:
        for process in replicas:
            process.send_signal(signal.SIGTERM)
        for process in replicas:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in logs:
            log.close()

    replica_logs = "".join((tmp_path / f"replica{n}.log").read_text() for n in range(2))
    reminder_counts = Counter(
        REMINDER.search(c.params["text"]).group(0)
        for c in sent_texts(fake_api)
        if REMINDER.search(c.params.get("text", ""))
    )
    assert len(reminder_counts) == 200 and set(reminder_counts.values()) == {1}, replica_logs[-3000:]
    broadcast_counts = Counter(
        c.chat_id for c in sent_texts(fake_api) if BROADCAST_MARK in c.params.get("text", "")
    )
    assert set(broadcast_counts) == set(TEACHERS) and set(broadcast_counts.values()) == {1}
    assert set(fake_api.webhook_statuses) == {200}
    handled_by = Counter(status for status in fake_api.webhook_statuses)
    assert handled_by[200] >= 18  # 6 teachers x 3 updates, spread over both replicas
    for telegram_id in TEACHERS:
        assert str(telegram_id) not in replica_logs, "logs carry pseudonyms, never Telegram ids"
