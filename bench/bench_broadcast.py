"""A broadcast to many teachers against the fake Bot API enforcing Telegram's flood limits.

    python -m bench.bench_broadcast [--teachers 1000] [--rate 25] [--database URL]

The real app (database, encryption, the broadcast worker) sends through the fake server of the
tests, which answers 429 beyond 30 messages/s overall and 1/s per chat. Prints, side by side in
one run on this machine:
- Demeu's worker: achieved messages/s as a ratio of the configured rate (target >= 0.9), the share
  of sendMessage calls answered 429 (target < 1 %), and that every teacher got exactly one copy;
- the same worker with the naive limiter (a bucket as large as the rate, which allows a burst on top
  of the steady flow) for comparison: why the bucket holds one message.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter

from aiolimiter import AsyncLimiter
from sqlalchemy import select

from bench.stack import BENCH_HMAC, BENCH_KEYS, temp_dir
from bot.app import App
from bot.config import load_settings
from storage.models import Broadcast
from storage.models.base import utcnow
from storage.repo import broadcasts, users
from tests.fakeapi import FakeBotAPI

FIRST = 700_000_000
COORDINATOR = 699_999_999


async def make_teachers(app: App, count: int) -> None:
    async with app.sessions() as session:
        for n in range(count):
            user = await users.create(session, FIRST + n, "kk" if n % 2 else "ru")
            user.consent_at = utcnow()
        coordinator = await users.create(session, COORDINATOR, "ru")
        coordinator.role, coordinator.consent_at = "coordinator", utcnow()
        await session.commit()


async def run_broadcast(app: App, api: FakeBotAPI, label: str) -> dict[str, float]:
    """Start one broadcast to every teacher and wait until the worker reports it done."""
    progress = await app.bot.send_message(COORDINATOR, "…")
    calls_before, limited_before = len(api.calls), len(api.rate_limited)
    async with app.sessions() as session:
        coordinator = await users.by_telegram_id(session, COORDINATOR)
        draft = await broadcasts.create_draft(
            session,
            created_by=coordinator.id,
            text_kk=f"Бенчмарк {label}",
            text_ru=f"Бенчмарк {label}",
            audience="all",
            group_id=None,
            language="ru",
        )
        total = await broadcasts.start(session, draft, None, utcnow(), COORDINATOR, progress.message_id)
        await session.commit()
    app.broadcaster.wake()
    while True:
        await asyncio.sleep(0.2)
        async with app.sessions() as session:
            if await session.scalar(select(Broadcast.status).where(Broadcast.id == draft.id)) == "done":
                break
    sends = [c for c in api.calls[calls_before:] if c.method == "sendMessage" and c.chat_id != COORDINATOR]
    ok = [c for c in sends if c.status == 200]
    copies = Counter(c.chat_id for c in ok)
    # Server-side clock: from the first accepted message to the last one.
    span = max(c.time for c in ok) - min(c.time for c in ok)
    return {
        "recipients": total,
        "achieved": (len(ok) - 1) / span if span > 0 else float("inf"),
        "share_429": (len(api.rate_limited) - limited_before) / max(len(sends), 1),
        "exactly_once": float(set(copies.values()) == {1} and len(copies) == total),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--teachers", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=None, help="messages/s (default: the [broadcast] rate)")
    parser.add_argument("--database", default=None, help="database URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    data_dir = temp_dir()
    async with FakeBotAPI() as api:
        api.rate_limit(global_per_second=30, per_chat_per_second=1)
        environ = {
            "BOT_TOKEN": api.token,
            "DEMEU_TELEGRAM_API_SERVER": api.base_url,
            "DEMEU_DATABASE_URL": args.database or f"sqlite+aiosqlite:///{data_dir / 'bench.db'}",
            "DEMEU_ENCRYPTION_KEYS": BENCH_KEYS,
            "DEMEU_HMAC_KEY": BENCH_HMAC,
            "DEMEU_BOT_DATA_DIR": str(data_dir),
        }
        if args.rate:
            environ["DEMEU_BROADCAST_RATE"] = str(args.rate)
        (data_dir / "config.toml").touch()
        settings = load_settings(data_dir / "config.toml", environ=environ)
        app = await App.create(settings)
        try:
            await make_teachers(app, args.teachers)
            await app._on_startup()  # the workers, as when polling starts
            rate = settings.broadcast.rate
            demeu = await run_broadcast(app, api, "demeu")
            app.broadcaster.limiter = AsyncLimiter(rate, 1)  # the naive bucket, for comparison
            await asyncio.sleep(1.5)  # let every chat's one-second window pass
            naive = await run_broadcast(app, api, "naive")
        finally:
            await app.close()
    print(
        f"broadcast to {args.teachers} teachers, configured rate {rate:g} msg/s, "
        f"fake Bot API limits 30 msg/s overall and 1/s per chat"
    )
    print(f"{'limiter':<28}{'achieved msg/s':>15}{'ratio to rate':>15}{'429 share':>11}{'one copy each':>15}")
    for name, result in (("Demeu (bucket of 1)", demeu), ("naive (bucket of rate)", naive)):
        print(
            f"{name:<28}{result['achieved']:>15.1f}{result['achieved'] / rate:>15.2f}"
            f"{result['share_429']:>11.2%}{'yes' if result['exactly_once'] else 'NO':>15}"
        )
    print(
        f"target: ratio >= 0.9 and 429 share < 1 % -> "
        f"{'met' if demeu['achieved'] / rate >= 0.9 and demeu['share_429'] < 0.01 else 'NOT met'}"
    )


if __name__ == "__main__":
    asyncio.run(main())
