"""Admin commands: key rotation re-encrypts everything; invites are single-use and expire."""

from datetime import timedelta

import pytest
from sqlalchemy import Text, select, type_coerce

from bot.cli.admin import make_invite, rotate_keys
from bot.config import ConfigError
from storage import crypto, db
from storage.models import FsmRecord, User
from storage.repo import invites, users
from tests.conftest import REDIS_URL, TEST_HMAC, TEST_KEYS, make_settings


async def test_rotate_reencrypts_every_value_under_the_first_key(database_url):
    engine = db.create_engine(database_url)
    await db.upgrade(engine)
    sessions = db.session_factory(engine)
    async with sessions.begin() as session:
        await users.create(session, 111, "kk")
        session.add(FsmRecord(key="k", state="s", data='{"note": "секрет"}'))
    new_key = crypto.generate_encryption_key()
    crypto.install(crypto.Crypto.from_keys([new_key, *TEST_KEYS], TEST_HMAC))
    assert (await rotate_keys(engine)).rotated == 4  # the chat id, the preferences, the state and the data
    crypto.install(crypto.Crypto.from_keys([new_key], TEST_HMAC))  # the old key is gone
    async with sessions() as session:
        user = await session.scalar(select(User))
        assert user.chat_id == "111"
        assert (await session.get(FsmRecord, "k")).data == '{"note": "секрет"}'
        raw = await session.scalar(select(type_coerce(User.chat_id, Text)))
        assert crypto.active().is_current(raw), "a sealed token under the new key"
    await engine.dispose()


async def test_invite_is_single_use_and_expires(database_url):
    engine = db.create_engine(database_url)
    await db.upgrade(engine)
    sessions = db.session_factory(engine)
    async with sessions.begin() as session:
        first = await users.create(session, 1, "ru")
        second = await users.create(session, 2, "ru")
        payload = await invites.create(session, "psychologist", "KZ-15", timedelta(hours=72))
        expired = await invites.create(session, "coordinator", None, timedelta(seconds=-1))
    assert len(payload) <= 64 and payload.startswith("inv_")
    async with sessions.begin() as session:
        invite = await invites.redeem(session, payload, first.id)
        assert (invite.role, invite.region) == ("psychologist", "KZ-15")
    async with sessions.begin() as session:
        assert await invites.redeem(session, payload, second.id) is None
        assert await invites.redeem(session, expired, second.id) is None
        assert await invites.redeem(session, "inv_forged", second.id) is None
    await engine.dispose()


async def test_cli_invite_link_and_region_check(sqlite_url, tmp_path):
    settings = make_settings(
        sqlite_url,
        "",
        "1:AAE-test-token-0123456789abcdefghij",
        tmp_path,
        telegram={"bot_username": "demeu_bot"},
    )
    engine = db.create_engine(sqlite_url)
    await db.upgrade(engine)
    link = await make_invite(engine, settings, "coordinator", "KZ-61")
    assert link.splitlines()[-1].startswith("https://t.me/demeu_bot?start=inv_")
    with pytest.raises(ConfigError, match="KZ-99"):
        await make_invite(engine, settings, "coordinator", "KZ-99")
    await engine.dispose()


class _WriteAfterRead:
    """A connection on which `write` runs right after the first SELECT: the running bot changing a
    value between what rotation read and its UPDATE."""

    def __init__(self, connection, write) -> None:
        self.connection, self.write = connection, write

    def execute(self, statement, *args, **kwargs):
        result = self.connection.execute(statement, *args, **kwargs)
        if self.write is not None and getattr(statement, "is_select", False):
            rows = result.all()
            self.write(self.connection)
            self.write = None
            return _Rows(rows)
        return result


class _Rows:
    def __init__(self, rows) -> None:
        self.rows = rows

    def all(self):
        return self.rows


async def test_rotation_never_overwrites_a_concurrent_write_and_skips_what_it_cannot_read(database_url):
    """The bot writes while `keys rotate` runs: its new value stands. A token no key reads is
    reported and left, not fatal. A second run (after a kill, say) finds the job done."""
    from storage import rotation

    engine = db.create_engine(database_url)
    await db.upgrade(engine)
    sessions = db.session_factory(engine)
    async with sessions.begin() as session:
        created = [await users.create(session, telegram_id, "kk") for telegram_id in (201, 202, 203)]
    first, second, broken = (user.id for user in created)
    new_key = crypto.generate_encryption_key()
    crypto.install(crypto.Crypto.from_keys([new_key, *TEST_KEYS], TEST_HMAC))
    chat_id = User.__table__.c.chat_id
    async with engine.begin() as connection:
        await connection.execute(
            User.__table__.update().where(User.id == broken).values(chat_id=type_coerce("not-a-token", Text))
        )

    def bot_writes(connection) -> None:  # under the first key, as the running bot would
        connection.execute(User.__table__.update().where(User.id == first).values(chat_id="999"))

    async with engine.begin() as connection:
        tally, _last = await connection.run_sync(
            lambda sync: rotation.reseal_batch(
                _WriteAfterRead(sync, bot_writes), "users", "id", "chat_id", 24
            )
        )
    assert tally.raced == 1, "the bot's write between read and write stands"
    assert tally.unreadable == [f"users.chat_id#{broken}"]
    assert tally.rotated >= 1
    rest = await rotate_keys(engine)  # the chat ids are done: every user's sealed preferences are left
    assert rest.rotated == len(created) and rest.unreadable == [f"users.chat_id#{broken}"]
    again = await rotate_keys(engine)
    assert again.rotated == 0 and again.unreadable == [f"users.chat_id#{broken}"], (
        "nothing left but the unreadable"
    )
    crypto.install(crypto.Crypto.from_keys([new_key], TEST_HMAC))  # the old key is gone
    async with sessions() as session:
        assert (await session.get(User, first)).chat_id == "999"
        assert (await session.get(User, second)).chat_id == "202"
        raw = await session.scalar(select(type_coerce(chat_id, Text)).where(User.id == second))
        assert crypto.active().is_current(raw)
    await engine.dispose()


@pytest.mark.skipif(not REDIS_URL, reason="DEMEU_TEST_REDIS_URL not set")
async def test_rotation_rewrites_the_conversation_state_in_redis(tmp_path):
    """Redis FSM values are rotated too: once the old key is dropped they still read."""
    from aiogram.fsm.storage.base import StorageKey
    from redis.asyncio import Redis

    from bot.cli.admin import rotate_redis
    from bot.telegram.fsm import SealedRedisStorage

    prefix = f"demeu:fsm-rotation-{tmp_path.name}"
    storage = SealedRedisStorage.for_url(REDIS_URL, prefix=prefix)
    key = StorageKey(bot_id=1, chat_id=42, user_id=42)
    await storage.set_state(key, "SafetyPlan:step")
    await storage.set_data(key, {"n": 3})
    new_key = crypto.generate_encryption_key()
    crypto.install(crypto.Crypto.from_keys([new_key, *TEST_KEYS], TEST_HMAC))
    try:
        tally = await rotate_redis(REDIS_URL, prefix=prefix + ":")
        assert tally.rotated == 2
        crypto.install(crypto.Crypto.from_keys([new_key], TEST_HMAC))
        assert await storage.get_state(key) == "SafetyPlan:step"
        assert await storage.get_data(key) == {"n": 3}
    finally:
        redis = Redis.from_url(REDIS_URL)
        await redis.delete(*[k async for k in redis.scan_iter(match=prefix + "*")] or ["none"])
        await redis.aclose()
        await storage.close()
