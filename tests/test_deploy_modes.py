"""Production shapes: conversation state in Redis, and webhook mode behind a secret."""

import socket

import pytest
from aiogram.fsm.storage.base import StorageKey
from aiohttp import ClientSession, web
from pydantic import SecretStr

from bot.config import generate_webhook_secret
from bot.telegram import followups
from tests.conftest import REDIS_URL, make_settings
from tests.fakeapi.reporting import report_handled

SECRET_TEXT = "Мен шаршадым, директор ұрсады"
SECRET = generate_webhook_secret()


@pytest.mark.skipif(not REDIS_URL, reason="DEMEU_TEST_REDIS_URL not set")
async def test_redis_state_survives_restart_and_holds_no_ids_or_text(fake_api, start_bot):
    from redis.asyncio import Redis

    user_id = 770_123_456
    bot = await start_bot(fsm={"storage": REDIS_URL})
    key = StorageKey(bot_id=bot.app.bot.id, chat_id=user_id, user_id=user_id)
    await bot.app.dispatcher.storage.set_state(key, "Booking:note")
    await bot.app.dispatcher.storage.set_data(key, {"note": SECRET_TEXT})
    await bot.stop()

    again = await start_bot(fsm={"storage": REDIS_URL})
    storage = again.app.dispatcher.storage
    assert await storage.get_state(key) == "Booking:note"
    assert await storage.get_data(key) == {"note": SECRET_TEXT}

    redis = Redis.from_url(REDIS_URL)
    try:
        ours = [k async for k in redis.scan_iter("demeu:fsm:*")]
        assert ours
        for name in ours:
            assert str(user_id).encode() not in name
            value = await redis.get(name)
            assert SECRET_TEXT.encode() not in (value or b"")
            assert "шаршадым".encode() not in (value or b"")
    finally:
        await storage.set_state(key, None)
        await storage.set_data(key, {})
        await redis.aclose()


async def test_webhook_mode_checks_the_secret_and_reports_health(fake_api, tmp_path):
    from bot.app import App

    # Bound now and held: a port probed and released could be taken by another test process meanwhile.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path / 'demeu.db'}",
        fake_api.base_url,
        fake_api.token,
        tmp_path,
        telegram={
            "mode": "webhook",
            "webhook_url": f"http://127.0.0.1:{port}",
            "webhook_secret": SecretStr(SECRET),
        },
    )
    app = await App.create(settings)
    report_handled(app.dispatcher, fake_api, settle=followups.settled)
    runner = web.AppRunner(app.webhook_app())
    await runner.setup()  # startup registers the webhook with the (fake) Bot API
    try:
        await web.SockSite(runner, listener).start()
        assert fake_api.webhook_url == f"http://127.0.0.1:{port}/telegram"
        assert fake_api.webhook_secret == SECRET

        teacher = fake_api.user(user_id=880_001, language_code="ru")
        await teacher.send_text("/start")
        assert "Выберите язык" in teacher.last_text
        assert set(fake_api.webhook_statuses) == {200}

        async with ClientSession() as client:
            forged = {
                "update_id": 999_999,
                "message": {
                    "message_id": 1,
                    "date": 0,
                    "text": "/start",
                    "chat": {"id": 880_002, "type": "private"},
                    "from": {"id": 880_002, "is_bot": False, "first_name": "X"},
                },
            }
            async with client.post(f"http://127.0.0.1:{port}/telegram", json=forged) as response:
                assert response.status == 401
            async with client.post(
                f"http://127.0.0.1:{port}/telegram",
                json=forged,
                headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"},
            ) as response:
                assert response.status == 401
            async with client.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 200
        assert not [c for c in fake_api.calls if c.chat_id == 880_002], "a forged update must not be handled"
    finally:
        await runner.cleanup()
        await app.close()
