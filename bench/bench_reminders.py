"""Starting with a full reminders table: what the reminder worker costs at start.

    python -m bench.bench_reminders [--database postgresql+asyncpg://...] [--pending 100000]

Prints, side by side in one run on this machine, time and memory (tracemalloc peak of Python
allocations, and growth of resident memory) of:
- the worker's first round on an empty table (the baseline);
- the same with --pending future reminders: the table is the truth, so nothing is loaded per
  reminder, only the next due time is read from the (status, due_at) index;
- the naive design for comparison: load every pending row and add one APScheduler job each;
- a catch-up after downtime: 1,000 reminders already due, claimed, sent (to a Bot API that answers
  at once) and marked, with the send rate.
Without --database a SQLite file in a temporary directory is used; with a PostgreSQL URL a
temporary database is created next to the one named and dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import shutil
import tracemalloc
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from zoneinfo import ZoneInfo

from aiogram import Bot
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import make_url

from bench.stack import BENCH_HMAC, BENCH_KEYS, TOKEN, NullSession, Stopwatch, rss_mb, temp_dir
from bot.config import RemindersConfig
from bot.telegram.i18n import build_i18n
from bot.workers.reminders import ReminderWorker
from storage import crypto, db
from storage.models import Reminder
from storage.models.base import utcnow
from storage.repo import users

USERS = 1_000
CATCH_UP = 1_000


async def fill(
    sessions, user_ids: list[int], count: int, *, due_now: bool = False, prefix: str = "p"
) -> None:
    """`count` pending reminders: spread over the next 30 days, or all due a minute ago."""
    now = utcnow()
    rows = [
        {
            "key": f"{prefix}{n}",
            "user_id": user_ids[n % len(user_ids)],
            "due_at": now - timedelta(minutes=1)
            if due_now
            else now + timedelta(seconds=random.uniform(60, 30 * 86400)),
            "expires_at": None,
            "kind": "message",
            "params": {"text": "rem-checkin"},
            "status": "pending",
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        }
        for n in range(count)
    ]
    async with sessions() as session:
        for start in range(0, count, 5_000):
            await session.execute(insert(Reminder), rows[start : start + 5_000])
        await session.commit()


def new_worker(bot: Bot, sessions, i18n) -> tuple[ReminderWorker, AsyncIOScheduler]:
    scheduler = AsyncIOScheduler()
    scheduler.start()
    config = RemindersConfig(poll_seconds=3600, batch=100, concurrency=16)
    return ReminderWorker(bot, sessions, scheduler, i18n, config, ZoneInfo("Asia/Almaty"), {}), scheduler


async def measure(label: str, action: Callable[[], Awaitable[object]]) -> dict:
    """Time and RSS growth in one run, then tracemalloc's peak in a second run (it slows Python down)."""
    gc.collect()
    rss_before = rss_mb()
    with Stopwatch() as watch:
        await action()
    rss_growth = rss_mb() - rss_before
    gc.collect()
    tracemalloc.start()
    await action()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"label": label, "ms": watch.seconds * 1000, "peak_mb": peak / 2**20, "rss_mb": rss_growth}


async def run(database: str | None, pending: int) -> None:
    folder = temp_dir()
    crypto.install(crypto.Crypto.from_keys([BENCH_KEYS], BENCH_HMAC))
    admin = None
    if database:
        name = "demeu_bench_" + uuid.uuid4().hex[:10]
        admin = db.create_engine(database, isolation_level="AUTOCOMMIT")
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(database).set(database=name).render_as_string(hide_password=False)
    else:
        url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    engine = db.create_engine(url)
    try:
        await db.upgrade(engine)
        sessions = db.session_factory(engine)
        async with sessions() as session:
            user_ids = [
                (await users.create(session, 600_000_000 + n, "kk" if n % 2 else "ru")).id
                for n in range(USERS)
            ]
            await session.commit()
        bot = Bot(TOKEN, session=NullSession())
        i18n = build_i18n("kk")
        results = []

        async def first_round() -> None:
            worker, scheduler = new_worker(bot, sessions, i18n)
            await worker.start()
            await worker.run_once()
            await worker.stop()
            scheduler.shutdown(wait=False)

        await first_round()  # warm-up: imports, compiled statements, connection pool
        results.append(await measure("start, empty table", first_round))
        with Stopwatch() as filling:
            await fill(sessions, user_ids, pending)
        results.append(await measure(f"start, {pending:,} pending", first_round))

        timings: list[float] = []

        async def catch_up() -> None:
            async with sessions() as session:  # a fresh set each run
                await session.execute(Reminder.__table__.delete().where(Reminder.key.like("due%")))
                await session.commit()
            await fill(sessions, user_ids, CATCH_UP, due_now=True, prefix="due")
            worker, scheduler = new_worker(bot, sessions, i18n)
            with Stopwatch() as sending:
                await worker.run_once()
            timings.append(sending.seconds)  # the first run is the untraced one
            await worker.stop()
            scheduler.shutdown(wait=False)

        results.append(await measure(f"catch-up: {CATCH_UP:,} due, sent", catch_up))

        async def naive() -> None:
            scheduler = AsyncIOScheduler()
            scheduler.start(paused=True)
            async with sessions() as session:
                for reminder in await session.scalars(select(Reminder).where(Reminder.status == "pending")):
                    scheduler.add_job(
                        print, DateTrigger(reminder.due_at), args=[reminder.params], id=reminder.key
                    )
            scheduler.shutdown(wait=False)

        results.append(await measure(f"naive: {pending:,} APScheduler jobs", naive))

        async with sessions() as session:
            sent = await session.scalar(
                select(func.count()).where(Reminder.status == "sent", Reminder.key.like("due%"))
            )

        base = results[0]
        backend = make_url(url).get_backend_name()
        print(
            f"reminders on {backend}; {pending:,} pending inserted in {filling.seconds:.1f} s; {USERS:,} users"
        )
        print(f"{'':38} {'time ms':>9} {'× empty':>8} {'py peak MB':>11} {'× empty':>8} {'RSS +MB':>8}")
        for row in results:
            print(
                f"{row['label']:38} {row['ms']:9.1f} {row['ms'] / base['ms']:8.2f} {row['peak_mb']:11.2f} "
                f"{row['peak_mb'] / base['peak_mb']:8.2f} {row['rss_mb']:8.1f}"
            )
        naive_row = results[-1]
        print(
            f"start with {pending:,} pending vs naive one-job-each: time × {results[1]['ms'] / naive_row['ms']:.4f}, "
            f"memory × {results[1]['peak_mb'] / naive_row['peak_mb']:.4f}"
        )
        print(
            f"catch-up send rate (claim + render + send + mark, no network): "
            f"{CATCH_UP / timings[0]:,.0f} reminders/s ({sent:,} sent in the last run)"
        )
    finally:
        await engine.dispose()
        if admin is not None:
            async with admin.connect() as connection:
                await connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            await admin.dispose()
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", help="a postgresql+asyncpg:// URL (default: a temporary SQLite file)")
    parser.add_argument("--pending", type=int, default=100_000)
    args = parser.parse_args()
    asyncio.run(run(args.database, args.pending))


if __name__ == "__main__":
    main()
