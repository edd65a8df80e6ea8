"""End to end over HTTP: Demeu against a minimal aiogram bot, each a process of its own polling
the fake Bot API of the tests, 40 simulated users pressing main-menu buttons.

    python -m bench.bench_http [--quick] [--rounds 20] [--presses 3] [--users 40] [--postgres URL] [--redis URL]

Two fake Telegram servers (tests/fakeapi, every request checked against the Bot API spec) run in
this process, one per bot: Demeu as `python -m bot` (on a fresh SQLite file, a fresh PostgreSQL
database, or PostgreSQL with the conversation state in Redis) and a minimal aiogram bot (the bare
dispatcher of bench/stack.py: edit the message, answer the press; no database) started the same
way, polling with aiogram's defaults and logging at INFO, as `python -m bot` does. Each round,
`--users` users each press `--presses` times one after another (Settings, Main menu, ...), all
users at once; a press ends when the bot answers it (both answer after editing the screen). The
bots take turns round by round, the one going first alternating; printed are each one's median
presses/s and the median per-round ratio Demeu / minimal bot (targets: SQLite >= 0.8, PostgreSQL
>= 0.6, PostgreSQL + Redis >= 0.5), and the protocol violations seen (must be none).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import statistics
import subprocess
import sys
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.bench_stack import (
    DEFAULT_POSTGRES,
    DEFAULT_REDIS,
    POSTGRES,
    REDIS,
    SQLITE,
    empty_redis,
    fresh_postgres,
    make_teachers,
    reachable,
)
from bench.stack import BENCH_HMAC, BENCH_KEYS, bench_settings, temp_dir
from bot.app import App
from bot.telegram.callbacks import Menu
from tests.fakeapi import FakeBotAPI

TARGETS = {SQLITE: 0.8, POSTGRES: 0.6, REDIS: 0.5}
FIRST_ID = 800_000
PRESSES = [Menu(item="settings").pack(), Menu(item="main").pack()]
ROOT = Path(__file__).resolve().parent.parent


# ── the minimal bot, in its own process ────────────────────────────────────


async def minimal_bot(base_url: str, token: str) -> None:
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer

    from bench.stack import bare_dispatcher

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    bot = Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(base_url)))
    dispatcher = bare_dispatcher(psychologist_chat=1)
    gc.freeze()  # as `python -m bot` does after start: the same conditions for both
    await dispatcher.start_polling(bot, allowed_updates=dispatcher.resolve_used_update_types())


# ── the driver ─────────────────────────────────────────────────────────────


def _sender(telegram_id: int) -> dict[str, Any]:
    return {"id": telegram_id, "is_bot": False, "first_name": "Bench", "language_code": "ru"}


class Bench:
    """One bot process and the fake server it polls, with `users` users who have a screen to press on."""

    def __init__(self, name: str, api: FakeBotAPI, users: list[int]) -> None:
        self.name, self.api, self.users = name, api, users
        self.rates: list[float] = []
        self.cpu: list[float] = []  # the bot process's CPU seconds per press, a round each
        self.server_share: list[float] = []  # this process's (the fake servers') CPU share
        self.pressed: dict[int, int] = {}
        self.process: subprocess.Popen[bytes] | None = None
        for telegram_id in users:  # a screen of the bot's to press on (protected, as Demeu's are)
            api.store_message(telegram_id, api.bot_user, text="…", protected=True)
        self._presses = 0

    def start(self, command: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self.process = subprocess.Popen(
            command, env=env, cwd=log.parent, stdout=log.open("w"), stderr=subprocess.STDOUT
        )

    async def ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not any(c.method == "getUpdates" for c in self.api.calls):
            if self.process is not None and self.process.poll() is not None:
                raise SystemExit(f"{self.name} exited at start:\n{self.log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise SystemExit(f"{self.name} is not polling after {timeout} s")
            await asyncio.sleep(0.1)

    async def press(self, telegram_id: int, data: str) -> None:
        api = self.api
        message = [m for m in api.messages(telegram_id) if m.from_bot][-1]
        self._presses += 1
        query_id = f"q{telegram_id}-{self._presses}"
        update_id = api.feed(
            {
                "callback_query": {
                    "id": query_id,
                    "from": _sender(telegram_id),
                    "chat_instance": "bench",
                    "message": message.to_api(),
                    "data": data,
                }
            }
        )
        if not await api.wait_callback_answer(query_id, timeout=30, update_id=update_id):
            raise RuntimeError(f"{self.name} did not answer a press within 30 s")

    async def round(self, presses: int, record: bool = True) -> None:
        async def user(telegram_id: int) -> None:
            for _ in range(presses):  # each press changes the screen, across rounds too
                self.pressed[telegram_id] = self.pressed.get(telegram_id, 0) + 1
                await self.press(telegram_id, PRESSES[self.pressed[telegram_id] % 2])

        started, cpu, server_cpu = time.perf_counter(), self.cpu_seconds(), time.process_time()
        await asyncio.gather(*(user(u) for u in self.users))
        if record:
            count, wall = len(self.users) * presses, time.perf_counter() - started
            self.rates.append(count / wall)
            self.cpu.append((self.cpu_seconds() - cpu) / count)
            self.server_share.append((time.process_time() - server_cpu) / wall)

    def cpu_seconds(self) -> float:
        """CPU time of the bot's process so far (user + system; Linux, in clock ticks)."""
        assert self.process is not None
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def demeu_env(database_url: str, fsm: str | None, api: FakeBotAPI, data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "BOT_TOKEN": api.token,
        "DEMEU_TELEGRAM_API_SERVER": api.base_url,
        "DEMEU_DATABASE_URL": database_url,
        "DEMEU_FSM_STORAGE": fsm or "database",
        "DEMEU_ENCRYPTION_KEYS": BENCH_KEYS,
        "DEMEU_HMAC_KEY": BENCH_HMAC,
        "DEMEU_BOT_DATA_DIR": str(data_dir),
    }


