"""One message per conversation, edited in place while the user navigates."""

from __future__ import annotations

import logging

from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from bot.services.text import utf16_len

log = logging.getLogger(__name__)


async def show(
    event: Message | CallbackQuery,
    text: str,
    markup: InlineKeyboardMarkup | None = None,
    *,
    protect: bool = True,
) -> Message:
    """Edit the message a button was pressed on, or send a new one.

    A new message is sent for typed input, and when the old one cannot be edited
    (too old, a document, deleted): never a dead end. `protect` (forwarding and saving
    blocked, as every message of the bot is by default) is kept by an edit from the message
    edited, so a screen whose protection differs from that message's is sent anew: nothing
    reached from an unprotected announcement or invite is left forwardable, and a screen meant
    to be passed on is not left locked.
    """
    if isinstance(event, CallbackQuery):
        message = event.message
        if (
            isinstance(message, Message)
            and message.text is not None
            and bool(message.has_protected_content) == protect
        ):
            if message.html_text == text and message.reply_markup == markup:
                return message  # identical screen: Telegram would refuse the edit
            try:
                edited = await message.edit_text(text, reply_markup=markup)
                return edited if isinstance(edited, Message) else message
            except TelegramBadRequest as error:
                if "not modified" in error.message:
                    return message
                log.info("could not edit a message (%s); sending a new one", error.message)
        assert event.bot is not None, "updates reach handlers bound to their bot"
        return await event.bot.send_message(
            event.from_user.id, text, reply_markup=markup, protect_content=protect
        )
    return await event.answer(text, reply_markup=markup, protect_content=protect)


async def too_long(message: Message, text: str, limit: int, markup: InlineKeyboardMarkup | None) -> bool:
    """True, after asking for a shorter text, when `text` is over `limit` as Telegram counts
    (UTF-16 code units: most emoji are two). Checked where the text is typed, so what is kept
    always fits where it is shown; the state stays, so the next message is the shorter text."""
    if utf16_len(text) <= limit:
        return False
    await message.answer(_("text-too-long").format(limit=limit), reply_markup=markup)
    return True
