"""Copies after kill -9: how many messages a killed replica makes the survivor send twice.

    python -m bench.bench_kills [--kills 20] [--reminders 200] [--teachers 150] [--database URL]

Two phases, reminders then broadcasts, each with `--kills` rounds against the fake Bot API of the
tests. A survivor replica (tests/reminder_replica.py: the real app with all its workers) runs
throughout; each round starts a second replica, gives both work (`--reminders` reminders due at
once, or a broadcast to `--teachers` teachers), and kills the second with SIGKILL once a random
share (20-80 %) of that work has been delivered, while it is sending. Its claims pass to the survivor
when their lease ends. At the end everything must have been delivered (nothing lost) and the
copies are counted per reminder and per (broadcast, teacher).

A copy can only come from the window both workers document: killed after Telegram accepted a
message and before the database recorded it (milliseconds). Prints kills, messages, copies and
lost per phase.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from sqlalchemy import func, select

from bench.stack import BENCH_HMAC, BENCH_KEYS, temp_dir
from storage import crypto, db
from storage.models import Broadcast, Reminder
from storage.models.base import utcnow
from storage.repo import broadcasts, users
from storage.repo import reminders as reminder_repo
from tests.fakeapi import FakeBotAPI

COORDINATOR = 698_999_999
FIRST_TEACHER = 699_000_000
MARK = re.compile(r"K-\d+-\d+")


def replica_environment(api: FakeBotAPI, url: str, data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "BOT_TOKEN": api.token,
        "DEMEU_DATABASE_URL": url,
        "DEMEU_ENCRYPTION_KEYS": BENCH_KEYS,
        "DEMEU_HMAC_KEY": BENCH_HMAC,
        "DEMEU_TELEGRAM_API_SERVER": api.base_url,
        "DEMEU_BOT_DATA_DIR": str(data_dir),
        "DEMEU_REMINDERS_POLL_SECONDS": "0.5",
        "DEMEU_REMINDERS_LEASE_SECONDS": "10",
        "DEMEU_REMINDERS_BATCH": "20",
        "DEMEU_REMINDERS_CONCURRENCY": "2",
        "DEMEU_REMINDERS_AGENDA_TIME": "",
        "DEMEU_BROADCAST_RATE": "30",
        "DEMEU_BROADCAST_CLAIM_LEASE_SECONDS": "5",
    }


async def start_replica(environ: dict[str, str]) -> asyncio.subprocess.Process:
    replica = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.reminder_replica", env=environ, stdout=asyncio.subprocess.PIPE
    )
    assert replica.stdout is not None
    line = await asyncio.wait_for(replica.stdout.readline(), 180)
    assert line.strip() == b"ready", line
    return replica


def sent_texts(api: FakeBotAPI) -> list[tuple[int | None, str]]:
    return [
        (c.chat_id, c.params.get("text") or "")
        for c in api.calls
        if c.method == "sendMessage" and c.status == 200
    ]


def marked(api: FakeBotAPI, phase: str) -> Counter:
    """(marker, chat) -> copies, for the messages of `phase` ("R" reminders, "B" broadcasts)."""
    found: Counter = Counter()
    for chat_id, text in sent_texts(api):
        match = MARK.search(text)
        if match and text.startswith(phase):
            found[match.group(0), chat_id] += 1
    return found


async def wait_until(condition: Callable[[], object], timeout: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not (await result if asyncio.iscoroutine(result := condition()) else result):
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("the work was not done in time")
        await asyncio.sleep(0.02)


async def reminder_round(sessions, teacher_ids: list[int], round_no: int, count: int) -> None:
    async with sessions() as session:
        await reminder_repo.schedule_all(
            session,
            [
                reminder_repo.Planned(
                    f"kill:{round_no}:{n}",
                    teacher_ids[n % len(teacher_ids)],
                    utcnow(),
                    "message",
                    # "message" renders params["text"] through the catalogue; an unknown one stays as is.
                    {"text": "R {code}", "args": {"code": f"K-{round_no}-{n}"}},
                )
                for n in range(count)
            ],
        )
        await session.commit()


async def broadcast_round(sessions, coordinator_id: int, progress_id: int, round_no: int) -> None:
    async with sessions() as session:
        draft = await broadcasts.create_draft(
            session,
            created_by=coordinator_id,
            text_kk=f"B K-{round_no}-0",
            text_ru=f"B K-{round_no}-0",
            audience="all",
            group_id=None,
            language="ru",
        )
        await broadcasts.start(session, draft, None, utcnow(), COORDINATOR, progress_id)
        await session.commit()


async def phase(
    api: FakeBotAPI,
    environ: dict[str, str],
    name: str,
    kills: int,
    per_round: int,
    start_work: Callable[[int], object],
    all_recorded: Callable[[], object],
) -> tuple[int, int, int]:
    """Rounds of: a fresh second replica, work for both, SIGKILL of the second mid-way. Returns
    (messages expected, copies, lost)."""
    rng = random.Random(20261201)
    for round_no in range(kills):
        victim = await start_replica(environ)
        before = sum(marked(api, name).values())
        await start_work(round_no)
        share = rng.uniform(0.2, 0.8)
        goal = before + per_round * share
        await wait_until(lambda goal=goal: sum(marked(api, name).values()) >= goal, 120)
        victim.kill()
        await victim.wait()
        print(f"  {name} round {round_no + 1}: killed at {share:.0%}", flush=True)
    await wait_until(lambda: len(marked(api, name)) >= kills * per_round, 300)
    await wait_until(all_recorded, 120)
    counts = marked(api, name)
    return kills * per_round, sum(counts.values()) - len(counts), kills * per_round - len(counts)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--reminders", type=int, default=200, help="reminders per round")
    parser.add_argument("--teachers", type=int, default=150, help="recipients of each round's broadcast")
    parser.add_argument("--database", default=None, help="database URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    data_dir = temp_dir()
    url = args.database or f"sqlite+aiosqlite:///{data_dir / 'bench.db'}"
    crypto.install(crypto.Crypto.from_keys([BENCH_KEYS], BENCH_HMAC))
    engine = db.create_engine(url)
    await db.upgrade(engine)
    sessions = db.session_factory(engine)
    async with sessions() as session:
        teachers = []
        for n in range(args.teachers):
            teacher = await users.create(session, FIRST_TEACHER + n, "kk" if n % 2 else "ru")
            teacher.consent_at = utcnow()
            teachers.append(teacher)
        coordinator = await users.create(session, COORDINATOR, "ru")
        coordinator.role, coordinator.consent_at = "coordinator", utcnow()
        await session.commit()
        teacher_ids, coordinator_id = [t.id for t in teachers], coordinator.id

    async with FakeBotAPI() as api:
        environ = replica_environment(api, url, data_dir)
        bot = Bot(api.token, session=AiohttpSession(api=TelegramAPIServer.from_base(api.base_url)))
        progress = await bot.send_message(COORDINATOR, "…")  # where each broadcast's progress is shown
        await bot.session.close()
        survivor = await start_replica(environ)
        try:

            async def reminders_recorded() -> bool:
                async with sessions() as session:
                    pending = await session.scalar(
                        select(func.count()).select_from(Reminder).where(Reminder.status != "sent")
                    )
                return pending == 0

            async def broadcasts_recorded() -> bool:
                async with sessions() as session:
                    left = await session.scalar(
                        select(func.count()).select_from(Broadcast).where(Broadcast.status != "done")
                    )
                return left == 0

            reminders = await phase(
                api,
                environ,
                "R",
                args.kills,
                args.reminders,
                lambda n: reminder_round(sessions, teacher_ids, n, args.reminders),
                reminders_recorded,
            )
            announcements = await phase(
                api,
                environ,
                "B",
                args.kills,
                args.teachers,
                lambda n: broadcast_round(sessions, coordinator_id, progress.message_id, n),
                broadcasts_recorded,
            )
        finally:
            survivor.terminate()
            await asyncio.wait_for(survivor.wait(), 30)
            await engine.dispose()
    print(
        f"database {'SQLite' if db.is_sqlite(url) else 'PostgreSQL'}; one replica killed with SIGKILL per round"
    )
    print(f"{'phase':<12}{'kills':>7}{'messages':>10}{'copies':>8}{'lost':>6}")
    for label, (messages, copies, lost) in (("reminders", reminders), ("broadcasts", announcements)):
        print(f"{label:<12}{args.kills:>7}{messages:>10}{copies:>8}{lost:>6}")


if __name__ == "__main__":
    asyncio.run(main())
