"""Dispatch a press once: each router declares the prefixes of the presses its handlers take, so a
press is turned away by every other router at its first check, and the router that takes it
unpacks the callback data once for all its handlers (bot/telegram/callbacks.Pressed).

Without it aiogram asks every handler of every router in turn, each unpacking the data again
(24-51 handler checks and 15-38 unpacks a press, bench/README.md "Issue 22").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiogram import Router
from aiogram.filters import Filter
from aiogram.filters.callback_data import CallbackData, CallbackQueryFilter
from aiogram.types import CallbackQuery
from magic_filter import MagicFilter


@dataclass
class Taken:
    """One kind of press a router takes, and which of them: the rules of its handlers' filters
    (None: every press of the kind)."""

    kind: type[CallbackData]
    rules: list[MagicFilter] | None = field(default_factory=list)

    def add(self, rules: list[MagicFilter] | None) -> None:
        self.rules = None if rules is None or self.rules is None else self.rules + rules

    def takes(self, data: CallbackData) -> bool:
        return self.rules is None or any(rule.resolve(data) for rule in self.rules)


class Prefixed(Filter):
    """A router's root filter on presses: only those that one of its handlers takes (the prefix,
    then the handler's rule: every feature has its own main-menu item)."""

    def __init__(self, taken: dict[str, Taken]) -> None:
        self.taken = taken

    async def __call__(
        self, query: CallbackQuery, callback_data: CallbackData | None = None
    ) -> bool | dict[str, Any]:
        data = query.data or ""
        taken = self.taken.get(data.partition(":")[0])
        if taken is None:
            return False
        if isinstance(callback_data, taken.kind):
            return taken.takes(callback_data)  # a sub-router's check: its parent unpacked it
        try:
            pressed = taken.kind.unpack(data)
        except (TypeError, ValueError):
            return False  # a forged or outdated press: the fallback answers it
        return {"callback_data": pressed} if taken.takes(pressed) else False


def presses_of(router: Router) -> dict[str, Taken] | None:
    """The presses the handlers of the router and its sub-routers take, by prefix; None when some
    handler takes presses of any kind (that router must see them all)."""
    taken: dict[str, Taken] = {}

    def add(kind: type[CallbackData], rules: list[MagicFilter] | None) -> None:
        taken.setdefault(kind.__prefix__, Taken(kind)).add(rules)

    for handler in router.callback_query.handlers:
        typed = [f.callback for f in handler.filters or () if isinstance(f.callback, CallbackQueryFilter)]
        if not typed:
            return None
        for press in typed:
            add(press.callback_data, None if press.rule is None else [press.rule])
    for sub_router in router.sub_routers:
        inner = presses_of(sub_router)
        if inner is None:
            return None
        for kind in inner.values():
            add(kind.kind, kind.rules)
    return taken


def route_presses_by_prefix(routers: list[Router]) -> list[Router]:
    """Give each router (and sub-router) that takes only typed presses its `Prefixed` root filter."""
    for router in routers:
        taken = presses_of(router)
        if taken is not None:
            router.callback_query.filter(Prefixed(taken))
            route_presses_by_prefix(list(router.sub_routers))
    return routers
