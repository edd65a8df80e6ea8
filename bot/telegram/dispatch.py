"""Dispatch a press once: each router declares the prefixes of the presses its handlers take, so a
press is turned away by every other router at its first check, and the router that takes it
unpacks the callback data once for all its handlers (bot/telegram/callbacks.Pressed).

Without it aiogram asks every handler of every router in turn, each unpacking the data again
(24-51 handler checks and 15-38 unpacks a press, bench/README.md "Issue 22").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiogram import Dispatcher, Router
from aiogram.dispatcher.event.bases import REJECTED, UNHANDLED
from aiogram.filters import Filter
from aiogram.filters.callback_data import CallbackData, CallbackQueryFilter
from aiogram.types import CallbackQuery, TelegramObject
from magic_filter import MagicFilter

from bot.telegram.callbacks import RULES, meets

# The update's data: the press as each kind of callback data has read it so far (an outer
# middleware that needed it first, the routers' gates after), so it is unpacked once.
UNPACKED = "unpacked_press"


@dataclass
class Taken:
    """One kind of press a router takes, and which of them: the rules of its handlers' filters
    (None: every press of the kind)."""

    kind: type[CallbackData]
    rules: list[MagicFilter] | None = field(default_factory=list)

    def add(self, rules: list[MagicFilter] | None) -> None:
        self.rules = None if rules is None or self.rules is None else self.rules + rules

    def takes(self, data: CallbackData, met: dict[int, bool] | None) -> bool:
        return self.rules is None or any(meets(rule, data, met) for rule in self.rules)


class Prefixed(Filter):
    """A router's root filter on presses: only those that one of its handlers takes (the prefix,
    then the handler's rule: every feature has its own main-menu item)."""

    def __init__(self, taken: dict[str, Taken]) -> None:
        self.taken = taken

    async def __call__(
        self,
        query: CallbackQuery,
        callback_data: CallbackData | None = None,
        press_rules: dict[int, bool] | None = None,
    ) -> bool | dict[str, Any]:
        data = query.data or ""
        taken = self.taken.get(data.partition(":")[0])
        if taken is None:
            return False
        if isinstance(callback_data, taken.kind):  # unpacked already: by the dispatcher or a parent router
            return taken.takes(callback_data, press_rules)
        pressed = self.taking(data, {}, press_rules)
        return {"callback_data": pressed} if pressed is not None else False

    def taking(
        self,
        data: str,
        unpacked: dict[type[CallbackData], CallbackData | None],
        met: dict[int, bool] | None = None,
    ) -> CallbackData | None:
        """The press unpacked, when one of the router's handlers takes it; `unpacked`: the press
        as each kind of callback data already read it in this update (several routers take one
        kind: every feature has its main-menu item); `met`: the handlers' rules it met so far."""
        taken = self.taken.get(data.partition(":")[0])
        if taken is None:
            return None
        if taken.kind not in unpacked:
            try:
                unpacked[taken.kind] = taken.kind.unpack(data)
            except (TypeError, ValueError):
                unpacked[taken.kind] = None  # a forged or outdated press: the fallback answers it
        pressed = unpacked[taken.kind]
        return pressed if pressed is not None and taken.takes(pressed, met) else None


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


class PressDispatcher(Dispatcher):
    """aiogram's Dispatcher, which hands a press only to the routers that take it (and to those
    that take any press, the fallback), in their order, with the callback data unpacked once:
    a router a press does not concern is not entered at all. aiogram would enter each in turn,
    wrapping its middlewares and asking its filters (6-10 routers a press; bench/README.md).
    Everything else — messages, the dispatcher's own middlewares and filters — is aiogram's."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._gates: dict[int, Prefixed | None] = {}

    def _gate(self, router: Router) -> Prefixed | None:
        if id(router) not in self._gates:
            taken = presses_of(router)
            self._gates[id(router)] = Prefixed(taken) if taken is not None else None
        return self._gates[id(router)]

    async def propagate_event(self, update_type: str, event: TelegramObject, **kwargs: Any) -> Any:
        if update_type != "callback_query":
            return await super().propagate_event(update_type, event, **kwargs)
        kwargs.update(event_router=self)
        observer = self.observers[update_type]

        async def routed(press: TelegramObject, **data: Any) -> Any:
            passed, found = await observer.check_root_filters(press, **data)
            if not passed:
                return UNHANDLED
            data.update(found)
            response = await observer.trigger(press, **data)
            if response is not UNHANDLED:
                return UNHANDLED if response is REJECTED else response
            raw = press.data if isinstance(press, CallbackQuery) else None
            unpacked: dict[type[CallbackData], CallbackData | None] = data.pop(UNPACKED, {})
            met = data.setdefault(RULES, {})  # for the routers' root filters and handlers' filters too
            for router in self.sub_routers:
                gate, extra = self._gate(router), {}
                if gate is not None:
                    pressed = gate.taking(raw or "", unpacked, met)
                    if pressed is None:
                        continue
                    extra = {"callback_data": pressed}
                response = await router.propagate_event(
                    update_type=update_type, event=press, **(data | extra)
                )
                if response is not UNHANDLED:
                    break
            return response

        return await observer.wrap_outer_middleware(routed, event=event, data=kwargs)
