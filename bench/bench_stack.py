"""Demeu's full stack against a bare aiogram dispatcher making the same replies.

    python -m bench.bench_stack [--database URL] [--fsm redis://…] [--updates N] [--teachers N] [--growth-teachers N]

Prints, side by side in one run on this machine:
- throughput per kind of update, Demeu / bare aiogram (targets: menu navigation >= 0.5,
  booking >= 0.25, questionnaire answer >= 0.35);
- p50/p99 latency per update at 200 updates/s offered load (target p99 < 50 ms on SQLite);
- resident memory with --teachers teachers mid-conversation (target < 300 MB), next to a bare
  aiogram process's baseline;
- data growth: the same interactions' latency in a database with 100,000 teachers and 1,000,000
  bookings and results, as a ratio to the empty database (target <= 1.5).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as day_time

from aiogram import Bot, Dispatcher, F, Router
from aiogram.fsm.storage.base import StorageKey
from aiogram.types import BufferedInputFile, CallbackQuery, Update
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy import func, insert, select, text

from bench.stack import (
    TOKEN,
    NullSession,
    Stopwatch,
    bench_settings,
    callback_update,
    percentile,
    rss_mb,
    temp_dir,
)
from bot.app import App
from bot.cli.demo import seed
from bot.content.instruments import load_instruments
from bot.telegram.callbacks import Book, Menu, SelfCheck
from storage.models import Booking, SelfCheckResult, Slot, User
from storage.models.base import utcnow
from storage.repo import booking as booking_repo
from storage.repo import selfcheck as selfcheck_repo
from storage.repo import users

FIRST_USER = 500_000_000
MENU_PATH = [Menu(item="settings").pack(), Menu(item="main").pack()]
INSTRUMENT = "cbi"  # the longest questionnaire: answers never finish it during a run
_booker_blocks = itertools.count(FIRST_USER + 50_000_000, 1_000_000)
ROUNDS = 5
TARGETS = {"menu navigation": 0.5, "booking": 0.25, "questionnaire answer": 0.35}


def bare_dispatcher(psychologist_chat: int) -> Dispatcher:
    """Plain aiogram making the same Bot API calls as Demeu for each kind of update."""
    router = Router()
    builder = InlineKeyboardBuilder()
    for n in range(8):
        builder.button(text=f"item {n}", callback_data=f"m:{n}")
    markup = builder.adjust(1, 1, 2, 2, 2).as_markup()

    @router.callback_query(F.data.startswith("m:"))
    async def menu(query: CallbackQuery) -> None:
        await query.message.edit_text("Басты мәзір · Главное меню", reply_markup=markup)
        await query.answer()

    @router.callback_query(F.data.startswith("bk:"))
    async def book(query: CallbackQuery, bot: Bot) -> None:
        await query.message.edit_text("Жазылдыңыз · Вы записаны", reply_markup=markup)
        await query.message.answer_document(
            BufferedInputFile(b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", "demeu.ics")
        )
        await bot.send_message(psychologist_chat, "Жаңа жазылу · Новая запись", reply_markup=markup)
        await query.answer()

    @router.callback_query(F.data.startswith("sc:"))
    async def answer(query: CallbackQuery) -> None:
        await query.message.edit_text("Сұрақ · Вопрос 3/19", reply_markup=markup)
        await query.answer()

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    return dispatcher


@dataclass
class Scenario:
    name: str
    updates: Callable[[int], list[Update]]  # how many -> that many updates, each teacher once per round


async def make_teachers(app: App, first: int, count: int) -> list[int]:
    """Consented teachers, created through the same repository as in the bot."""
    ids = [first + n for n in range(count)]
    async with app.sessions() as session:
        for start in range(0, count, 500):
            for telegram_id in ids[start : start + 500]:
                user = await users.create(session, telegram_id, "kk")
                user.consent_at = utcnow()
            await session.commit()
    return ids


async def user_ids(app: App, telegram_ids: list[int]) -> dict[int, int]:
    async with app.sessions() as session:
        return {t: (await users.by_telegram_id(session, t)).id for t in telegram_ids}


async def free_slot_updates(app: App, count: int) -> list[Update]:
    """Booking confirmations: `count` teachers each press "Book" on a free slot of their own."""
    settings = app.settings
    async with app.sessions() as session:
        await seed(session, settings)
        profiles = await booking_repo.demo_profiles(session)
        today = utcnow().astimezone(settings.tz).date()
        slots: list[Slot] = []
        hours = [day_time(h, m) for h in range(8, 20) for m in (0, 30)]
        for offset in range(2, 29):
            for profile in profiles:
                for at in hours:
                    starts = datetime.combine(today + timedelta(days=offset), at, settings.tz)
                    slot = await booking_repo.add_slot(session, profile, starts, 25, profile.format_list[0])
                    if slot is not None:
                        slots.append(slot)
                    if len(slots) >= count:
                        break
        await session.commit()
    if len(slots) < count:
        raise SystemExit(f"only {len(slots)} free slots for {count} bookings: use fewer --updates")
    # Each booking by a teacher of their own: the limit of active bookings is not what is measured.
    bookers = await make_teachers(app, next(_booker_blocks), count)
    return [
        callback_update(bookers[n], Book(a="ok", f=slot.format, s=slot.id).pack())
        for n, slot in enumerate(slots[:count])
    ]


async def answer_updates(app: App, teacher_ids: list[int], count: int) -> list[Update]:
    """Questionnaire answers: each teacher answers the next question of a started questionnaire."""
    instrument = load_instruments()[INSTRUMENT]
    rounds = -(-count // len(teacher_ids))
    if rounds >= len(instrument.items):
        raise SystemExit(f"{count} answers need more teachers than {len(teacher_ids)}")
    ids = await user_ids(app, teacher_ids)
    async with app.sessions() as session:
        for telegram_id in teacher_ids:
            await selfcheck_repo.start(session, ids[telegram_id], INSTRUMENT)
        await session.commit()
    updates = []
    for n in range(count):
        position, teacher = divmod(n, len(teacher_ids))
        value = instrument.options_for(instrument.items[position])[1].value
        data = SelfCheck(action="ans", inst=INSTRUMENT, n=position, v=value).pack()
        updates.append(callback_update(teacher_ids[teacher], data))
    return updates


def menu_updates(teacher_ids: list[int], count: int) -> list[Update]:
    return [
        callback_update(teacher_ids[n % len(teacher_ids)], MENU_PATH[(n // len(teacher_ids)) % 2])
        for n in range(count)
    ]


async def feed_all(dispatcher: Dispatcher, bot: Bot, updates: list[Update]) -> float:
    """Updates per second, handled one after another."""
    with Stopwatch() as watch:
        for update in updates:
            await dispatcher.feed_update(bot, update)
    return len(updates) / watch.seconds


async def side_by_side(
    app: App, bare: Dispatcher, bare_bot: Bot, updates: list[Update], rounds: int = ROUNDS
) -> tuple[float, float, float]:
    """Updates per second of each side and their ratio, taking turns round by round on the same
    updates so that the machine's load (shared, noisy) weighs on both alike; medians over the rounds."""
    size = -(-len(updates) // rounds)
    demeu, plain = [], []
    for start in range(0, len(updates), size):
        chunk = updates[start : start + size]
        demeu.append(await feed_all(app.dispatcher, app.bot, chunk))
        plain.append(await feed_all(bare, bare_bot, chunk))
    ratios = [ours / theirs for ours, theirs in zip(demeu, plain, strict=True)]
    return statistics.median(demeu), statistics.median(plain), statistics.median(ratios)


async def latencies(
    dispatcher: Dispatcher, bot: Bot, updates: list[Update], rate: int | None = None
) -> list[float]:
    """Handling time of each update in ms; with `rate`, offered on that fixed schedule, overlapping."""
    measured: list[float] = []

    async def one(update: Update) -> None:
        started = time.perf_counter()
        await dispatcher.feed_update(bot, update)
        measured.append((time.perf_counter() - started) * 1000)

    if rate is None:
        for update in updates:
            await one(update)
        return measured
    tasks, begin = [], time.perf_counter()
    for n, update in enumerate(updates):
        delay = begin + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(update)))
    await asyncio.gather(*tasks)
    return measured


