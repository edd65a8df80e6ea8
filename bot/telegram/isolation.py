"""One update at a time per user, without a lock kept for every user ever seen.

aiogram's SimpleEventIsolation keeps each user's lock forever (its own TODO says a cleaner is
needed): on a country's bot that is memory growing with every teacher who ever wrote. Here a
lock lives while someone holds or awaits it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

from aiogram.fsm.storage.base import BaseEventIsolation, StorageKey


class _Held:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0  # updates holding or awaiting the lock


class ForgetfulEventIsolation(BaseEventIsolation):
    def __init__(self) -> None:
        self._held: dict[StorageKey, _Held] = {}

    @asynccontextmanager
    async def lock(self, key: StorageKey) -> AsyncGenerator[None, None]:
        held = self._held.get(key)
        if held is None:
            held = self._held[key] = _Held()
        held.users += 1
        try:
            async with held.lock:
                yield
        finally:
            held.users -= 1
            if not held.users and self._held.get(key) is held:  # close() may have emptied it meanwhile
                del self._held[key]

    @property
    def held(self) -> int:
        """Users whose lock exists now. (Not __len__: aiogram takes `events_isolation or
        DisabledEventIsolation()`, and an empty sized object is false.)"""
        return len(self._held)

    async def close(self) -> None:
        self._held.clear()
