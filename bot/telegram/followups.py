"""Follow-ups: work an update starts that ends after its handlers have returned, though its user sees
the result as the answer to that update (a guided session redraws its message after a Pause press is
handled, see bot.workers.guided).

Code that leaves such work behind calls `add(future)` with a future that is resolved (or cancelled)
once the result is visible, and must resolve it whatever happens. Whoever feeds updates to the
dispatcher and needs to know when everything an update caused is done awaits
`settled(dispatcher.feed_update(...))`: the end-to-end tests do, to wait for the bot instead of for
silence. Production does not; `add` then does nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")

# The follow-ups of the update handled in this context; None when nobody collects them.
_collected: ContextVar[list[asyncio.Future] | None] = ContextVar("followups", default=None)


def collecting() -> bool:
    """Whether anyone awaits the follow-ups of the update being handled (spares making futures for nobody)."""
    return _collected.get() is not None


def add(future: asyncio.Future) -> None:
    """Count `future` as a follow-up of the update being handled, if anyone awaits them."""
    collected = _collected.get()
    if collected is not None:
        collected.append(future)


async def settled(handling: Awaitable[T]) -> T:
    """Await `handling` (an update's handling, in this task), then every follow-up it added."""
    collected: list[asyncio.Future] = []
    token = _collected.set(collected)
    try:
        return await handling
    finally:
        _collected.reset(token)
        if collected:
            await asyncio.wait(collected)
