"""Urgent help: the crisis lines, one tap from everywhere, also before consent."""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message, TelegramObject
from aiogram.utils.i18n import gettext as _

from bot import callbacks as cb
from bot.config import Settings
from bot.keyboards import KeyboardBuilder, nav_row
from bot.safety import is_crisis
from bot.ui import show

log = logging.getLogger(__name__)

# Features that can offer the earliest free consultation add their button here.
SAFETY_ACTIONS: list = []


def crisis_lines_text(settings: Settings) -> str:
    lines = [_("crisis-line-" + number) for number in settings.support.crisis_lines]
    return "\n".join(lines)


def urgent_text(settings: Settings, *, alarm: bool = False) -> str:
    intro = _("safety-intro") if alarm else _("urgent-intro")
    return f"{intro}\n\n{crisis_lines_text(settings)}\n\n{_('urgent-outro')}"


def urgent_keyboard() -> InlineKeyboardMarkup:
    builder = KeyboardBuilder()
    for make_button in SAFETY_ACTIONS:
        builder.row(make_button())
    builder.row(*nav_row())
    return builder.as_markup()


async def show_urgent(event: Message | CallbackQuery, settings: Settings) -> None:
    await show(event, urgent_text(settings), urgent_keyboard())


async def send_safety_screen(message: Message, settings: Settings) -> None:
    """Shown when free text carries a crisis signal: a new message, so it cannot be missed."""
    await message.answer(urgent_text(settings, alarm=True), reply_markup=urgent_keyboard())


def create_router() -> Router:
    router = Router(name="urgent")

    @router.message(Command("sos", "help"))
    async def sos_command(message: Message, settings: Settings) -> None:
        await show_urgent(message, settings)

    @router.callback_query(cb.Menu.filter(F.item == "sos"))
    async def sos_button(query: CallbackQuery, settings: Settings) -> None:
        await show_urgent(query, settings)

    return router


class SafetyMiddleware(BaseMiddleware):
    """Free text from a teacher anywhere in the bot is checked for crisis signals;
    the handler still does its work, then the safety screen follows at once."""

    async def __call__(
        self, handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]], event: TelegramObject, data: dict[str, Any]
    ) -> Any:
        result = await handler(event, data)
        if isinstance(event, Message) and data.get("role") == "teacher" and is_crisis(event.text or event.caption):
            log.warning("crisis signal from %s: safety screen shown", data.get("pseudonym", "stranger"))
            await send_safety_screen(event, data["settings"])
        return result
