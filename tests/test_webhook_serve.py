"""`python -m bot` in webhook mode: served through aiohttp's public runner until stopped."""

import asyncio
import socket

from aiohttp import ClientError, ClientSession
from pydantic import SecretStr

from bot import __main__ as entry
from bot.config import generate_webhook_secret
from tests.conftest import make_settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def healthz(port: int) -> int:
    """The status of /healthz once the server listens."""
    async with ClientSession() as client:
        for _ in range(200):
            try:
                async with client.get(f"http://127.0.0.1:{port}/healthz") as response:
                    return response.status
            except ClientError:
                await asyncio.sleep(0.05)
    raise AssertionError("the webhook server never listened")


async def test_run_serves_the_webhook_until_cancelled_then_releases_the_port(fake_api, tmp_path):
    port = free_port()
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path / 'demeu.db'}",
        fake_api.base_url,
        fake_api.token,
        tmp_path,
        telegram={
            "mode": "webhook",
            "webhook_url": f"http://127.0.0.1:{port}",
            "webhook_secret": SecretStr(generate_webhook_secret()),
            "webhook_host": "127.0.0.1",
            "webhook_port": port,
        },
    )
    running = asyncio.create_task(entry.run(settings))
    try:
        assert await healthz(port) == 200
        assert fake_api.webhook_url == f"http://127.0.0.1:{port}/telegram"
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    with socket.socket() as again:  # the runner was cleaned up: nothing listens there any more
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past connections' TIME_WAIT
        again.bind(("127.0.0.1", port))
