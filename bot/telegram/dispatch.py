"""Dispatch a press once: each router declares the prefixes of the presses its handlers take, so a
press is turned away by every other router at its first check, and the router that takes it
unpacks the callback data once for all its handlers (bot/telegram/callbacks.Pressed).

Without it aiogram asks every handler of every router in turn, each unpacking the data again
(24-51 handler checks and 15-38 unpacks a press, bench/README.md "Issue 22").
"""

from __future__ import annotations

from typing import Any

from aiogram import Router
from aiogram.filters import Filter
from aiogram.filters.callback_data import CallbackData, CallbackQueryFilter
from aiogram.types import CallbackQuery


class Prefixed(Filter):
    """A router's root filter on presses: only those whose prefix one of its handlers takes."""

    def __init__(self, kinds: dict[str, type[CallbackData]]) -> None:
        self.kinds = kinds

    async def __call__(
        self, query: CallbackQuery, callback_data: CallbackData | None = None
    ) -> bool | dict[str, Any]:
        data = query.data or ""
        kind = self.kinds.get(data.partition(":")[0])
        if kind is None:
            return False
        if isinstance(callback_data, kind):
            return True  # a sub-router's check: its parent unpacked it
        try:
            return {"callback_data": kind.unpack(data)}
        except (TypeError, ValueError):
            return False  # a forged or outdated press: the fallback answers it


def presses_of(router: Router) -> dict[str, type[CallbackData]] | None:
    """The callback data every handler of the router and its sub-routers takes, by prefix; None
    when some handler takes presses of any kind (that router must see them all)."""
    kinds: dict[str, type[CallbackData]] = {}
    for handler in router.callback_query.handlers:
        typed = [
            f.callback.callback_data
            for f in handler.filters or ()
            if isinstance(f.callback, CallbackQueryFilter)
        ]
        if not typed:
            return None
        kinds.update((kind.__prefix__, kind) for kind in typed)
    for sub_router in router.sub_routers:
        inner = presses_of(sub_router)
        if inner is None:
            return None
        kinds.update(inner)
    return kinds


def route_presses_by_prefix(routers: list[Router]) -> list[Router]:
    """Give each router (and sub-router) that takes only typed presses its `Prefixed` root filter."""
    for router in routers:
        kinds = presses_of(router)
        if kinds is not None:
            router.callback_query.filter(Prefixed(kinds))
            route_presses_by_prefix(list(router.sub_routers))
    return routers
