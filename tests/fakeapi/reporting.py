"""The bot's side of the "handled" signal: tests tell the fake server when an update's handling ended,
so that FakeBotAPI.wait_reaction waits for exactly that instead of for a quiet period.

`report_handled(dispatcher, api)` for a bot in this process; `report_handled_over_http(dispatcher, base_url)`
for a bot in another process (it POSTs to the fake server's test-only /test/handled/{update_id}).
Either wraps the dispatcher's feed_update, which polling and webhook mode both call for every update:
the report comes after the last middleware and handler returned (or raised), so every request they
awaited has been answered by then. `settle` can extend the handling by work the bot finishes after
its handlers return (the app's follow-ups: bot.followups.settled).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiogram import Bot, Dispatcher
from aiogram.types import Update

if TYPE_CHECKING:
    from .server import FakeBotAPI

Settle = Callable[[Awaitable[Any]], Awaitable[Any]]


async def _as_is(handling: Awaitable[Any]) -> Any:
    return await handling


def _wrap(dispatcher: Dispatcher, report: Callable[[int], Awaitable[None]], settle: Settle) -> None:
    feed_update = dispatcher.feed_update

    async def reporting_feed_update(bot: Bot, update: Update, **kwargs: Any) -> Any:
        try:
            return await settle(feed_update(bot, update, **kwargs))
        finally:
            await report(update.update_id)

    dispatcher.feed_update = reporting_feed_update  # an instance attribute: this dispatcher only


def report_handled(dispatcher: Dispatcher, api: FakeBotAPI, settle: Settle = _as_is) -> None:
    """The dispatcher runs in this process and event loop: it tells `api` directly."""
    api.reports_handled = True

    async def report(update_id: int) -> None:
        api.handled(update_id)

    _wrap(dispatcher, report, settle)


def report_handled_over_http(dispatcher: Dispatcher, base_url: str, settle: Settle = _as_is) -> None:
    """The dispatcher runs in another process than the fake server at `base_url`; the test that started
    it sets `api.reports_handled = True`."""
    import aiohttp

    client: aiohttp.ClientSession | None = None

    async def report(update_id: int) -> None:
        nonlocal client
        if client is None:
            client = aiohttp.ClientSession()
        async with client.post(f"{base_url}/test/handled/{update_id}") as response:
            response.raise_for_status()

    async def close() -> None:
        if client is not None:
            await client.close()

    _wrap(dispatcher, report, settle)
    dispatcher.shutdown.register(close)
