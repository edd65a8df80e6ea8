"""Role gates for staff routers: a forged or stale staff button from anyone else is refused politely."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Router
from aiogram.types import CallbackQuery, Message, TelegramObject
from aiogram.utils.i18n import gettext as _


class RoleGate(BaseMiddleware):
    def __init__(self, roles: frozenset[str]) -> None:
        self.roles = roles

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if data.get("role") in self.roles and data.get("user") is not None:
            return await handler(event, data)
        if isinstance(event, CallbackQuery):
            # CallbackAnswerMiddleware answers every press exactly once; we only say what.
            answer = data["callback_answer"]
            answer.text, answer.show_alert = _("role-refused"), True
        elif isinstance(event, Message):
            await event.answer(_("role-refused"))
        return None


def staff_only(router: Router, *roles: str) -> Router:
    gate = RoleGate(frozenset(roles) | {"admin"})
    router.message.middleware(gate)
    router.callback_query.middleware(gate)
    return router


class ConsentGate(BaseMiddleware):
    """Features open only after consent; before it, the user is led back to /start."""

    def __init__(self, on_missing: Callable[[TelegramObject, dict[str, Any]], Awaitable[None]]) -> None:
        self.on_missing = on_missing

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user = data.get("user")
        if user is not None and user.consented:
            return await handler(event, data)
        await self.on_missing(event, data)
        return None
