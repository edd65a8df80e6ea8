"""The Bot object: its API server and the defaults every request carries."""

from __future__ import annotations

import asyncio
import functools
import logging

from aiogram import Bot, methods
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramNetworkError, TelegramServerError, TelegramUnauthorizedError
from aiogram.methods.base import Response, TelegramMethod
from aiogram.types import LinkPreviewOptions, User

from bot.config import ConfigError, Settings

log = logging.getLogger(__name__)

# A command run by hand (an invite) waits this long for Telegram before it says so.
ASK_TIMEOUT = 10


@functools.cache
def response_models() -> tuple[type[Response[object]], ...]:
    """Every API answer is read as `Response[<the method's result type>]`, a generic pydantic model
    made on first use and kept by pydantic in a weak cache only: once the garbage collector has run,
    the next answer builds the model again (up to 13 ms of CPU on a press; in the test suite one
    answer in two). Made once and held here, each is built once per process."""
    results = {
        cls.__returning__
        for cls in vars(methods).values()
        if isinstance(cls, type) and issubclass(cls, TelegramMethod) and cls is not TelegramMethod
    }
    return tuple(Response[result] for result in results)  # type: ignore[valid-type]


def build_bot(settings: Settings) -> Bot:
    response_models()
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


async def introduce(bot: Bot, *, retry: bool) -> User:
    """The bot's own account, from Telegram. A token Telegram refuses stops at once, saying what to
    do. An unreachable API is tried again with backoff when `retry` (a bot started during a network
    outage comes up once it returns); a command run by hand fails fast instead."""
    delay = 1.0
    while True:
        try:
            return await bot.get_me(request_timeout=ASK_TIMEOUT)
        except TelegramUnauthorizedError:
            raise ConfigError(
                "telegram.token: Telegram does not know this token (401 Unauthorized); "
                "copy it again from @BotFather (/mybots → API Token)"
            ) from None
        except (TelegramNetworkError, TelegramServerError) as error:
            if not retry:
                raise ConfigError(
                    f"cannot reach the Telegram Bot API ({error.message}); check the network and "
                    "telegram.api_server, or set telegram.bot_username so that this needs no Telegram"
                ) from None
            log.warning("Telegram Bot API unreachable (%s): trying again in %.0f s", error.message, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 60)
