"""Admin commands: migrations, key rotation, invite links."""
from __future__ import annotations

import argparse

from sqlalchemy import Text, select, type_coerce, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import build_crypto
from bot.config import ConfigError, Settings
from bot.regions import regions
from storage import crypto, db
from storage.models import Base
from storage.repo import invites, users
from storage.types import EncryptedJSON, EncryptedText

BATCH = 500


async def dispatch(args: argparse.Namespace, settings: Settings) -> int:
    crypto.install(build_crypto(settings))
    engine = db.create_engine(settings.database.url)
    try:
        await db.upgrade(engine)
        if args.command == "db":
            print("database is up to date")
        elif args.command == "keys":
            print(f"re-encrypted {await rotate_keys(engine)} values under the first key")
        elif args.command == "invite":
            print(await make_invite(engine, settings, args.role, args.region))
        elif args.command == "seed-demo":
            from bot import demo

            async with db.session_factory(engine).begin() as session:
                lines = await (demo.remove if args.remove else demo.seed)(session, settings)
            print("\n".join(lines))
        return 0
    finally:
        await engine.dispose()


async def rotate_keys(engine: AsyncEngine) -> int:
    """Re-encrypt every encrypted column under the first configured key, in batches."""
    cipher = crypto.active()
    rotated = 0
    for table in Base.metadata.sorted_tables:
        encrypted = [c for c in table.columns if isinstance(c.type, EncryptedText | EncryptedJSON)]
        if not encrypted:
            continue
        key = list(table.primary_key.columns)
        for column in encrypted:
            raw = type_coerce(column, Text)  # the stored token, not the decrypted value
            last = None
            while True:
                async with engine.begin() as connection:
                    query = select(*key, raw).where(column.is_not(None)).order_by(*key).limit(BATCH)
                    if last is not None:
                        query = query.where(key[0] > last)
                    rows = (await connection.execute(query)).all()
                    rotated += len(rows)
                    for row in rows:
                        await connection.execute(
                            update(table)
                            .where(*(k == row[i] for i, k in enumerate(key)))
                            .values({column.name: type_coerce(cipher.rotate(row[-1]), Text)})
                        )
                if len(rows) < BATCH:
                    break
                last = rows[-1][0]
    return rotated


async def make_invite(engine: AsyncEngine, settings: Settings, role: str, region: str | None) -> str:
    if region and region not in regions():
        raise ConfigError(f"--region {region!r}: not a region code; expected one of {', '.join(regions())}")
    async with db.session_factory(engine).begin() as session:
        payload = await invites.create(session, role, region, settings.invites.validity)
        await users.audit(session, "cli", "invite_created:" + role, "invite")
    username = settings.telegram.bot_username or await _ask_username(settings)
    return f"https://t.me/{username}?start={payload}"


async def _ask_username(settings: Settings) -> str:
    from bot.app import build_bot

    bot = build_bot(settings)
    try:
        return (await bot.me()).username or ""
    finally:
        await bot.session.close()
