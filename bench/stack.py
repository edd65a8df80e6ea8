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
from collections.abc import AsyncGenerator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiogram import Bot, Dispatcher, Router
from aiogram.client.session.base import BaseSession
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import (
    BotDescription,
    BotShortDescription,
    BufferedInputFile,
    CallbackQuery,
    Chat,
    Message,
    Update,
)
from aiogram.types import User as TelegramUser
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.config import Settings, load_settings

BENCH_KEYS = "x7Y5jM4qVv0w3yVd7QwCkq9m3e4pQK3n6b0bI8t8hbM="
BENCH_HMAC = "bench-hmac-key-0123456789abcdef0123456789abcdef"
TOKEN = "42:BENCHMARK-TOKEN-abcdefghijklmnopqrstuvwxyz"
# The bare side's own bot: aiogram compares bots by token, and an update attached to another bot is
# re-validated (a JSON round trip) before it is handled, so each side is fed updates attached to its own.
BARE_TOKEN = "43:BARE-AIOGRAM-TOKEN-abcdefghijklmnopqrstuvw"
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
        if getattr(returning, "__origin__", None) is list:  # getMyCommands
            return []
        if method.__api_method__ == "getMyDescription":
            return BotDescription(description="")
        if method.__api_method__ == "getMyShortDescription":
            return BotShortDescription(short_description="")
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


def callback_payload(user_id: int, data: str, text: str = "·") -> dict[str, Any]:
    """A button press on a bot message that has text, as JSON: protected from forwarding, as Demeu's
    screens are, so its handlers edit it in place (they send a new one when the protection differs,
    bot/telegram/ui.show), as the bare side does."""
    message = {
        "message_id": 7,
        "date": int(_NOW.timestamp()),
        "text": text,
        "has_protected_content": True,
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
    return {"update_id": next(_update_ids), "callback_query": query}


def attached(payload: dict[str, Any], bot: Bot | None) -> Update:
    """The update as polling makes it: validated once, bound to the bot that will handle it (aiogram
    re-validates an update bound to another bot, or to none, before handling it)."""
    return Update.model_validate(payload, context={"bot": bot} if bot is not None else {})


def callback_update(user_id: int, data: str, text: str = "·", bot: Bot | None = None) -> Update:
    return attached(callback_payload(user_id, data, text), bot)


def text_update(user_id: int, text: str, bot: Bot | None = None) -> Update:
    message = {
        "message_id": next(_update_ids),
        "date": int(_NOW.timestamp()),
        "text": text,
        "chat": {"id": user_id, "type": "private"},
        "from": telegram_user(user_id),
    }
    return attached({"update_id": next(_update_ids), "message": message}, bot)


def starts_with(prefix: str) -> Callable[[CallbackQuery], Awaitable[bool]]:
    """A filter as a coroutine function: aiogram 3 runs a plain function (a magic `F.…` filter too)
    in a worker thread (`asyncio.to_thread`), a hop a hand-written bare bot would not pay."""

    async def check(query: CallbackQuery) -> bool:
        return query.data is not None and query.data.startswith(prefix)

    return check


def bare_dispatcher(psychologist_chat: int) -> Dispatcher:
    """Plain aiogram making the same Bot API calls as Demeu for each kind of press (a menu step, a
    booking confirmation, a questionnaire answer), with no database; its filters are coroutines."""
    router = Router()
    builder = InlineKeyboardBuilder()
    for n in range(8):
        builder.button(text=f"item {n}", callback_data=f"m:{n}")
    markup = builder.adjust(1, 1, 2, 2, 2).as_markup()

    @router.callback_query(starts_with("m:"))
    async def menu(query: CallbackQuery) -> None:
        # The pressed item in the text: each press changes the screen, as Demeu's menu steps do.
        await query.message.edit_text(f"Басты мәзір · Главное меню {query.data}", reply_markup=markup)
        await query.answer()

    @router.callback_query(starts_with("bk:"))
    async def book(query: CallbackQuery, bot: Bot) -> None:
        await query.message.edit_text("Жазылдыңыз · Вы записаны", reply_markup=markup)
        await query.message.answer_document(
            BufferedInputFile(b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", "demeu.ics")
        )
        await bot.send_message(psychologist_chat, "Жаңа жазылу · Новая запись", reply_markup=markup)
        await query.answer()

    @router.callback_query(starts_with("sc:"))
    async def answer(query: CallbackQuery) -> None:
        await query.message.edit_text(f"Сұрақ · Вопрос {query.data}", reply_markup=markup)
        await query.answer()

    @router.message()
    async def reply(message: Message) -> None:
        await message.answer("Басты мәзір · Главное меню", reply_markup=markup)

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
