"""Reminders through the real app and the fake Bot API: on time, never after a cancel, once per
reschedule, exactly once across restarts and two processes, through 429/5xx, and quiet for a
user who blocked the bot."""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from bot.app import App
from bot.workers.reminders import ReminderWorker
from storage import db
from storage.models import Reminder, User
from storage.models.base import utcnow
from storage.repo import reminders as repo
from storage.repo import users
from tests.conftest import TEST_HMAC, TEST_KEYS, make_settings
from tests.waiting import wait_for

FAST = {"poll_seconds": 60, "retry_seconds": 0.2, "lease_seconds": 30, "batch": 10}
MARK = re.compile(r"R-\d{4}")


def marked(n: int) -> dict:
    """A real catalogue text whose {code} carries a marker the test can count at the fake server."""
    return {"text": "rem-booking-psy", "args": {"code": f"R-{n:04d}", "when": "—", "format": "—"}}


async def make_users(sessions, ids: list[int], language: str = "ru") -> dict[int, int]:
    """Telegram id -> users.id."""
    async with sessions() as session:
        made = {tg: (await users.create(session, tg, language)).id for tg in ids}
        await session.commit()
    return made


async def schedule(sessions, *items: tuple) -> None:
    """items: (key, user_id, due_at, params[, expires_at])."""
    async with sessions() as session:
        for key, user_id, due_at, params, *expires in items:
            await repo.schedule(
                session, key, user_id, due_at, "message", params, expires_at=(expires or [None])[0]
            )
        await session.commit()


def delivered(fake_api, chat_id: int | None = None) -> list:
    return [
        c
        for c in fake_api.calls
        if c.method == "sendMessage" and c.status == 200 and (chat_id is None or c.chat_id == chat_id)
    ]


def markers(fake_api) -> Counter:
    return Counter(
        MARK.search(c.params["text"]).group(0) for c in delivered(fake_api) if MARK.search(c.params["text"])
    )


async def statuses(sessions) -> dict[str, str]:
    async with sessions() as session:
        return {r.key: r.status for r in await session.scalars(select(Reminder))}


async def all_sent(sessions) -> bool:
    return set((await statuses(sessions)).values()) == {"sent"}


async def all_ended(sessions) -> bool:
    return "pending" not in (await statuses(sessions)).values()


def lifecycle(app: App) -> dict:
    return {"bot": app.bot, "dispatcher": app.dispatcher, **app.dispatcher.workflow_data}


def worker_of(app: App) -> ReminderWorker:
    return next(w for w in app.workers if isinstance(w, ReminderWorker))


async def test_fires_on_time_in_the_recipients_language(fake_api, start_bot):
    bot = await start_bot(reminders=FAST)  # poll every 60 s: only the precise wake-up can be on time
    sessions = bot.app.sessions
    ids = await make_users(sessions, [8101], "kk") | await make_users(sessions, [8102], "ru")
    due = utcnow() + timedelta(seconds=1.5)
    await schedule(
        sessions,
        ("a", ids[8101], due, {"text": "rem-checkin"}),
        ("b", ids[8102], due, {"text": "rem-checkin"}),
    )
    await wait_for(lambda: len(delivered(fake_api)) == 2)
    await wait_for(lambda: all_sent(sessions))
    async with sessions() as session:
        sent = {r.key: r.sent_at for r in await session.scalars(select(Reminder))}
    assert all(timedelta(0) <= sent_at - due < timedelta(seconds=5) for sent_at in sent.values()), sent
    texts = {c.chat_id: c.params["text"] for c in delivered(fake_api)}
    assert "Бүгін көңіл-күйіңіз қалай" in texts[8101] and "Как вы сегодня" in texts[8102]
    assert fake_api.messages(8101)[-1].inline_keyboard, "a way back to the menu"


