"""Messages per second, per user, in this process: past [limits] messages_per_second one calm
notice, then the rest of that second is ignored. A fixed one-second window: the table holds only
the users who wrote in the current second and is emptied when the next begins, so memory stays
bounded however many people use the bot. Keyed by the user's blind index, never the Telegram id.

Placed after the help-first middleware: a message with a crisis phrase has had its safety screen
and always goes on to its handler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from time import monotonic
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import Message, TelegramObject
from aiogram.types import User as TelegramUser
from aiogram.utils.i18n import gettext as _

from bot.services.safety import Kind, Signal
from bot.telegram.keyboards import KeyboardBuilder, urgent_row, with_nav
from storage import crypto

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class ThrottleMiddleware(BaseMiddleware):
    def __init__(self, per_second: int) -> None:
        self.per_second = per_second
        self.window = -1
        self.counts: dict[str, int] = {}

    def count(self, telegram_user_id: int) -> int:
        """This message's number within the user's current second."""
        window = int(monotonic())
        if window != self.window:
            self.window, self.counts = window, {}
        key = crypto.active().user_index(telegram_user_id)
        self.counts[key] = self.counts.get(key, 0) + 1
        return self.counts[key]

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        telegram_user: TelegramUser | None = data.get("event_from_user")
        signal: Signal | None = data.get("safety_signal")
        if not isinstance(event, Message) or telegram_user is None:
            return await handler(event, data)
        number = self.count(telegram_user.id)
        if number <= self.per_second or (signal is not None and signal.kind is not Kind.DISTRESS):
            return await handler(event, data)
        if number == self.per_second + 1:
            builder = KeyboardBuilder()
            builder.row(*urgent_row())
            await event.answer(_("limit-too-fast"), reply_markup=with_nav(builder))
        return None
