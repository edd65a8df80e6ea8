"""Last in line: stale or unknown buttons and unexpected input.

Never silence, never a dead end: every update that reaches here gets a short hint and a way on,
in one message: a stray sticker or text gets the hint with Main menu and Urgent help under it,
not a second whole menu (the one above still works).
"""

from __future__ import annotations

import functools

from aiogram import Router
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.services.safety import Kind, Signal
from bot.telegram.keyboards import KeyboardBuilder, nav_row, urgent_row
from bot.views import safety as screens
from handlers.common.start import greet
from storage.models import User


async def stale_button(
    query: CallbackQuery, callback_answer: CallbackAnswer, user: User | None, role: str, i18n: I18n
) -> None:
    callback_answer.text = _("stale-button")
    await greet(query, user, role, i18n, i18n.current_locale)


async def unexpected_input(
    message: Message,
    user: User | None,
    role: str,
    i18n: I18n,
    safety_signal: Signal | None = None,
) -> None:
    if safety_signal is not None:
        # A crisis or a worry for someone got its screen first (HelpFirstMiddleware): nothing more.
        # Distress gets a warm reply instead of "did not understand".
        if safety_signal.kind is Kind.DISTRESS:
            text, markup = screens.distress()
            await message.answer(text, reply_markup=markup)
        return
    if user is None or not user.consented:  # the language and consent screens say what to do
        await greet(message, user, role, i18n, i18n.current_locale)
        return
    await message.answer(_("unexpected-input"), reply_markup=way_on(i18n.current_locale))


@functools.lru_cache(maxsize=4)
def way_on(_locale: str) -> InlineKeyboardMarkup:
    builder = KeyboardBuilder()
    builder.row(*nav_row())
    builder.row(*urgent_row())
    return builder.as_markup()


def create_router() -> Router:
    router = Router(name="fallback")
    router.callback_query.register(stale_button)
    router.message.register(unexpected_input)
    return router