async def test_a_wake_up_missed_by_seconds_still_sends(fake_api, start_bot):
    """APScheduler drops a job late by more than its misfire grace (1 s by default); ours have none."""
    bot = await start_bot(reminders=FAST)
    ids = await make_users(bot.app.sessions, [8151])
    await schedule(bot.app.sessions, ("late", ids[8151], utcnow() + timedelta(seconds=0.3), marked(1)))
    time.sleep(2.5)  # the event loop is stuck (a long synchronous call) right when the wake-up is due
    await wait_for(lambda: markers(fake_api) == Counter({"R-0001": 1}), timeout=10)


async def test_cancel_before_due_is_never_sent_and_reschedule_sends_once_at_the_new_time(fake_api, start_bot):
    bot = await start_bot(reminders=FAST)
    sessions = bot.app.sessions
    ids = await make_users(sessions, [8201, 8202, 8203])
    now = utcnow()
    await schedule(
        sessions,
        ("cancelled", ids[8201], now + timedelta(seconds=1), marked(1)),
        ("moved", ids[8202], now + timedelta(seconds=1), marked(2)),
    )
    async with sessions() as session:
        assert await repo.cancel(session, "cancelled")
        await session.commit()
    new_time = now + timedelta(seconds=3)
    await schedule(
        sessions,
        ("moved", ids[8202], new_time, marked(2)),
        ("control", ids[8203], new_time + timedelta(seconds=0.5), marked(3)),
    )
    await wait_for(lambda: delivered(fake_api, 8203))
    await asyncio.sleep(0.5)
    assert markers(fake_api) == Counter({"R-0002": 1, "R-0003": 1})
    async with sessions() as session:
        moved = await repo.by_key(session, "moved")
        # Replaying the same schedule (a retried booking event) does not re-arm a sent reminder.
        await repo.schedule(session, "moved", ids[8202], new_time, "message", marked(2))
        await session.commit()
    assert moved.sent_at >= new_time
    assert await statuses(sessions) == {"cancelled": "cancelled", "moved": "sent", "control": "sent"}
    async with sessions() as session:
        assert not await repo.cancel(session, "moved"), "a sent reminder cannot be cancelled"


async def test_restart_with_due_reminders_sends_each_exactly_once(fake_api, start_bot, tmp_path: Path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'demeu.db'}"
    engine = db.create_engine(url)
    await db.upgrade(engine)
    sessions = db.session_factory(engine)
    ids = await make_users(sessions, [8301, 8302, 8303])
    now = utcnow()
    # Came due while the bot was down: still useful (session ahead), too late (session begun),
    # and one a crashed process had claimed but never finished.
    await schedule(
        sessions,
        ("late-ok", ids[8301], now - timedelta(minutes=5), marked(1), now + timedelta(hours=1)),
        ("too-late", ids[8302], now - timedelta(hours=2), marked(2), now - timedelta(hours=1)),
        ("orphan", ids[8303], now - timedelta(minutes=1), marked(3)),
    )
    async with sessions() as session:
        # Its lease ran out while everything was down.
        claimed = await repo.claim_due(
            session, now - timedelta(seconds=2), "crashed-replica", 10, timedelta(seconds=1)
        )
        await session.commit()
    assert {r.key for r in claimed} == {"late-ok", "orphan"}
    await engine.dispose()

    for _ in range(3):
        bot = await start_bot(database_url=url, reminders=FAST)
        await wait_for(lambda: len(markers(fake_api)) == 2)
        await asyncio.sleep(0.5)
        await bot.stop()
    assert markers(fake_api) == Counter({"R-0001": 1, "R-0003": 1})
    engine = db.create_engine(url)
    assert await statuses(db.session_factory(engine)) == {
        "late-ok": "sent",
        "too-late": "missed",
        "orphan": "sent",
    }
    await engine.dispose()


