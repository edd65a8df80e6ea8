"""Admin commands: key rotation re-encrypts everything; invites are single-use and expire."""
from datetime import timedelta

import pytest
from sqlalchemy import Text, select, type_coerce

from bot.admin_cli import make_invite, rotate_keys
from bot.config import ConfigError
from storage import crypto, db
from storage.models import FsmRecord, User
from storage.repo import invites, users
from tests.conftest import TEST_HMAC, TEST_KEYS, make_settings


async def test_rotate_reencrypts_every_value_under_the_first_key(database_url):
    engine = db.create_engine(database_url)
    await db.upgrade(engine)
    sessions = db.session_factory(engine)
    async with sessions.begin() as session:
        await users.create(session, 111, "kk")
        session.add(FsmRecord(key="k", state="s", data='{"note": "секрет"}'))
    new_key = crypto.generate_encryption_key()
    crypto.install(crypto.Crypto.from_keys([new_key, *TEST_KEYS], TEST_HMAC))
    assert (await rotate_keys(engine)).rotated == 3  # the chat id, the state and the data
    crypto.install(crypto.Crypto.from_keys([new_key], TEST_HMAC))  # the old key is gone
    async with sessions() as session:
        user = await session.scalar(select(User))
        assert user.chat_id == "111"
        assert (await session.get(FsmRecord, "k")).data == '{"note": "секрет"}'
        raw = await session.scalar(select(type_coerce(User.chat_id, Text)))
        assert "111" not in raw
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
    settings = make_settings(sqlite_url, "", "1:a", tmp_path, telegram={"bot_username": "demeu_bot"})
    engine = db.create_engine(sqlite_url)
    await db.upgrade(engine)
    link = await make_invite(engine, settings, "coordinator", "KZ-61")
    assert link.startswith("https://t.me/demeu_bot?start=inv_")
    with pytest.raises(ConfigError, match="KZ-99"):
        await make_invite(engine, settings, "coordinator", "KZ-99")
    await engine.dispose()
