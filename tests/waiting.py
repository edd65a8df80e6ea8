"""Waiting for the bot: a condition polled until it holds, under a ceiling that only a failure (or a
badly loaded machine) reaches."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

CEILING = 20.0


async def wait_for(condition: Callable[[], bool | Awaitable[bool]], timeout: float = CEILING) -> None:
    """Until `condition()` (a plain or an async function) is true; fails after `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not (await result if asyncio.iscoroutine(result := condition()) else result):
        assert asyncio.get_running_loop().time() < deadline, "the condition never came true"
        await asyncio.sleep(0.05)