async def test_while_telegram_is_slow_the_sqlite_database_stays_writable(fake_api, start_bot, tmp_path: Path):
    """A round's reminders are sent in one transaction, and a reminder that ends unsent (its teacher
    left) is recorded after the sends: SQLite has one writer, and a write before them would keep
    every teacher's press waiting as long as Telegram takes to answer."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'slow.db'}"
    bot = await start_bot(database_url=url, reminders=FAST)
    sessions = bot.app.sessions
    ids = await make_users(sessions, [8171, 8172])
    async with sessions() as session:
        await users.mark_inactive(session, ids[8171])
        await session.commit()
    released = fake_api.hold("sendMessage", 8172)
    due = utcnow()
    await schedule(sessions, ("gone", ids[8171], due, marked(1)), ("here", ids[8172], due, marked(2)))
    await wait_for(lambda: any(c.method == "sendMessage" and c.chat_id == 8172 for c in fake_api.calls))
    writer = sqlite3.connect(tmp_path / "slow.db", timeout=0.5)
    try:
        writer.execute("BEGIN IMMEDIATE")  # "database is locked" if the worker held the write lock
        writer.rollback()
    finally:
        writer.close()
        released.set()
    await wait_for(lambda: all_ended(sessions))
    assert await statuses(sessions) == {"gone": "dead", "here": "sent"}


async def test_a_round_cut_by_a_shutdown_keeps_what_telegram_took(fake_api, start_bot):
    """Two teachers' reminders go out together; one is taken by Telegram, the other waits for it
    (a flood wait) when the bot stops: the one taken is recorded as sent, so a restart does not
    send it again."""
    bot = await start_bot(reminders=FAST)
    sessions = bot.app.sessions
    ids = await make_users(sessions, [8181, 8182])
    released = fake_api.hold("sendMessage", 8182)
    due = utcnow()
    await schedule(sessions, ("taken", ids[8181], due, marked(1)), ("waiting", ids[8182], due, marked(2)))
    await wait_for(
        lambda: (
            len(delivered(fake_api, 8181)) == 1
            and any(c.method == "sendMessage" and c.chat_id == 8182 for c in fake_api.calls)
        )
    )
    try:
        await worker_of(bot.app).stop()  # waits for the round, then cuts it
    finally:
        released.set()
    assert await statuses(sessions) == {"taken": "sent", "waiting": "pending"}


async def test_two_processes_send_200_due_reminders_exactly_once(fake_api, database_url, tmp_path: Path):
    settings = make_settings(
        database_url,
        fake_api.base_url,
        fake_api.token,
        tmp_path,
        reminders={**FAST, "poll_seconds": 0.3, "concurrency": 4},
    )
    first = await App.create(settings)
    second = await App.create(settings)
    try:
        ids = await make_users(first.sessions, list(range(8400, 8450)))
        for app in (first, second):  # as run_polling / the webhook app would, without taking updates
            await app.dispatcher.emit_startup(**lifecycle(app))
        due = utcnow() + timedelta(seconds=1)
        user_ids = list(ids.values())
        await schedule(first.sessions, *((f"k{n}", user_ids[n % 50], due, marked(n)) for n in range(200)))
        await wait_for(lambda: len(delivered(fake_api)) >= 200, timeout=60)
        await asyncio.sleep(1)  # a duplicate would show up now
    finally:
        for app in (second, first):
            await app.dispatcher.emit_shutdown(**lifecycle(app))
            await app.close()
    counts = markers(fake_api)
    assert len(counts) == 200 and set(counts.values()) == {1}
    assert len(delivered(fake_api)) == 200
    engine = db.create_engine(database_url)
    sessions = db.session_factory(engine)
    async with sessions() as session:
        rows = list(await session.scalars(select(Reminder)))
    await engine.dispose()
    assert Counter(r.status for r in rows) == {"sent": 200}
    workers = Counter(r.claimed_by for r in rows)
    assert set(workers) <= {worker_of(first).name, worker_of(second).name}
    print(f"\nreminders sent per process: {sorted(workers.values())}")


async def test_429_and_5xx_still_deliver_everything_once(fake_api, start_bot):
    bot = await start_bot(reminders={**FAST, "concurrency": 3})
    sessions = bot.app.sessions
    ids = await make_users(sessions, list(range(8500, 8510)))
    fake_api.inject("sendMessage", status=429, retry_after=1, times=3)
    fake_api.inject("sendMessage", status=502, times=6)  # more than one delivery's tries: some go round again
    fake_api.inject("sendMessage", status=500, times=4)
    due = utcnow() + timedelta(seconds=0.5)
    await schedule(sessions, *((f"k{n}", ids[8500 + n % 10], due, marked(n)) for n in range(20)))
    await wait_for(lambda: len(markers(fake_api)) == 20, timeout=30)
    await asyncio.sleep(0.5)
    assert set(markers(fake_api).values()) == {1}
    failed = [c for c in fake_api.calls if c.method == "sendMessage" and c.status != 200]
    assert Counter(c.status for c in failed) == {429: 3, 502: 6, 500: 4}
    assert set((await statuses(sessions)).values()) == {"sent"}


async def test_a_users_reminders_keep_their_order_through_a_failure(fake_api, start_bot):
    """The first of a user's three reminders fails every try of a round: the two after it wait for
    it, untried (their try is not counted), and all three arrive in order."""
    bot = await start_bot(reminders={**FAST, "backoff_seconds": 0.005})
    sessions = bot.app.sessions
    ids = await make_users(sessions, [8520])
    fake_api.inject("sendMessage", 8520, status=500, times=4)
    due = utcnow()
    await schedule(
        sessions, *((f"o{n}", ids[8520], due + timedelta(milliseconds=n), marked(n)) for n in range(3))
    )
    await wait_for(lambda: len(markers(fake_api)) == 3)
    assert [MARK.search(c.params["text"]).group(0) for c in delivered(fake_api, 8520)] == [
        "R-0000",
        "R-0001",
        "R-0002",
    ]
    async with sessions() as session:
        attempts = {r.key: r.attempts for r in await session.scalars(select(Reminder))}
    assert attempts == {"o0": 2, "o1": 1, "o2": 1}


async def test_blocked_user_gets_one_try_and_their_reminders_stop(fake_api, start_bot):
    bot = await start_bot(reminders={**FAST, "poll_seconds": 0.3})
    sessions = bot.app.sessions
    ids = await make_users(sessions, [8601, 8602])
    fake_api.block(8601)
    due = utcnow() + timedelta(seconds=0.5)
    await schedule(
        sessions,
        *((f"b{n}", ids[8601], due, marked(n)) for n in range(5)),
        ("later", ids[8601], due + timedelta(hours=1), marked(9)),
        ("control", ids[8602], due, marked(10)),
    )
    await wait_for(lambda: delivered(fake_api, 8602))
    await asyncio.sleep(1.5)  # several polls: nothing is retried
    tries = [c for c in fake_api.calls if c.method == "sendMessage" and c.chat_id == 8601]
    assert [c.status for c in tries] == [403]
    async with sessions() as session:
        user = await session.get(User, ids[8601])
        rows = {
            r.key: (r.status, r.last_error)
            for r in await session.scalars(select(Reminder).where(Reminder.user_id == user.id))
        }
    assert user.active is False
    assert set(rows.values()) == {("dead", "blocked")} and len(rows) == 6


async def test_replica_killed_mid_round_leaves_its_reminders_to_the_other(
    fake_api, database_url, tmp_path: Path
):
    """Two real processes; one is killed with SIGKILL while it holds claimed reminders. Nothing is
    lost; a copy can only come from the documented window (killed between Telegram's answer and
    the commit), so there are at most as many as it was sending at that moment."""
    engine = db.create_engine(database_url)
    await db.upgrade(engine)
    sessions = db.session_factory(engine)
    ids = list((await make_users(sessions, list(range(8700, 8760)))).values())
    environ = {
        **os.environ,
        "BOT_TOKEN": fake_api.token,
        "DEMEU_DATABASE_URL": database_url,
        "DEMEU_ENCRYPTION_KEYS": ",".join(TEST_KEYS),
        "DEMEU_HMAC_KEY": TEST_HMAC,
        "DEMEU_TELEGRAM_API_SERVER": fake_api.base_url,
        "DEMEU_BOT_DATA_DIR": str(tmp_path / "data"),
        "DEMEU_REMINDERS_POLL_SECONDS": "0.5",
        "DEMEU_REMINDERS_LEASE_SECONDS": "10",
        "DEMEU_REMINDERS_BATCH": "20",
        "DEMEU_REMINDERS_CONCURRENCY": "2",
        "DEMEU_REMINDERS_AGENDA_TIME": "",
    }
    replicas = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.reminder_replica", env=environ, stdout=asyncio.subprocess.PIPE
        )
        for _ in range(2)
    ]
    try:
        for replica in replicas:
            assert (await asyncio.wait_for(replica.stdout.readline(), 180)).strip() == b"ready"
        await schedule(sessions, *((f"k{n}", ids[n % 60], utcnow(), marked(n)) for n in range(300)))
        await wait_for(lambda: len(delivered(fake_api)) >= 60, timeout=60)
        replicas[0].kill()
        await replicas[0].wait()
        await wait_for(lambda: len(markers(fake_api)) == 300, timeout=90)

        async def all_sent() -> bool:  # a reminder the killed replica sent but never marked: after its lease
            return set((await statuses(sessions)).values()) == {"sent"}

        await wait_for(all_sent, timeout=60)
    finally:
        for replica in replicas:
            if replica.returncode is None:
                replica.terminate()
                await asyncio.wait_for(replica.wait(), 30)
    counts = markers(fake_api)
    copies = sum(counts.values()) - len(counts)
    print(f"\n300 reminders, one replica killed: {copies} sent twice (window: 2 in flight)")
    assert len(counts) == 300 and copies <= 2
    async with sessions() as session:
        rows = list(await session.scalars(select(Reminder)))
    await engine.dispose()
    assert Counter(r.status for r in rows) == {"sent": 300}
    assert replicas[1].returncode == 0, "the survivor stopped cleanly"


async def test_concurrent_claims_are_disjoint_and_purge_keeps_what_matters(database_url):
    engine = db.create_engine(database_url)
    await db.upgrade(engine)
    sessions = db.session_factory(engine)
    try:
        ids = list((await make_users(sessions, [8801, 8802])).values())
        now = utcnow()
        await schedule(
            sessions, *((f"k{n}", ids[n % 2], now - timedelta(seconds=1), marked(n)) for n in range(60))
        )

        async def claim(worker: str) -> set[str]:
            taken: set[str] = set()
            while True:
                async with sessions() as session:
                    batch = await repo.claim_due(session, utcnow(), worker, 7)
                    await session.commit()
                if not batch:
                    return taken
                taken |= {r.key for r in batch}
                await asyncio.sleep(0)

        first, second, third = await asyncio.gather(claim("a"), claim("b"), claim("c"))
        assert len(first) + len(second) + len(third) == 60 and len(first | second | third) == 60

        async with sessions() as session:
            assert await repo.mark_sent(
                session,
                (await repo.by_key(session, "k0")).id,
                "a" if "k0" in first else "b" if "k0" in second else "c",
            )
            assert not await repo.mark_sent(session, (await repo.by_key(session, "k1")).id, "nobody")
            await repo.schedule(session, "fresh", ids[0], now + timedelta(days=1), "message", marked(99))
            await session.commit()
        async with sessions() as session:
            await session.execute(Reminder.__table__.update().values(updated_at=now - timedelta(days=40)))
            await session.commit()
            deleted = await repo.purge_finished(session, now - timedelta(days=30))
            await session.commit()
        # Only k0 was finished; claimed-but-unfinished and future reminders stay.
        assert deleted == 1 and len(await statuses(sessions)) == 60
    finally:
        await engine.dispose()