async def mid_conversation_memory(app: App, teacher_ids: list[int]) -> float:
    """Every teacher with a conversation open (state + data kept), one press each."""
    storage = app.dispatcher.storage
    for telegram_id in teacher_ids:
        key = StorageKey(bot_id=app.bot.id, chat_id=telegram_id, user_id=telegram_id)
        await storage.set_state(key, "BookingFlow:note")
        await storage.set_data(key, {"slot": 12345, "back": "bk:slot:video:::20261201:12345:0"})
    for telegram_id in teacher_ids:
        await app.dispatcher.feed_update(app.bot, callback_update(telegram_id, Book(a="note", s=1).pack()))
    gc.collect()
    return rss_mb()


async def grow(app: App, teachers: int, per_teacher: int) -> None:
    """teachers x per_teacher past bookings (each on its own slot) and as many questionnaire results."""
    async with app.sessions() as session:
        profile = (await booking_repo.demo_profiles(session))[0]
        first_user = (await session.scalar(select(func.max(User.id)))) + 1
        # Rows written in bulk through the ORM's column types: tg_index, chat_id and results are
        # real HMACs and ciphertexts, as the bot would store them.
        crypto_users = [
            {
                "id": first_user + n,
                "tg_index": f"growth-{n:064d}"[-64:],
                "chat_id": str(n),
                "pseudonym": f"G-{n:07d}",
                "language": "kk",
                "role": "teacher",
                "consent_at": utcnow(),
                "announcements": True,
                "active": True,
                "created_at": utcnow(),
            }
            for n in range(teachers)
        ]
        for start in range(0, teachers, 5000):
            await session.execute(insert(User), crypto_users[start : start + 5000])
        past = utcnow() - timedelta(days=400)
        first_slot = (await session.scalar(select(func.max(Slot.id)))) + 1
        total = teachers * per_teacher
        for start in range(0, total, 20_000):
            batch = range(start, min(total, start + 20_000))
            await session.execute(
                insert(Slot),
                [
                    {
                        "id": first_slot + n,
                        "psychologist_id": profile.id,
                        "starts_at": past + timedelta(minutes=n),
                        "duration_min": 50,
                        "format": "video",
                        "removed": False,
                    }
                    for n in batch
                ],
            )
            await session.execute(
                insert(Booking),
                [
                    {
                        "slot_id": first_slot + n,
                        "teacher_id": first_user + n % teachers,
                        "state": "attended",
                        "holds": False,
                        "created_at": past,
                        "updated_at": past,
                        "late_cancel": False,
                    }
                    for n in batch
                ],
            )
            await session.execute(
                insert(SelfCheckResult),
                [
                    {
                        "user_id": first_user + n % teachers,
                        "instrument": "who5",
                        "created_at": past,
                        "data": {"scales": {"total": {"score": 52}}},
                    }
                    for n in batch
                ],
            )
            await session.commit()
        if session.bind.dialect.name == "postgresql":  # explicit ids: move the sequences past them
            for table in (User.__tablename__, Slot.__tablename__):
                await session.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                    )
                )
            await session.commit()


