"""What the benchmarks share: the real app (or a bare aiogram dispatcher) fed updates in process.

Both sides send their replies through `NullSession`, which answers every Bot API method at once
without a network, so a ratio measures only what Demeu adds: middlewares, database, encryption,
translation and its handlers.
"""

from __future__ import annotations

import itertools
import os
import tempfile
import time
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.base import BaseSession
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import CallbackQuery, Chat, Message, Update
from aiogram.types import User as TelegramUser
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.config import Settings, load_settings

BENCH_KEYS = "x7Y5jM4qVv0w3yVd7QwCkq9m3e4pQK3n6b0bI8t8hbM="
BENCH_HMAC = "bench-hmac-key-0123456789abcdef0123456789abcdef"
TOKEN = "42:BENCHMARK-TOKEN-abcdefghijklmnopqrstuvwxyz"
_NOW = datetime.now(UTC)


class NullSession(BaseSession):
    """Answers every method instantly with a minimal valid result; counts the calls."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self._ids = itertools.count(1000)

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> Any:
        self.calls += 1
        returning = method.__returning__
        if returning is bool:
            return True
        chat_id = getattr(method, "chat_id", None) or 1
        if returning is Message or "Message" in str(returning):
            return Message(
                message_id=next(self._ids),
                date=_NOW,
                chat=Chat(id=int(chat_id), type="private"),
                text=getattr(method, "text", None) or "·",
            )
        if method.__api_method__ == "getMe":
            return TelegramUser(id=42, is_bot=True, first_name="Demeu", username="demeu_bench_bot")
        raise NotImplementedError(f"NullSession does not answer {method.__api_method__}")

    async def stream_content(self, *args: Any, **kwargs: Any) -> AsyncGenerator[bytes, None]:
        raise NotImplementedError
        yield b""  # pragma: no cover

    async def close(self) -> None:
        pass


def bench_settings(database_url: str | None, data_dir: Path, fsm: str | None = None) -> Settings:
    environ = {
        "DEMEU_FSM_STORAGE": fsm or "database",
        "BOT_TOKEN": TOKEN,
        "DEMEU_DATABASE_URL": database_url or f"sqlite+aiosqlite:///{data_dir / 'bench.db'}",
        "DEMEU_ENCRYPTION_KEYS": BENCH_KEYS,
        "DEMEU_HMAC_KEY": BENCH_HMAC,
        "DEMEU_BOT_DATA_DIR": str(data_dir),
    }
    empty = data_dir / "config.toml"
    empty.touch()
    return load_settings(empty, environ=environ)


def temp_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="demeu-bench-"))


def telegram_user(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": "Bench", "language_code": "kk"}


_update_ids = itertools.count(1)


def callback_update(user_id: int, data: str, text: str = "·") -> Update:
    """A button press on a bot message that has text (so handlers can edit it in place)."""
    message = {
        "message_id": 7,
        "date": int(_NOW.timestamp()),
        "text": text,
        "chat": {"id": user_id, "type": "private"},
        "from": {"id": 42, "is_bot": True, "first_name": "Demeu"},
    }
    query = {
        "id": f"q{next(_update_ids)}",
        "from": telegram_user(user_id),
        "chat_instance": "ci",
        "message": message,
        "data": data,
    }
    return Update.model_validate({"update_id": next(_update_ids), "callback_query": query})


def text_update(user_id: int, text: str) -> Update:
    message = {
        "message_id": next(_update_ids),
        "date": int(_NOW.timestamp()),
        "text": text,
        "chat": {"id": user_id, "type": "private"},
        "from": telegram_user(user_id),
    }
    return Update.model_validate({"update_id": next(_update_ids), "message": message})


def bare_dispatcher() -> Dispatcher:
    """A plain aiogram bot making the same replies to a menu press: edit the message, answer the press."""
    router = Router()
    builder = InlineKeyboardBuilder()
    for item in ("book", "groups", "check", "relax", "mine", "sos", "settings"):
        builder.button(text=item, callback_data=f"m:{item}")
    markup = builder.as_markup()

    @router.callback_query(F.data.startswith("m:"))
    async def menu(query: CallbackQuery) -> None:
        await query.message.edit_text("Басты мәзір · Главное меню", reply_markup=markup)
        await query.answer()

    @router.message()
    async def reply(message: Message) -> None:
        await message.answer("ok", reply_markup=markup)

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    return dispatcher


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def rss_mb() -> float:
    """Resident memory of this process now (Linux)."""
    with open(f"/proc/{os.getpid()}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Stopwatch:
    def __enter__(self) -> Stopwatch:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start