async def prepare(database_url: str | None, fsm: str | None, users: list[int]) -> str:
    """The database migrated, with the users as consented teachers; returns its URL."""
    data_dir = temp_dir()
    settings = bench_settings(database_url, data_dir, fsm)
    app = await App.create(settings)
    try:
        await make_teachers(app, users[0], len(users))
    finally:
        await app.close()
    return settings.database.url


async def compare(backend: str, args: argparse.Namespace) -> Result:
    users = list(range(FIRST_ID, FIRST_ID + args.users))
    async with AsyncExitStack() as stack:
        database_url = None
        if backend != SQLITE:
            database_url = await stack.enter_async_context(fresh_postgres(args.postgres))
        fsm = args.redis if backend == REDIS else None
        if fsm:
            await empty_redis(fsm)
        database_url = await prepare(database_url, fsm, users)
        apis = [await stack.enter_async_context(FakeBotAPI()) for _ in range(2)]
        demeu, minimal = Bench("Demeu", apis[0], users), Bench("minimal aiogram bot", apis[1], users)
        folder = temp_dir()
        (folder / "config.toml").touch()
        demeu.start(
            [sys.executable, "-m", "bot", "--config", str(folder / "config.toml")],
            demeu_env(database_url, fsm, apis[0], folder),
            folder / "demeu.log",
        )
        minimal.start(
            [sys.executable, "-m", "bench.bench_http", "--minimal-bot", apis[1].base_url, apis[1].token],
            {**os.environ, "PYTHONPATH": str(ROOT)},
            folder / "minimal.log",
        )
        stack.callback(minimal.stop)
        stack.callback(demeu.stop)
        for bench in (demeu, minimal):
            await bench.ready()
            await bench.round(args.presses, record=False)  # warm-up: caches, connections, lazy imports
        for number in range(args.rounds):
            for bench in (demeu, minimal) if number % 2 == 0 else (minimal, demeu):
                await bench.round(args.presses)
        violations = sum(len(api.violations) for api in apis)
        for api in apis:
            api.violations.clear()  # reported below, not raised at exit
    return Result(
        statistics.median(demeu.rates),
        statistics.median(minimal.rates),
        statistics.median(d / m for d, m in zip(demeu.rates, minimal.rates, strict=True)),
        statistics.median(demeu.cpu) * 1000,
        statistics.median(minimal.cpu) * 1000,
        statistics.median(m / d for d, m in zip(demeu.cpu, minimal.cpu, strict=True) if d),
        statistics.median(demeu.server_share + minimal.server_share),
        violations,
    )


@dataclass
class Result:
    demeu: float
    minimal: float
    ratio: float
    demeu_cpu_ms: float
    minimal_cpu_ms: float
    cpu_ratio: float
    server_share: float
    violations: int


async def run(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING)
    problem = None if args.sqlite_only else await reachable(args)
    if problem:
        print(f"PostgreSQL or Redis unreachable, SQLite only: {problem}")
    print(
        f"over HTTP, {args.users} users x {args.presses} presses a round, {args.rounds} alternating rounds; "
        "median presses/s and median per-round ratio Demeu / minimal aiogram bot"
    )
    for backend in (SQLITE,) if args.sqlite_only or problem else (SQLITE, POSTGRES, REDIS):
        result = await compare(backend, args)
        target = TARGETS[backend]
        print(
            f"  {backend:<20} Demeu {result.demeu:4.0f}/s, minimal bot {result.minimal:4.0f}/s, ratio "
            f"{result.ratio:.3f} (target >= {target}) {'OK' if result.ratio >= target else 'MISSED'}\n"
            f"  {'':<20} bot CPU per press: Demeu {result.demeu_cpu_ms:.2f} ms, minimal bot "
            f"{result.minimal_cpu_ms:.2f} ms, ratio {result.cpu_ratio:.3f}; the fake servers' CPU "
            f"share {result.server_share:.0%}; protocol violations: {result.violations}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a short run")
    parser.add_argument("--rounds", type=int, help="rounds each bot (default 20)")
    parser.add_argument("--presses", type=int, default=3, help="presses per user per round")
    parser.add_argument("--users", type=int, default=40, help="simulated users pressing at once")
    parser.add_argument(
        "--postgres", default=DEFAULT_POSTGRES, help="a PostgreSQL server for fresh databases"
    )
    parser.add_argument(
        "--redis", default=DEFAULT_REDIS, help="a Redis database of the bench's own (flushed)"
    )
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL and Redis")
    parser.add_argument("--minimal-bot", nargs=2, metavar=("API", "TOKEN"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.minimal_bot:
        asyncio.run(minimal_bot(*args.minimal_bot))
        return
    args.rounds = args.rounds or (6 if args.quick else 20)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
