"""Guided sessions in the dispatcher: the per-dispatcher GuidedSessions (bot.workers.guided) and
the guard that stops a session when its user goes elsewhere.

A session ends on Stop, at the end, when its user does anything else (a new exercise, a command,
another button), and on shutdown; the runner waits for every task, so none is left behind.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Dispatcher
from aiogram.types import CallbackQuery, TelegramObject

from bot.config import Settings
from bot.workers.guided import GuidedRunner, GuidedSessions


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
            query = event if isinstance(event, CallbackQuery) else None
            own = query is not None and self.sessions.on_message(user.id, query.message)
            control = query is not None and self.is_control(query)
            if not (own and control):
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
