"""Guided sessions on one Telegram message: the per-dispatcher GuidedRunner, which message
each user's session edits, and the guard that stops a session when the user goes elsewhere.

Timers are the runner's tasks, never sleeps in handlers, so hundreds of sessions cost the
bot nothing between frames. A session ends on Stop, at the end, when its user does anything
else (a new exercise, a command, another button), and on shutdown; the runner waits for every
task, so none is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aiogram import BaseMiddleware, Bot, Dispatcher
from aiogram.exceptions import TelegramBadRequest, TelegramRetryAfter
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message, TelegramObject
from aiogram.utils.i18n import I18n

from bot.config import Settings
from bot.content.exercises import Frame, GuidedRunner, Reason

log = logging.getLogger(__name__)

Screen = tuple[str, InlineKeyboardMarkup]
# Timer edits in flight at once. Sessions started together tick together; without a cap a burst
# of hundreds of edits would take every HTTP connection and queue a person's tap behind them.
EDITS_IN_FLIGHT = 32
# People first: a timer edit waits while updates are being handled, but never longer than this,
# so a tick may come a little late under load and a tap never waits behind a burst of ticks.
MAX_DEFER_SECONDS = 0.3


@dataclass(frozen=True, slots=True)
class GuidedView:
    """What a session shows; both are called inside the user's locale.

    frame(frame, paused) -> the screen of a step; final(reason) -> the screen left behind
    when the session ends ("finished" or "stopped"), or None to leave the message as it is.
    """

    frame: Callable[[Frame, bool], Screen]
    final: Callable[[Reason], Screen | None]


@dataclass(eq=False, slots=True)
class _Live:
    chat_id: int
    message_id: int
    shown: Screen | None  # what the message shows now: an identical edit is never sent
    silent: bool = False  # the next handler redraws this very message: no final screen


@dataclass(eq=False)
class GuidedSessions:
    runner: GuidedRunner
    _live: dict[int, _Live] = field(default_factory=dict)
    _closing: bool = False
    _edits: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(EDITS_IN_FLIGHT))
    _handling: int = 0  # updates being handled now
    _idle: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self._idle.set()

    @contextlib.contextmanager
    def handling_update(self) -> Iterator[None]:
        self._handling += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._handling -= 1
            if not self._handling:
                self._idle.set()

    def on_message(self, key: int, message: Message | None) -> bool:
        live = self._live.get(key)
        return (
            live is not None
            and message is not None
            and live.message_id == message.message_id
            and self.runner.active(key)
        )

    async def start(
        self,
        key: int,
        bot: Bot,
        message: Message,
        frames: tuple[Frame, ...],
        view: GuidedView,
        i18n: I18n,
        language: str,
        shown: Screen | None = None,
    ) -> None:
        """Play `frames` on `message` (showing `shown` already); any earlier session of `key` stops first."""
        live = _Live(message.chat.id, message.message_id, shown)

        def screen(make: Callable[[], Screen | None]) -> Screen | None:
            # Timer tasks and shutdown run outside the update that set the user's language.
            with i18n.context(), i18n.use_locale(language):
                return make()

        async def render(index: int, frame: Frame, *, paused: bool) -> None:
            await self._edit(bot, live, screen(lambda: view.frame(frame, paused)))

        async def on_finish(reason: Reason) -> None:
            if self._live.get(key) is live:
                del self._live[key]
            if self._closing or live.silent or reason == "failed":
                return  # on shutdown the buttons stay: after a restart they lead back to the card
            final = screen(lambda: view.final(reason))
            if final is not None:
                await self._edit(bot, live, final, answering=True)

        await self.runner.start(key, frames, render, on_finish)
        self._live[key] = live

    def pause(self, key: int) -> bool:
        return self.runner.pause(key)

    def resume(self, key: int) -> bool:
        return self.runner.resume(key)

    async def stop(self, key: int, *, silent: bool = False) -> bool:
        live = self._live.get(key)
        if live is not None:
            live.silent = silent
        return await self.runner.stop(key)

    async def shutdown(self) -> None:
        self._closing = True
        await self.runner.shutdown()
        self._live.clear()

    async def _edit(self, bot: Bot, live: _Live, screen: Screen | None, *, answering: bool = False) -> None:
        """`answering`: the edit is the reply to the user's own press (Stop, leaving), so it
        does not step aside for other updates, one of which is that very press."""
        if screen is None or screen == live.shown:
            return
        text, markup = screen
        if not answering and not self._idle.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(MAX_DEFER_SECONDS):
                    await self._idle.wait()
        for attempt in range(2):
            try:
                async with self._edits:
                    await bot.edit_message_text(
                        text=text, chat_id=live.chat_id, message_id=live.message_id, reply_markup=markup
                    )
                break
            except TelegramRetryAfter as error:  # flood control: wait once, as Telegram asks
                if attempt:
                    raise
                await asyncio.sleep(error.retry_after)
            except TelegramBadRequest as error:
                if "not modified" not in error.message:
                    raise
                break
        live.shown = screen


class LeaveGuard(BaseMiddleware):
    """Anything a user does besides the session's own buttons stops their session first."""

    def __init__(self, sessions: GuidedSessions, is_control: Callable[[CallbackQuery], bool]) -> None:
        self.sessions = sessions
        self.is_control = is_control

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user = data.get("user")
        if user is not None and self.sessions.runner.active(user.id):
            message = event.message if isinstance(event, CallbackQuery) else None
            own = isinstance(message, Message) and self.sessions.on_message(user.id, message)
            if not (own and self.is_control(event)):
                # A press on the session's message is redrawn by its handler: no final screen there.
                await self.sessions.stop(user.id, silent=own)
        return await handler(event, data)


class PeopleFirst(BaseMiddleware):
    """Marks the time an update is being handled, from its first middleware to its last reply."""

    def __init__(self, sessions: GuidedSessions) -> None:
        self.sessions = sessions

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        with self.sessions.handling_update():
            return await handler(event, data)


def setup_guided(
    dispatcher: Dispatcher, settings: Settings, is_control: Callable[[CallbackQuery], bool]
) -> GuidedSessions:
    """One runner per dispatcher (handlers get it as `guided`); App.close shuts it down.

    `is_control` picks the presses (Pause, Resume, Stop) that act on a running session.
    """
    sessions = GuidedSessions(GuidedRunner(settings.relax.speed))
    dispatcher["guided"] = sessions
    # Outermost when set up before the other middlewares: the user lookup counts as handling too.
    dispatcher.update.outer_middleware(PeopleFirst(sessions))
    guard = LeaveGuard(sessions, is_control)
    dispatcher.message.outer_middleware(guard)
    dispatcher.callback_query.outer_middleware(guard)
    return sessions