async def measure_scenarios(
    app: App, teacher_ids: list[int], count: int, bare: Dispatcher | None, bare_bot: Bot | None
) -> dict[str, float]:
    """p50 latency (ms) of each scenario in this database; prints throughput ratios when `bare` is given."""
    builds = {
        "menu navigation": lambda: asyncio.sleep(0, menu_updates(teacher_ids, count)),
        "booking": lambda: free_slot_updates(app, count),
        "questionnaire answer": lambda: answer_updates(app, teacher_ids, count),
    }
    p50s = {}
    for name, build in builds.items():
        updates = await build()
        if bare is None:
            p50s[name] = percentile(await latencies(app.dispatcher, app.bot, updates), 0.5)
            continue
        demeu, plain, ratio = await side_by_side(app, bare, bare_bot, updates)
        target = TARGETS[name]
        print(
            f"{name}: Demeu {demeu:,.0f} updates/s, bare aiogram {plain:,.0f} updates/s, "
            f"ratio {ratio:.2f} (target >= {target}) {'OK' if ratio >= target else 'MISSED'}",
            flush=True,
        )
    return p50s


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", help="database URL (default: a fresh SQLite file); must be empty")
    parser.add_argument("--fsm", help="conversation state in this Redis (default: in the database)")
    parser.add_argument("--updates", type=int, default=1000, help="updates per scenario")
    parser.add_argument("--teachers", type=int, default=10_000, help="teachers mid-conversation for memory")
    parser.add_argument(
        "--growth-teachers",
        type=int,
        default=100_000,
        help="teachers in the grown database (each with 10 bookings and 10 results)",
    )
    args = parser.parse_args()

    baseline = rss_mb()  # aiogram and the app's modules are imported: what a bare bot also pays
    app = await App.create(bench_settings(args.database, temp_dir(), args.fsm))
    app.bot.session = NullSession()
    # As in production: workers, the scheduler and the booking hooks (reminders, chats) running.
    workflow = {
        "bot": app.bot,
        "bots": [app.bot],
        "dispatcher": app.dispatcher,
        **app.dispatcher.workflow_data,
    }
    await app.dispatcher.emit_startup(**workflow)
    gc.freeze()  # as `python -m bot` does after start
    teacher_ids = await make_teachers(app, FIRST_USER, 200)
    bare = bare_dispatcher(psychologist_chat=1)
    bare_bot = Bot(TOKEN, session=NullSession())
    try:
        await feed_all(app.dispatcher, app.bot, menu_updates(teacher_ids, 200))  # warm caches
        await feed_all(bare, bare_bot, menu_updates(teacher_ids, 200))
        await measure_scenarios(app, teacher_ids, args.updates, bare, bare_bot)

        for name, dispatcher, bot in (("Demeu", app.dispatcher, app.bot), ("bare aiogram", bare, bare_bot)):
            measured = await latencies(dispatcher, bot, menu_updates(teacher_ids, 1000), rate=200)
            p50, p99 = percentile(measured, 0.5), percentile(measured, 0.99)
            verdict = f" (target p99 < 50 ms) {'OK' if p99 < 50 else 'MISSED'}" if name == "Demeu" else ""
            print(
                f"latency at 200 updates/s, {name}: p50 {p50:.1f} ms, p99 {p99:.1f} ms{verdict}", flush=True
            )

        more = await make_teachers(app, FIRST_USER + 200, args.teachers - 200)
        memory = await mid_conversation_memory(app, teacher_ids + more)
        print(
            f"memory with {args.teachers:,} teachers mid-conversation: {memory:.0f} MB resident, "
            f"{baseline:.0f} MB of it aiogram and libraries before the app started; "
            f"ratio to the 300 MB target {memory / 300:.2f} {'OK' if memory < 300 else 'MISSED'}",
            flush=True,
        )

        fresh = await make_teachers(app, FIRST_USER + args.teachers, 200)
        small = await measure_scenarios(app, fresh, 150, None, None)
        with Stopwatch() as watch:
            await grow(app, args.growth_teachers, 10)
        print(
            f"grew the database by {args.growth_teachers:,} teachers, {args.growth_teachers * 10:,} bookings "
            f"and as many results in {watch.seconds:.0f} s",
            flush=True,
        )
        fresh = await make_teachers(app, FIRST_USER + args.teachers + 200, 200)
        large = await measure_scenarios(app, fresh, 150, None, None)
        for name in small:
            ratio = large[name] / small[name]
            print(
                f"data growth, {name}: p50 {small[name]:.2f} ms -> {large[name]:.2f} ms, ratio {ratio:.2f} "
                f"(target <= 1.5) {'OK' if ratio <= 1.5 else 'MISSED'}",
                flush=True,
            )
    finally:
        await bare_bot.session.close()
        await app.dispatcher.emit_shutdown(**workflow)
        await app.close()


if __name__ == "__main__":
    asyncio.run(main())
