"""Demeu's full stack against a bare aiogram dispatcher making the same replies.

    python -m bench.bench_stack [--database URL] [--updates N] [--teachers N]

Prints, side by side in one run on this machine:
- throughput of menu-navigation presses (target: Demeu >= 0.5 of bare aiogram);
- p50/p99 latency per update at 200 updates/s offered load (target p99 < 50 ms on SQLite);
- resident memory with --teachers teachers mid-conversation (target < 300 MB).
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import time

from aiogram import Bot, Dispatcher
from aiogram.fsm.storage.base import StorageKey

from bench.stack import (
    TOKEN, NullSession, Stopwatch, bare_dispatcher, bench_settings, callback_update, percentile, rss_mb, temp_dir,
)
from bot.app import App
from bot.callbacks import Menu
from storage.models.base import utcnow
from storage.repo import users

FIRST_USER = 500_000_000
MENU_PATH = [Menu(item="settings").pack(), Menu(item="main").pack()]


async def make_teachers(app: App, first: int, count: int) -> list[int]:
    """Consented teachers, created through the same repository as in the bot."""
    ids = [first + n for n in range(count)]
    async with app.sessions() as session:
        for start in range(0, count, 500):
            for telegram_id in ids[start:start + 500]:
                user = await users.create(session, telegram_id, "kk")
                user.consent_at = utcnow()
            await session.commit()
    return ids


async def throughput(dispatcher: Dispatcher, bot: Bot, teacher_ids: list[int], updates: int) -> float:
    """Updates per second, pressed one after another by teachers in turn."""
    batch = [callback_update(teacher_ids[n % len(teacher_ids)], MENU_PATH[(n // len(teacher_ids)) % 2])
             for n in range(updates)]
    with Stopwatch() as watch:
        for update in batch:
            await dispatcher.feed_update(bot, update)
    return updates / watch.seconds


async def latency_at(dispatcher: Dispatcher, bot: Bot, teacher_ids: list[int], rate: int, seconds: float) -> list[float]:
    """Offer `rate` updates per second on a fixed schedule; return each update's handling time in ms."""
    latencies: list[float] = []
    total = int(rate * seconds)

    async def one(n: int) -> None:
        update = callback_update(teacher_ids[n % len(teacher_ids)], MENU_PATH[(n // len(teacher_ids)) % 2])
        started = time.perf_counter()
        await dispatcher.feed_update(bot, update)
        latencies.append((time.perf_counter() - started) * 1000)

    tasks = []
    begin = time.perf_counter()
    for n in range(total):
        delay = begin + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(n)))
    await asyncio.gather(*tasks)
    return latencies


async def mid_conversation_memory(app: App, teacher_ids: list[int]) -> float:
    """Every teacher halfway through a questionnaire (state + answers kept), one press each."""
    storage = app.dispatcher.storage
    for telegram_id in teacher_ids:
        key = StorageKey(bot_id=app.bot.id, chat_id=telegram_id, user_id=telegram_id)
        await storage.set_state(key, "SelfCheck:question")
        await storage.set_data(key, {"instrument": "cbi", "answers": [2, 3, 1, 4, 0, 2, 3, 1, 2, 2]})
    for telegram_id in teacher_ids:
        await app.dispatcher.feed_update(app.bot, callback_update(telegram_id, MENU_PATH[0]))
    gc.collect()
    return rss_mb()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--updates", type=int, default=3000)
    parser.add_argument("--teachers", type=int, default=10_000)
    args = parser.parse_args()

    app = await App.create(bench_settings(args.database, temp_dir()))
    app.bot.session = NullSession()
    bare = bare_dispatcher()
    bare_bot = Bot(TOKEN, session=NullSession())
    try:
        teacher_ids = await make_teachers(app, FIRST_USER, 200)
        for dispatcher, bot in ((app.dispatcher, app.bot), (bare, bare_bot)):  # warm caches and imports
            await throughput(dispatcher, bot, teacher_ids, 200)

        demeu = await throughput(app.dispatcher, app.bot, teacher_ids, args.updates)
        plain = await throughput(bare, bare_bot, teacher_ids, args.updates)
        print(f"menu navigation: Demeu {demeu:,.0f} updates/s, bare aiogram {plain:,.0f} updates/s, "
              f"ratio {demeu / plain:.2f} (target >= 0.5) {'OK' if demeu / plain >= 0.5 else 'MISSED'}")

        for name, dispatcher, bot in (("Demeu", app.dispatcher, app.bot), ("bare aiogram", bare, bare_bot)):
            latencies = await latency_at(dispatcher, bot, teacher_ids, rate=200, seconds=5)
            p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
            verdict = f" (target p99 < 50 ms) {'OK' if p99 < 50 else 'MISSED'}" if name == "Demeu" else ""
            print(f"latency at 200 updates/s, {name}: p50 {p50:.1f} ms, p99 {p99:.1f} ms{verdict}")

        before = rss_mb()
        more = await make_teachers(app, FIRST_USER + 200, args.teachers - 200)
        memory = await mid_conversation_memory(app, teacher_ids + more)
        print(f"memory with {args.teachers:,} teachers mid-conversation: {memory:.0f} MB resident "
              f"({before:.0f} MB before), ratio to the 300 MB target {memory / 300:.2f} "
              f"{'OK' if memory < 300 else 'MISSED'}")
    finally:
        await bare_bot.session.close()
        await app.close()


if __name__ == "__main__":
    asyncio.run(main())
