"""Demeu's full stack against a bare aiogram dispatcher making the same replies, fed the same
presses in process (replies go to `NullSession`, which answers at once: the ratios measure only
what Demeu adds).

    python -m bench.bench_stack [--quick] [--rounds 24] [--per-round 25] [--postgres URL] [--redis URL]
    python -m bench.bench_stack --campaign [--quick]        # the campaign mix alone
    python -m bench.bench_stack --profile menu|answer|booking [--backend sqlite|postgres|redis]
    python -m bench.bench_stack --checks [--database URL] [--fsm redis://…]   # latency, memory, growth

Measured fairly: each side is fed updates bound to its own bot (as polling makes them: aiogram
re-validates an update bound to another bot, a JSON round trip); the bare side's filters are
coroutines (aiogram runs a plain filter function, a magic `F.…` one too, in a worker thread); the
sides take turns round by round, the one going first alternating, and per round each side's wall
time and CPU time of this process (the event loop and aiosqlite's thread; not PostgreSQL's or
Redis's) per press is taken; printed are the medians over the rounds of the per-round ratios
Demeu / bare (throughput, so higher is better). Bookers are warm: each pressed a menu button
before, so their row was read once already, as a real teacher's. Demeu's booking includes the
notices its outbox sends (the reminder worker's round is awaited inside Demeu's turn).

Default run: SQLite, PostgreSQL (a fresh database created on the server of `--postgres` and dropped
after) and PostgreSQL with the conversation state in Redis (`--redis`), each with menu steps,
questionnaire answers and booking confirmations, next to the targets; then the campaign mix.

`--campaign`: per replica on PostgreSQL + Redis, a campaign's mix (70 % questionnaire answers,
25 % menu steps, 5 % bookings) from many teachers at once; prints the throughput at saturation
(up to 40 presses in flight, as polling hands them out) and p50/p99 at an offered 400 updates/s
for two seconds (target: >= 400 updates/s with p99 < 100 ms).

`--profile KIND`: cProfile of Demeu's side on that kind of press; prints where the time goes per
press, by package and by function (cumulative), for bench/README.md.

`--checks` (the older checks, one backend): p50/p99 at 200 updates/s offered (target p99 < 50 ms
on SQLite); resident memory with `--teachers` teachers mid-conversation next to a bare aiogram
process's (a separate process, target < 300 MB); data growth: the p50 after adding
`--growth-teachers` teachers with 10 bookings and 10 results each, as a ratio to the small
database (target <= 1.5).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import itertools
import os
import pstats
import random
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as day_time
from types import FrameType
from typing import Any

import greenlet
from aiogram import Bot, Dispatcher
from aiogram.fsm.storage.base import StorageKey
from aiogram.types import Update
from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import make_url

from bench.stack import (
    BARE_TOKEN,
    NullSession,
    Stopwatch,
    attached,
    bare_dispatcher,
    bench_settings,
    callback_payload,
    callback_update,
    percentile,
    rss_mb,
    temp_dir,
)
from bot.app import App
from bot.cli.demo import seed
from bot.content.instruments import load_instruments
from bot.telegram.callbacks import Book, Menu, SelfCheck
from storage import db
from storage.models import Booking, SelfCheckResult, Slot, User
from storage.models.base import utcnow
from storage.repo import booking as booking_repo
from storage.repo import selfcheck as selfcheck_repo
from storage.repo import users

FIRST_USER = 500_000_000
MENU_PATH = [Menu(item="settings").pack(), Menu(item="main").pack()]
INSTRUMENT = "cbi"  # the longest questionnaire: answers never finish it during a run
_booker_blocks = itertools.count(FIRST_USER + 50_000_000, 1_000_000)
TEACHERS = 200
Payload = dict[str, Any]

SQLITE, POSTGRES, REDIS = "SQLite", "PostgreSQL", "PostgreSQL + Redis"
KINDS = ("menu", "answer", "booking")
# Fair in-process throughput, Demeu / bare aiogram (issue 22); None: measured, no target.
TARGETS: dict[tuple[str, str], float] = {
    (SQLITE, "menu"): 0.5,
    (SQLITE, "answer"): 0.3,
    (SQLITE, "booking"): 0.12,
    (POSTGRES, "menu"): 0.3,
    (POSTGRES, "answer"): 0.2,
    (REDIS, "menu"): 0.25,
}
CAMPAIGN_RATE, CAMPAIGN_P99_MS = 400, 100.0
CAMPAIGN_MIX = {"answer": 0.70, "menu": 0.25, "booking": 0.05}
IN_FLIGHT = 40
DEFAULT_POSTGRES = os.environ.get(
    "DEMEU_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
DEFAULT_REDIS = os.environ.get("DEMEU_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")

# ── the presses ────────────────────────────────────────────────────────────


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


async def booking_payloads(app: App, count: int) -> tuple[list[Payload], list[int]]:
    """Booking confirmations: `count` teachers each press "Book" on a free slot of their own;
    returns the presses and the bookers (to warm up: a real teacher's row was read before)."""
    settings = app.settings
    async with app.sessions() as session:
        profiles = await booking_repo.demo_profiles(session)
        if not profiles:
            await seed(session, settings)
            profiles = await booking_repo.demo_profiles(session)
        today = utcnow().astimezone(settings.tz).date()
        slots: list[Slot] = []
        hours = [day_time(h, m) for h in range(8, 20) for m in (0, 30)]
        for offset in range(2, 29):
            for profile in profiles:
                for at in hours:
                    if len(slots) >= count:
                        break
                    starts = datetime.combine(today + timedelta(days=offset), at, settings.tz)
                    slot = await booking_repo.add_slot(session, profile, starts, 25, profile.format_list[0])
                    if slot is not None:
                        slots.append(slot)
        await session.commit()
    if len(slots) < count:
        raise SystemExit(f"only {len(slots)} free slots for {count} bookings: use fewer presses")
    # Each booking by a teacher of their own: the limit of active bookings is not what is measured.
    bookers = await make_teachers(app, next(_booker_blocks), count)
    presses = [
        callback_payload(bookers[n], Book(a="ok", f=slot.format, s=slot.id).pack())
        for n, slot in enumerate(slots[:count])
    ]
    return presses, bookers


async def answer_payloads(app: App, teacher_ids: list[int], count: int) -> list[Payload]:
    """Questionnaire answers: each teacher answers the next question of a started questionnaire
    (all teachers' first answers, then all second ones, and so on)."""
    instrument = load_instruments()[INSTRUMENT]
    rounds = -(-count // len(teacher_ids))
    if rounds >= len(instrument.items):
        raise SystemExit(f"{count} answers need more teachers than {len(teacher_ids)}")
    ids = await user_ids(app, teacher_ids)
    async with app.sessions() as session:
        for telegram_id in teacher_ids:
            await selfcheck_repo.start(session, ids[telegram_id], INSTRUMENT)
        await session.commit()
    presses = []
    for n in range(count):
        position, teacher = divmod(n, len(teacher_ids))
        value = instrument.options_for(instrument.items[position])[1].value
        data = SelfCheck(action="ans", inst=INSTRUMENT, n=position, v=value).pack()
        presses.append(callback_payload(teacher_ids[teacher], data))
    return presses


def menu_payloads(teacher_ids: list[int], count: int) -> list[Payload]:
    return [
        callback_payload(teacher_ids[n % len(teacher_ids)], MENU_PATH[(n // len(teacher_ids)) % 2])
        for n in range(count)
    ]


def menu_updates(teacher_ids: list[int], count: int, bot: Bot | None = None) -> list[Update]:
    return [attached(p, bot) for p in menu_payloads(teacher_ids, count)]


async def answer_updates(
    app: App, teacher_ids: list[int], count: int, bot: Bot | None = None
) -> list[Update]:
    return [attached(p, bot) for p in await answer_payloads(app, teacher_ids, count)]


# ── the two sides ──────────────────────────────────────────────────────────


@dataclass
class Side:
    dispatcher: Dispatcher
    bot: Bot
    cpu: list[float] = field(default_factory=list)  # per press, one entry a round
    wall: list[float] = field(default_factory=list)

    async def feed(self, updates: list[Update]) -> None:
        for update in updates:
            await self.dispatcher.feed_update(self.bot, update)

    async def run(self, updates: list[Update], after: Callable[[], Any] | None = None) -> None:
        cpu, wall = time.process_time(), time.perf_counter()
        await self.feed(updates)
        if after is not None:  # work the presses left to a worker: part of their cost
            await after()
        self.cpu.append((time.process_time() - cpu) / len(updates))
        self.wall.append((time.perf_counter() - wall) / len(updates))


@dataclass
class Ratio:
    wall: float
    cpu: float
    demeu_wall_ms: float
    bare_wall_ms: float
    demeu_cpu_ms: float
    bare_cpu_ms: float


def per_round(ours: list[float], theirs: list[float]) -> float:
    """Median over the rounds of the throughput ratio Demeu / bare (= bare's cost / Demeu's)."""
    return statistics.median(t / o for o, t in zip(ours, theirs, strict=True))


async def compare(
    app: App, bare: Side, payloads: list[Payload], rounds: int, after: Callable[[], Any] | None = None
) -> Ratio:
    """Both sides on the same presses, each bound to its own bot, taking turns round by round (the
    one going first alternating), so that the load of this shared machine weighs on both alike."""
    demeu = Side(app.dispatcher, app.bot)
    bare = Side(bare.dispatcher, bare.bot)
    size = len(payloads) // rounds
    for number in range(rounds):
        chunk = payloads[number * size : (number + 1) * size]
        turns = [
            (demeu, [attached(p, app.bot) for p in chunk], after),
            (bare, [attached(p, bare.bot) for p in chunk], None),
        ]
        for side, updates, then in turns if number % 2 == 0 else reversed(turns):
            await side.run(updates, then)
    ms = 1000
    return Ratio(
        per_round(demeu.wall, bare.wall),
        per_round(demeu.cpu, bare.cpu),
        statistics.median(demeu.wall) * ms,
        statistics.median(bare.wall) * ms,
        statistics.median(demeu.cpu) * ms,
        statistics.median(bare.cpu) * ms,
    )


# ── backends ───────────────────────────────────────────────────────────────


@asynccontextmanager
async def fresh_postgres(server_url: str) -> AsyncIterator[str]:
    """A database of its own on the server of `server_url`, dropped afterwards."""
    name = "demeu_bench_" + uuid.uuid4().hex[:12]
    admin = db.create_engine(server_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        await admin.dispose()


async def empty_redis(url: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        await client.flushdb()  # a database of the bench's own (/13 by default): no stale states
    finally:
        await client.aclose()


@asynccontextmanager
async def started(database_url: str | None, fsm: str | None) -> AsyncIterator[App]:
    """The real app with its workers, scheduler and booking hooks running, as in production."""
    app = await App.create(bench_settings(database_url, temp_dir(), fsm))
    app.bot.session = NullSession()
    workflow = {
        "bot": app.bot,
        "bots": [app.bot],
        "dispatcher": app.dispatcher,
        **app.dispatcher.workflow_data,
    }
    await app.dispatcher.emit_startup(**workflow)
    gc.collect()
    gc.freeze()  # as `python -m bot` does after start
    try:
        yield app
    finally:
        await app.dispatcher.emit_shutdown(**workflow)
        await app.close()


@asynccontextmanager
async def backend_app(backend: str, args: argparse.Namespace) -> AsyncIterator[App]:
    if backend == SQLITE:
        async with started(None, None) as app:
            yield app
        return
    async with fresh_postgres(args.postgres) as url:
        if backend == REDIS:
            await empty_redis(args.redis)
        async with started(url, args.redis if backend == REDIS else None) as app:
            yield app


def bare_side() -> Side:
    return Side(bare_dispatcher(psychologist_chat=1), Bot(BARE_TOKEN, session=NullSession()))


async def build_presses(
    app: App, kind: str, teachers: list[int], count: int
) -> tuple[list[Payload], list[int]]:
    """`count` presses of `kind` and the teachers to warm up first (a menu press each)."""
    if kind == "menu":
        return menu_payloads(teachers, count), []
    if kind == "answer":
        return await answer_payloads(app, teachers, count), []
    return await booking_payloads(app, count)


async def warm(sides: list[Side], teachers: list[int]) -> None:
    for side in sides:
        await side.feed(menu_updates(teachers, len(teachers), side.bot))


KIND_NAMES = {"menu": "menu step", "answer": "questionnaire answer", "booking": "booking confirmation"}


async def ratios(backend: str, args: argparse.Namespace) -> None:
    count = args.rounds * args.per_round
    kinds = ("menu", "answer") if backend == REDIS else KINDS
    async with backend_app(backend, args) as app:
        bare = bare_side()
        teachers = await make_teachers(app, FIRST_USER, TEACHERS)
        await warm([Side(app.dispatcher, app.bot), bare], teachers)
        for kind in kinds:
            presses, bookers = await build_presses(app, kind, teachers, count)
            await warm([Side(app.dispatcher, app.bot), bare], bookers)
            # Demeu's booking notices go out through its outbox: its worker's round is in Demeu's turn.
            after = app.reminders.run_once if kind == "booking" else None
            result = await compare(app, bare, presses, args.rounds, after)
            target = TARGETS.get((backend, kind))
            verdict = (
                "" if target is None else f">= {target:<5} {'OK' if result.wall >= target else 'MISSED'}"
            )
            print(
                f"  {backend + ' ' + KIND_NAMES[kind]:<42} {result.demeu_wall_ms:6.2f} {result.bare_wall_ms:6.2f} "
                f"{result.demeu_cpu_ms:6.2f} {result.bare_cpu_ms:6.2f}   {result.wall:5.3f} {result.cpu:5.3f}  {verdict}",
                flush=True,
            )
        await bare.bot.session.close()


# ── the campaign mix ───────────────────────────────────────────────────────


def interleave(streams: dict[str, list[Payload]], seed_value: int = 22) -> list[Payload]:
    """The streams merged at random in proportion to their sizes, each keeping its own order (a
    teacher's answers stay in the questionnaire's order)."""
    rng = random.Random(seed_value)
    left = {name: list(reversed(stream)) for name, stream in streams.items() if stream}
    merged = []
    while left:
        names = list(left)
        name = rng.choices(names, weights=[len(left[n]) for n in names])[0]
        merged.append(left[name].pop())
        if not left[name]:
            del left[name]
    return merged


@dataclass
class Timed:
    rate: float  # updates/s
    measured: list[float]  # each update's time, ms
    cpu_ms: float  # this process's CPU time per update (not PostgreSQL's or Redis's)
    busy: float  # this process's CPU time over the wall time: 1.0 is one core all along


async def timed(app: App, updates: list[Update], rate: float | None) -> Timed:
    """Feed `updates` overlapping: at most IN_FLIGHT at once (saturation), or on a fixed schedule at
    `rate` (latency counted from when each was due, so queueing counts). A teacher's press goes in
    once their previous one is handled, as from a phone: they press what the reply showed them (the
    next question). Fed at once, it would wait in the lock's retry loop, which no teacher causes."""
    measured: list[float] = []
    room = asyncio.Semaphore(IN_FLIGHT if rate is None else len(updates))
    previous: dict[int, asyncio.Task[None]] = {}  # each teacher's last press

    async def one(update: Update, queued: float, prior: asyncio.Task[None] | None) -> None:
        try:
            if prior is not None:
                await prior
            await app.dispatcher.feed_update(app.bot, update)
        finally:
            measured.append((time.perf_counter() - queued) * 1000)
            room.release()

    tasks, begin, cpu = [], time.perf_counter(), time.process_time()
    for n, update in enumerate(updates):
        due = begin + n / rate if rate is not None else 0.0
        if rate is not None and (delay := due - time.perf_counter()) > 0:
            await asyncio.sleep(delay)
        await room.acquire()
        teacher = update.callback_query.from_user.id if update.callback_query else 0
        queued = due if rate is not None else time.perf_counter()
        previous[teacher] = asyncio.create_task(one(update, queued, previous.get(teacher)))
        tasks.append(previous[teacher])
    await asyncio.gather(*tasks)
    wall, cpu = time.perf_counter() - begin, time.process_time() - cpu
    return Timed(len(updates) / wall, measured, cpu / len(updates) * 1000, cpu / wall)


async def campaign(args: argparse.Namespace) -> None:
    total = args.campaign_updates
    async with backend_app(REDIS, args) as app:
        answering = await make_teachers(app, FIRST_USER + 1_000_000, 400)
        browsing = await make_teachers(app, FIRST_USER + 2_000_000, 200)
        streams = {
            "answer": await answer_payloads(app, answering, int(total * CAMPAIGN_MIX["answer"])),
            "menu": menu_payloads(browsing, int(total * CAMPAIGN_MIX["menu"])),
        }
        streams["booking"], bookers = await booking_payloads(app, int(total * CAMPAIGN_MIX["booking"]))
        demeu = Side(app.dispatcher, app.bot)
        await warm([demeu], answering + browsing + bookers)
        mix = [attached(p, app.bot) for p in interleave(streams)]
        # The offered load for two seconds: beyond the saturation rate it only queues up longer.
        split = max(len(mix) // 2, len(mix) - 2 * CAMPAIGN_RATE)
        saturated = await timed(app, mix[:split], None)
        await app.reminders.run_once()
        offered = await timed(app, mix[split:], CAMPAIGN_RATE)
        await app.reminders.run_once()
    p99 = percentile(offered.measured, 0.99)
    holds = saturated.rate >= CAMPAIGN_RATE and p99 < CAMPAIGN_P99_MS
    print(
        f"campaign mix on {REDIS} (70 % answers, 25 % menu, 5 % bookings), one replica, in process:\n"
        f"  saturation ({IN_FLIGHT} in flight): {saturated.rate:,.0f} updates/s, "
        f"p50 {percentile(saturated.measured, 0.5):.1f} ms, p99 {percentile(saturated.measured, 0.99):.1f} ms; "
        f"the bot's CPU {saturated.cpu_ms:.2f} ms an update, {saturated.busy:.0%} of a core "
        f"(the rest of the machine's two: PostgreSQL, Redis)\n"
        f"  offered {CAMPAIGN_RATE} updates/s: p50 {percentile(offered.measured, 0.5):.1f} ms, p99 {p99:.1f} ms, "
        f"max {max(offered.measured):.1f} ms; the bot's CPU {offered.busy:.0%} of a core\n"
        f"  target >= {CAMPAIGN_RATE} updates/s with p99 < {CAMPAIGN_P99_MS:.0f} ms: {'OK' if holds else 'MISSED'}",
        flush=True,
    )


# ── where the time goes ────────────────────────────────────────────────────


def where(path: str) -> str:
    """The package a profiled function belongs to."""
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    for top in ("bot", "handlers", "storage"):
        if f"/{top}/" in path:
            return f"demeu {top}/"
    if path.startswith("<") or path == "~":
        return "builtins"
    return "python " + path.rsplit("/", 1)[-1].removesuffix(".py")


def short(path: str) -> str:
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1]
    for top in ("bot/", "handlers/", "storage/", "bench/"):
        if f"/{top}" in path:
            return top + path.rsplit(f"/{top}", 1)[1]
    return path


def summary(profiler: cProfile.Profile, presses: int, top: int) -> str:
    stats = pstats.Stats(profiler)
    rows: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    own: dict[str, float] = {}
    for (path, _line, _name), (_cc, _nc, tt, _ct, _callers) in rows.items():
        own[where(path)] = own.get(where(path), 0.0) + tt
    total = sum(own.values())
    out = io.StringIO()
    out.write(
        f"  profiled CPU per press {total / presses * 1000:.2f} ms (cProfile inflates it); own time by package:\n"
    )
    for package, seconds in sorted(own.items(), key=lambda kv: -kv[1])[:12]:
        out.write(f"    {package:<28} {seconds / presses * 1000:6.3f} ms  {seconds / total:5.1%}\n")
    out.write("  functions by own time per press:\n")
    for tt, nc, path, line, name in sorted(
        ((tt, nc, path, line, name) for (path, line, name), (_cc, nc, tt, _ct, _c) in rows.items()),
        reverse=True,
    )[: top // 2]:
        out.write(f"    {tt / presses * 1000:6.3f} ms {nc / presses:6.1f}x  {short(path)}:{line} {name}\n")
    return out.getvalue()


class Sampler:
    """A wall-clock sampler: SIGALRM every millisecond, its handler running in the event
    loop's thread at the next bytecode, sees the stack there. A sample whose innermost frame is the
    selector is the loop waiting for I/O (the database, aiosqlite's thread); any other goes to the
    innermost Demeu function on the stack (itself and the library code it called; across
    SQLAlchemy's greenlets, to the coroutine that started the greenlet) and to the package of the
    innermost frame. cProfile's cumulative figures would say this, but across coroutines and
    greenlets they add up every resumption and do not."""

    def __init__(self) -> None:
        self.samples = 0
        self.waiting = 0
        self.demeu: dict[str, int] = {}
        self.package: dict[str, int] = {}

    def __enter__(self) -> Sampler:
        signal.signal(signal.SIGALRM, self._sample)
        signal.setitimer(signal.ITIMER_REAL, 0.001, 0.001)
        return self

    def __exit__(self, *exc: object) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)

    def _sample(self, _signum: int, frame: FrameType | None) -> None:
        if frame is None:
            return
        self.samples += 1
        if "selectors" in frame.f_code.co_filename:
            self.waiting += 1
            return
        inner = where(frame.f_code.co_filename)
        self.package[inner] = self.package.get(inner, 0) + 1
        self.demeu[self._owner(frame, inner)] = self.demeu.get(self._owner(frame, inner), 0) + 1

    @staticmethod
    def _owner(frame: FrameType | None, inner: str) -> str:
        current = greenlet.getcurrent()
        while True:
            while frame is not None:
                code = frame.f_code
                if where(code.co_filename).startswith("demeu"):
                    return f"{short(code.co_filename)}:{code.co_firstlineno} {code.co_name}"
                frame = frame.f_back
            if current.parent is None:  # a greenlet's frames end at its start: go on in its parent
                return f"(no Demeu frame) {inner}"
            current = current.parent
            frame = current.gr_frame

    def report(self, wall_per_press: float, top: int) -> str:
        if not self.samples:
            return "  no samples\n"
        ms = wall_per_press * 1000 / self.samples  # one sample's share of a press, in ms
        out = io.StringIO()
        out.write(
            f"  sampled ({self.samples} samples): wall {wall_per_press * 1000:.2f} ms per press, of it "
            f"{self.waiting * ms:.2f} ms ({self.waiting / self.samples:.0%}) the loop waiting for I/O;\n"
            "  running, by the innermost Demeu function on the stack (with the libraries it called):\n"
        )
        for owner, count in sorted(self.demeu.items(), key=lambda kv: -kv[1])[:top]:
            out.write(f"    {count * ms:6.3f} ms {count / self.samples:5.1%}  {owner}\n")
        out.write("  running, by the package of the innermost frame:\n")
        for package, count in sorted(self.package.items(), key=lambda kv: -kv[1])[:10]:
            out.write(f"    {count * ms:6.3f} ms {count / self.samples:5.1%}  {package}\n")
        return out.getvalue()


async def profile(args: argparse.Namespace) -> None:
    backend = {"sqlite": SQLITE, "postgres": POSTGRES, "redis": REDIS}[args.backend]
    count = args.rounds * args.per_round
    async with backend_app(backend, args) as app:
        demeu = Side(app.dispatcher, app.bot)
        teachers = await make_teachers(app, FIRST_USER, TEACHERS)
        await warm([demeu], teachers)
        presses, bookers = await build_presses(app, args.profile, teachers, count)
        await warm([demeu], bookers)
        updates = [attached(p, app.bot) for p in presses]
        after = app.reminders.run_once if args.profile == "booking" else None
        half = len(updates) // 2
        # The event loop's thread's CPU time only: no waits on the database (aiosqlite's thread, a
        # server) count, and no other thread's work lands on whatever the loop was running.
        profiler = cProfile.Profile(time.thread_time)
        profiler.enable()
        await demeu.run(updates[:half], after)
        profiler.disable()
        with Sampler() as sampler:
            await demeu.run(updates[half:], after)
    print(f"{backend} {KIND_NAMES[args.profile]}, {half} presses profiled, {len(updates) - half} sampled:")
    print(summary(profiler, half, args.top), end="")
    print(sampler.report(demeu.wall[-1], args.top))


# ── the older checks ───────────────────────────────────────────────────────


async def mid_conversation_memory(app: App, teacher_ids: list[int]) -> float:
    """Every teacher with a conversation open (state + data kept), one press each."""
    storage = app.dispatcher.storage
    for telegram_id in teacher_ids:
        key = StorageKey(bot_id=app.bot.id, chat_id=telegram_id, user_id=telegram_id)
        await storage.set_state(key, "BookingFlow:note")
        await storage.set_data(key, {"slot": 12345, "back": "bk:slot:video:::20261201:12345:0"})
    for telegram_id in teacher_ids:
        await app.dispatcher.feed_update(
            app.bot, callback_update(telegram_id, Book(a="note", s=1).pack(), bot=app.bot)
        )
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


BARE_MEMORY = """
import asyncio, gc, sys
from bench.stack import BARE_TOKEN, NullSession, bare_dispatcher, callback_update, rss_mb
from aiogram import Bot

async def main(teachers):
    dispatcher, bot = bare_dispatcher(psychologist_chat=1), Bot(BARE_TOKEN, session=NullSession())
    for n in range(teachers):
        await dispatcher.feed_update(bot, callback_update(500_000_000 + n, "m:main", bot=bot))
    gc.collect()
    print(rss_mb())

asyncio.run(main(int(sys.argv[1])))
"""


def bare_memory(teachers: int) -> float:
    """Resident memory of a bare aiogram bot (a Dispatcher, its bot, one press from each of
    `teachers` users) in a process of its own: what any aiogram bot pays."""
    result = subprocess.run(
        [sys.executable, "-c", BARE_MEMORY, str(teachers)], capture_output=True, text=True, check=True
    )
    return float(result.stdout.split()[-1])


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


async def p50s(app: App, teacher_ids: list[int], count: int) -> dict[str, float]:
    """p50 latency (ms) of each kind of press in this database, one after another."""
    measured = {}
    for kind in KINDS:
        presses, bookers = await build_presses(app, kind, teacher_ids, count)
        await warm([Side(app.dispatcher, app.bot)], bookers)
        updates = [attached(p, app.bot) for p in presses]
        measured[kind] = percentile(await latencies(app.dispatcher, app.bot, updates), 0.5)
    return measured


async def checks(args: argparse.Namespace) -> None:
    async with started(args.database, args.fsm) as app:
        bare = bare_side()
        teacher_ids = await make_teachers(app, FIRST_USER, TEACHERS)
        await warm([Side(app.dispatcher, app.bot), bare], teacher_ids)
        for _ in range(2):  # the latency test repeated: a single run on a shared machine misleads
            for name, side in (("Demeu", Side(app.dispatcher, app.bot)), ("bare aiogram", bare)):
                updates = menu_updates(teacher_ids, 1000, side.bot)
                measured = await latencies(side.dispatcher, side.bot, updates, rate=200)
                p50, p99 = percentile(measured, 0.5), percentile(measured, 0.99)
                verdict = f" (target p99 < 50 ms) {'OK' if p99 < 50 else 'MISSED'}" if name == "Demeu" else ""
                print(
                    f"latency at 200 updates/s, {name}: p50 {p50:.1f} ms, p99 {p99:.1f} ms{verdict}",
                    flush=True,
                )
        await bare.bot.session.close()

        more = await make_teachers(app, FIRST_USER + TEACHERS, args.teachers - TEACHERS)
        memory = await mid_conversation_memory(app, teacher_ids + more)
        baseline = bare_memory(args.teachers)
        print(
            f"memory with {args.teachers:,} teachers mid-conversation: {memory:.0f} MB resident; a bare "
            f"aiogram bot after a press from as many users, in its own process: {baseline:.0f} MB; "
            f"target < 300 MB {'OK' if memory < 300 else 'MISSED'}",
            flush=True,
        )

        fresh = await make_teachers(app, FIRST_USER + args.teachers, TEACHERS)
        small = await p50s(app, fresh, 150)
        with Stopwatch() as watch:
            await grow(app, args.growth_teachers, 10)
        print(
            f"grew the database by {args.growth_teachers:,} teachers, {args.growth_teachers * 10:,} bookings "
            f"and as many results in {watch.seconds:.0f} s",
            flush=True,
        )
        fresh = await make_teachers(app, FIRST_USER + args.teachers + TEACHERS, TEACHERS)
        large = await p50s(app, fresh, 150)
        for kind in small:
            ratio = large[kind] / small[kind]
            print(
                f"data growth, {KIND_NAMES[kind]}: p50 {small[kind]:.2f} ms -> {large[kind]:.2f} ms, "
                f"ratio {ratio:.2f} (target <= 1.5) {'OK' if ratio <= 1.5 else 'MISSED'}",
                flush=True,
            )


async def reachable(args: argparse.Namespace) -> str | None:
    """Why PostgreSQL or Redis cannot be used, or None."""
    try:
        engine = db.create_engine(args.postgres)
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        finally:
            await engine.dispose()
        await empty_redis(args.redis)
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return None


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a short run (fewer rounds and presses)")
    parser.add_argument("--rounds", type=int, help="rounds per kind of press, each side (default 24)")
    parser.add_argument("--per-round", type=int, help="presses per round (default 25)")
    parser.add_argument(
        "--postgres", default=DEFAULT_POSTGRES, help="a PostgreSQL server to create fresh databases on"
    )
    parser.add_argument(
        "--redis", default=DEFAULT_REDIS, help="a Redis database of the bench's own (flushed)"
    )
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL and Redis")
    parser.add_argument("--campaign", action="store_true", help="only the campaign mix")
    parser.add_argument("--campaign-updates", type=int, help="updates in the campaign mix (default 2400)")
    parser.add_argument("--profile", choices=KINDS, help="cProfile Demeu on this kind of press")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "redis"], default="sqlite")
    parser.add_argument("--top", type=int, default=25, help="functions shown by --profile")
    parser.add_argument("--checks", action="store_true", help="latency, memory and growth on one backend")
    parser.add_argument(
        "--database", help="--checks: database URL (default: a fresh SQLite file); must be empty"
    )
    parser.add_argument("--fsm", help="--checks: conversation state in this Redis")
    parser.add_argument("--teachers", type=int, default=10_000, help="--checks: teachers mid-conversation")
    parser.add_argument("--growth-teachers", type=int, default=100_000, help="--checks: teachers added")
    args = parser.parse_args()
    args.rounds = args.rounds or (20 if args.quick else 24)
    args.per_round = args.per_round or (10 if args.quick else 25)
    args.campaign_updates = args.campaign_updates or (1200 if args.quick else 2400)
    if args.checks:
        await checks(args)
        return
    if args.profile:
        await profile(args)
        return
    problem = None if args.sqlite_only else await reachable(args)
    if problem:
        print(f"PostgreSQL or Redis unreachable, SQLite only: {problem}")
    if not args.campaign:
        print(
            f"in process, {args.rounds} alternating rounds x {args.per_round} presses; per press: median ms "
            f"(wall, CPU) and median per-round throughput ratio Demeu / bare aiogram; verdict on wall"
        )
        print(f"  {'':<42} {'Demeu':>6} {'bare':>6} {'Demeu':>6} {'bare':>6}   {'ratio':>5} {'ratio':>5}")
        print(f"  {'':<42} {'wall':>6} {'wall':>6} {'CPU':>6} {'CPU':>6}   {'wall':>5} {'CPU':>5}  target")
        for backend in (SQLITE,) if args.sqlite_only or problem else (SQLITE, POSTGRES, REDIS):
            await ratios(backend, args)
    if not (args.sqlite_only or problem):
        await campaign(args)


if __name__ == "__main__":
    asyncio.run(main())
