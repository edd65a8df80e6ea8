"""A handler that failed still answers the user, and the log gets no personal data."""

from __future__ import annotations

import logging
import traceback

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.types import ErrorEvent
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.telegram.keyboards import KeyboardBuilder, with_nav

log = logging.getLogger("demeu.errors")


async def on_error(event: ErrorEvent, bot: Bot, i18n: I18n, language: str | None = None) -> None:
    update, error = event.update, event.exception
    # The exception's type and where it happened, never its message: it may quote user text.
    frames = "".join(traceback.format_tb(error.__traceback__))
    # No code beside it: the failing handler's frames could tell what the person was doing (a safety screen).
    log.error(
        "update %s (%s) failed: %s\n%s", update.update_id, update.event_type, type(error).__name__, frames
    )
    # A failed button press was already answered by CallbackAnswerMiddleware on the way out.
    if update.callback_query is not None:
        chat_id = update.callback_query.from_user.id
    elif update.message is not None:
        chat_id = update.message.chat.id
    else:
        return
    with i18n.context(), i18n.use_locale(language or i18n.default_locale):
        try:
            await bot.send_message(chat_id, _("error-generic"), reply_markup=with_nav(KeyboardBuilder()))
        except TelegramAPIError:
            log.warning("could not tell the sender of update %s about the failure", update.update_id)


def create_router() -> Router:
    router = Router(name="errors")
    router.errors.register(on_error)
    return router
