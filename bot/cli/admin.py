"""Admin commands: migrations, key rotation, invite links."""

from __future__ import annotations

import argparse

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import ConfigError, Settings
from bot.content.regions import regions
from bot.services.keys import build_crypto
from storage import crypto, db, rotation
from storage.models import Base
from storage.models.base import utcnow
from storage.models.core import FSM_STATE_SIZE
from storage.repo import invites, users
from storage.types import Sealed

BATCH = rotation.BATCH


async def dispatch(args: argparse.Namespace, settings: Settings) -> int:
    crypto.install(build_crypto(settings))
    engine = db.create_engine(settings.database.url)
    try:
        await db.upgrade(engine)
        if args.command == "db":
            print("database is up to date")
        elif args.command == "keys":
            redis_url = (
                settings.fsm.storage if settings.fsm.storage.startswith(("redis://", "rediss://")) else None
            )
            tally = await rotate_keys(engine, redis_url)
            print(
                f"re-encrypted {tally.rotated} values under the first key; {tally.current} were already, "
                f"{tally.raced} changed meanwhile (kept as the bot wrote them)"
            )
            if tally.unreadable:
                print(f"{len(tally.unreadable)} values no configured key can read were left as they are:")
                print("\n".join("  " + where for where in tally.unreadable))
        elif args.command == "invite":
            print(await make_invite(engine, settings, args.role, args.region))
        elif args.command == "seed-demo":
            from bot.cli import demo

            async with db.session_factory(engine).begin() as session:
                lines = await (demo.remove if args.remove else demo.seed)(session, settings)
            print("\n".join(lines))
        return 0
    finally:
        await engine.dispose()


async def rotate_keys(engine: AsyncEngine, redis_url: str | None = None) -> rotation.Tally:
    """Re-encrypt every encrypted value under the first configured key: each column in batches of
    their own transactions, then the conversation state in Redis when it lives there."""
    total = rotation.Tally()
    for table in Base.metadata.sorted_tables:
        sealed = [(column.name, column.type) for column in table.columns if isinstance(column.type, Sealed)]
        if not sealed:
            continue
        (key,) = table.primary_key.columns  # batches walk a one-column key
        for name, sealed_type in sealed:
            after = None
            while True:
                async with engine.begin() as connection:
                    tally, after = await connection.run_sync(
                        rotation.reseal_batch, table.name, key.name, name, sealed_type.size, after
                    )
                total.add(tally)
                if after is None:
                    break
    if redis_url:
        total.add(await rotate_redis(redis_url))
    return total


# Replace a value only if it is still the one read (the bot may have written a new one meanwhile).
_COMPARE_AND_SET = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL') and 1
end
return 0
"""


async def rotate_redis(url: str, prefix: str = "demeu:fsm:") -> rotation.Tally:
    from redis.asyncio import Redis

    cipher, tally = crypto.active(), rotation.Tally()
    sizes = {"state": FSM_STATE_SIZE, "data": crypto.FSM_DATA_SIZE}
    redis = Redis.from_url(url)
    try:
        swap = redis.register_script(_COMPARE_AND_SET)
        async for raw_key in redis.scan_iter(match=prefix + "*", count=BATCH):
            name = raw_key.decode()
            size = sizes.get(name.rpartition(":")[2])  # locks and other keys hold no tokens
            token = await redis.get(raw_key) if size is not None else None
            if size is None or token is None:
                continue
            token = token.decode()
            if cipher.is_current(token):
                tally.current += 1
                continue
            try:
                fresh = cipher.rotate(token, size)
            except crypto.UnreadableToken:
                tally.unreadable.append("redis " + name)
                continue
            if await swap(keys=[raw_key], args=[token, fresh]):
                tally.rotated += 1
            else:
                tally.raced += 1
    finally:
        await redis.aclose()
    return tally


async def make_invite(engine: AsyncEngine, settings: Settings, role: str, region: str | None) -> str:
    """The link and what it grants: role, region, once, until when."""
    if region and region not in regions():
        raise ConfigError(f"--region {region!r}: not a region code; expected one of {', '.join(regions())}")
    # Asked first: a link is only made once it can be printed.
    username = settings.telegram.bot_username or await _ask_username(settings)
    async with db.session_factory(engine).begin() as session:
        payload = await invites.create(session, role, region, settings.invites.validity)
        await users.audit(session, "cli", "invite_created:" + role, "invite")
    until = (utcnow() + settings.invites.validity).astimezone(settings.tz)
    where = f" for {region}" if region else ""
    return (
        f"A {role} invite{where}: it works once, for the first person who opens it, "
        f"until {until:%Y-%m-%d %H:%M} ({settings.bot.timezone}).\n"
        f"https://t.me/{username}?start={payload}"
    )


async def _ask_username(settings: Settings) -> str:
    from bot.telegram.bot import build_bot, introduce

    bot = build_bot(settings)
    try:
        return (await introduce(bot, retry=False)).username or ""
    finally:
        await bot.session.close()
