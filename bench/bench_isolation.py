"""Memory of the per-user event-isolation lock after many distinct users.

    python -m bench.bench_isolation [--users 380000]

The same updates (one message from each of `--users` distinct users) go through an aiogram
Dispatcher with FSM on, once with aiogram's SimpleEventIsolation and once with Demeu's
ForgetfulEventIsolation, each in a process of its own; prints each one's resident-memory growth
and how many locks it still holds (target: Demeu's growth within +20 MB).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

TARGET_MB = 20


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def feed(kind: str, users: int) -> None:
    from aiogram import Bot, Dispatcher
    from aiogram.fsm.storage.base import BaseStorage, StorageKey
    from aiogram.fsm.storage.memory import SimpleEventIsolation
    from aiogram.types import Chat, Message, Update, User

    from bot.telegram.isolation import ForgetfulEventIsolation

    class NoStorage(BaseStorage):
        """Keeps nothing, so only the isolation's memory is measured."""

        async def set_state(self, key: StorageKey, state: Any = None) -> None: ...
        async def get_state(self, key: StorageKey) -> str | None:
            return None

        async def set_data(self, key: StorageKey, data: Any) -> None: ...
        async def get_data(self, key: StorageKey) -> dict[str, Any]:
            return {}

        async def close(self) -> None: ...

    isolation = SimpleEventIsolation() if kind == "aiogram" else ForgetfulEventIsolation()
    dispatcher = Dispatcher(storage=NoStorage(), events_isolation=isolation)
    assert dispatcher.fsm.events_isolation is isolation, "the dispatcher must use the isolation measured"

    @dispatcher.message()
    async def handled(message: Message) -> None:
        return None

    bot = Bot("1:" + "a" * 35)
    now = datetime.now(UTC)

    def update(user: int) -> Update:
        person = User(id=user, is_bot=False, first_name="T")
        message = Message(
            message_id=1, date=now, chat=Chat(id=user, type="private"), from_user=person, text="hi"
        )
        return Update(update_id=user, message=message).as_(bot)

    for user in range(1, 1001):  # warm up aiogram's own caches before the baseline
        await dispatcher.feed_update(bot, update(user))
    gc.collect()
    before = rss_mb()
    for user in range(1001, users + 1001):
        await dispatcher.feed_update(bot, update(user))
    gc.collect()
    held = len(isolation._locks) if kind == "aiogram" else isolation.held  # type: ignore[attr-defined]
    print(f"{rss_mb() - before:.1f} {held}")
    await bot.session.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=380_000)
    parser.add_argument("--kind", choices=["aiogram", "demeu"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.kind:
        asyncio.run(feed(args.kind, args.users))
        return 0
    growth = {}
    for kind in ("aiogram", "demeu"):
        output = subprocess.run(
            [sys.executable, "-m", "bench.bench_isolation", "--kind", kind, "--users", str(args.users)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        growth[kind] = float(output[0])
        print(f"{kind:8} RSS +{output[0]} MB after {args.users:,} distinct users, locks held: {output[1]}")
    print(
        f"Demeu's growth {growth['demeu']:.1f} MB, target <= +{TARGET_MB} MB: "
        f"{'holds' if growth['demeu'] <= TARGET_MB else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
