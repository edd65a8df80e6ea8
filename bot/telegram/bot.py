"""The Bot object: its API server and the defaults every request carries."""

from __future__ import annotations

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.types import LinkPreviewOptions

from bot.config import Settings


def build_bot(settings: Settings) -> Bot:
    session = None
    if settings.telegram.api_server:
        session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram.api_server))
    # Every message is protected from forwarding and saving: in this chat even "you are booked" says
    # that someone sought help, and an edit keeps the protection of the message it edits, so only
    # a default makes every screen reached by editing safe. Messages made to leave the chat (an .ics
    # file, a staff invite, coordinators' aggregate reports) say protect_content=False.
    return Bot(
        settings.require_token(),
        session=session,
        default=DefaultBotProperties(
            parse_mode=ParseMode.HTML,
            link_preview=LinkPreviewOptions(is_disabled=True),
            protect_content=True,
        ),
    )
