"""Start-up mistakes say what to do: a token Telegram refuses, an unreachable Bot API for a command
run by hand; a bot started while the API is down comes up once it answers."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

from sqlalchemy import func, select

from bot.telegram.bot import build_bot, introduce
from storage import db
from storage.models import Invite
from tests.conftest import TEST_HMAC, TEST_KEYS, make_settings

ROOT = Path(__file__).resolve().parents[1]
REFUSED = "9:AAE-refused-token-0123456789abcdefg"


def env(tmp_path: Path, api: str, token: str) -> dict[str, str]:
    return {
        **os.environ,
        "BOT_TOKEN": token,
        "DEMEU_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'demeu.db'}",
        "DEMEU_ENCRYPTION_KEYS": ",".join(TEST_KEYS),
        "DEMEU_HMAC_KEY": TEST_HMAC,
        "DEMEU_TELEGRAM_API_SERVER": api,
        "DEMEU_BOT_DATA_DIR": str(tmp_path / "data"),
    }


async def demeu(*args: str, environ: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, cwd=ROOT, env=environ,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, output.decode()


def closed_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


async def test_a_token_telegram_refuses_stops_the_bot_saying_what_to_do(fake_api, tmp_path):
    code, output = await demeu(environ=env(tmp_path, fake_api.base_url, REFUSED))
    assert code == 2, output
    assert "telegram.token: Telegram does not know this token (401 Unauthorized)" in output
    assert "@BotFather" in output and "Traceback" not in output
    assert REFUSED not in output


async def test_invite_fails_fast_without_the_bot_api_and_makes_no_link(tmp_path):
    environ = env(tmp_path, closed_port(), "7:AAE-some-token-0123456789abcdefghijk")
    code, output = await demeu("invite", "psychologist", environ=environ)
    assert code == 2, output
    assert "cannot reach the Telegram Bot API" in output and "telegram.bot_username" in output
    assert "Traceback" not in output
    engine = db.create_engine(environ["DEMEU_DATABASE_URL"])
    try:
        async with engine.connect() as connection:
            assert await connection.scalar(select(func.count()).select_from(Invite)) == 0
    finally:
        await engine.dispose()


async def test_invite_says_what_it_grants_once_and_until_when(fake_api, tmp_path):
    code, output = await demeu(
        "invite", "coordinator", "--region", "KZ-61", environ=env(tmp_path, fake_api.base_url, fake_api.token)
    )
    assert code == 0, output
    assert (
        "A coordinator invite for KZ-61: it works once, for the first person who opens it, until " in output
    )
    assert f"https://t.me/{fake_api.bot_user['username']}?start=inv_" in output


async def test_a_bot_started_while_the_bot_api_is_down_comes_up_when_it_answers(fake_api, tmp_path):
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path / 'd.db'}", fake_api.base_url, fake_api.token, tmp_path
    )
    fake_api.inject("getMe", status=502, times=2)
    bot = build_bot(settings)
    try:
        me = await introduce(bot, retry=True)
    finally:
        await bot.session.close()
    assert me.username == fake_api.bot_user["username"]
    assert [c.method for c in fake_api.calls if c.method == "getMe"] == ["getMe"] * 3


def test_the_bot_starts_without_the_libraries_of_documents_and_charts():
    """matplotlib (with numpy and Pillow), fpdf2 and openpyxl are imported when a chart, a report
    or a template is first made: 50 MB and a second at every start of a bot that may make none."""
    import subprocess

    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, bot.app; print(*sorted(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert not {"matplotlib", "fpdf", "openpyxl", "numpy", "PIL"} & set(loaded)
