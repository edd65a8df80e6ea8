"""A handler that failed still answers the user, and the log gets no personal data.

During a database or Redis outage the middlewares that read the user fail before any handler,
so the answer cannot rely on them: the translations come from the dispatcher, the language from
the user's row when it was read, else from Telegram's language of the user."""

from __future__ import annotations

import logging
import traceback

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.types import ErrorEvent, Update
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from bot.telegram.keyboards import KeyboardBuilder, with_nav

log = logging.getLogger("demeu.errors")

# What a database or Redis that is down or unreachable raises: a passing problem, not a bug.
OUTAGES = (
    OperationalError,
    InterfaceError,
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionError,  # refused or reset before the driver wrapped it
    TimeoutError,
)


def is_outage(error: BaseException) -> bool:
    return isinstance(error, OUTAGES) or (isinstance(error, DBAPIError) and error.connection_invalidated)


async def on_error(event: ErrorEvent, bot: Bot, i18n: I18n, language: str | None = None) -> None:
    update, error = event.update, event.exception
    outage = is_outage(error)
    _log(update, error, outage)
    event_from = update.callback_query or update.message
    if event_from is None or event_from.from_user is None:
        return
    sender = event_from.from_user
    if language is None and sender.language_code in i18n.available_locales:
        language = sender.language_code
    with i18n.context(), i18n.use_locale(language or i18n.default_locale):
        text = _("error-temporary" if outage else "error-generic")
        if update.callback_query is not None and await _answer_press(bot, update.callback_query.id, text):
            return
        try:
            await bot.send_message(sender.id, text, reply_markup=with_nav(KeyboardBuilder()))
        except TelegramAPIError:
            log.warning("could not tell the sender of update %s about the failure", update.update_id)


def _log(update: Update, error: Exception, outage: bool) -> None:
    kind = type(error).__name__
    if outage:
        # One line, not a traceback per press for as long as the outage lasts.
        log.warning("update %s (%s): storage unavailable: %s", update.update_id, update.event_type, kind)
        return
    # The exception's type and where it happened, never its message: it may quote user text.
    # No code beside it: the failing handler's frames could tell what the person was doing (a safety screen).
    frames = "".join(traceback.format_tb(error.__traceback__))
    log.error("update %s (%s) failed: %s\n%s", update.update_id, update.event_type, kind, frames)


async def _answer_press(bot: Bot, query_id: str, text: str) -> bool:
    """A press nobody answered keeps its button spinning: answered here with the explanation,
    unless CallbackAnswerMiddleware already answered it on its way out (False: say it in a message)."""
    try:
        return await bot.answer_callback_query(query_id, text=text, show_alert=True)
    except TelegramAPIError:
        return False


def create_router() -> Router:
    router = Router(name="errors")
    router.errors.register(on_error)
    return router
