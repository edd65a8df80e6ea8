"""bot.delivery against the fake Bot API: flood waits, server errors, blocked users."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from sqlalchemy import select

from bot.telegram import delivery
from bot.telegram.delivery import Outcome, Policy
from storage import db
from storage.models import Reminder, User
from storage.models.base import utcnow
from storage.repo import reminders, users

FAST = Policy(attempts=3, base_delay=0.01, max_delay=0.02, max_flood_waits=3, max_retry_after=5)


def make_bot(fake_api) -> Bot:
    return Bot(fake_api.token, session=AiohttpSession(api=TelegramAPIServer.from_base(fake_api.base_url)))


def sends(fake_api, chat_id: int) -> list:
    return [c for c in fake_api.calls if c.method == "sendMessage" and c.chat_id == chat_id]


async def test_flood_wait_and_server_errors_are_retried(fake_api):
    bot = make_bot(fake_api)
    fake_api.user(7001)
    fake_api.inject("sendMessage", status=429, retry_after=1)
    fake_api.inject("sendMessage", status=502, times=2)
    result = await delivery.send_message(bot, 7001, "hello", policy=FAST)
    await bot.session.close()
    assert result.outcome is Outcome.SENT and result.result.message_id == 1
    assert [c.status for c in sends(fake_api, 7001)] == [429, 502, 502, 200]
    assert [m.text for m in fake_api.messages(7001)] == ["hello"]


async def test_server_errors_give_up_after_bounded_tries(fake_api):
    bot = make_bot(fake_api)
    fake_api.inject("sendMessage", status=500, times=10)
    result = await delivery.send_message(bot, 7002, "hello", policy=FAST)
    await bot.session.close()
    assert result.outcome is Outcome.RETRYABLE and result.error == "TelegramServerError"
    assert len(sends(fake_api, 7002)) == FAST.attempts


async def test_long_flood_wait_is_handed_back(fake_api):
    bot = make_bot(fake_api)
    fake_api.inject("sendMessage", status=429, retry_after=120)
    result = await delivery.send_message(bot, 7003, "hello", policy=FAST)
    await bot.session.close()
    assert result.outcome is Outcome.RETRYABLE and result.retry_after == 120
    assert len(sends(fake_api, 7003)) == 1


async def test_blocked_user_is_marked_inactive_once_without_retries(fake_api, sqlite_url, tmp_path: Path):
    engine = db.create_engine(sqlite_url)
    await db.upgrade(engine)
    sessions = db.session_factory(engine)
    async with sessions() as session:
        user = await users.create(session, 7004, "kk")
        await reminders.schedule(session, "later", user.id, utcnow() + timedelta(days=1), "message")
        await session.commit()
    bot = make_bot(fake_api)
    fake_api.block(7004)
    try:
        result = await delivery.send_message(
            bot, 7004, "hello", user_id=user.id, sessions=sessions, policy=FAST
        )
    finally:
        await bot.session.close()
    async with sessions() as session:
        active = await session.scalar(select(User.active).where(User.id == user.id))
        waiting = await session.scalar(select(Reminder).where(Reminder.key == "later"))
    await engine.dispose()
    assert result.outcome is Outcome.BLOCKED and active is False
    assert (waiting.status, waiting.last_error) == ("dead", "blocked"), "their reminders stop with it"
    assert len(sends(fake_api, 7004)) == 1


async def test_bad_request_is_rejected_not_retried(fake_api):
    bot = make_bot(fake_api)
    fake_api.inject("sendMessage", status=400, description="Bad Request: can't parse entities")
    result = await delivery.send_message(bot, 7005, "hello", policy=FAST)
    await bot.session.close()
    assert result.outcome is Outcome.REJECTED and len(sends(fake_api, 7005)) == 1
