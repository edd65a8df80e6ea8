"""A user's updates run one at a time; the lock that orders them is forgotten once unused."""

from __future__ import annotations

import asyncio

from aiogram import Dispatcher
from aiogram.fsm.storage.base import StorageKey

from bot.config import Settings
from bot.telegram.isolation import ForgetfulEventIsolation

TOKEN = "1:AAE-test-token-0123456789abcdefghij"


def key(user: int) -> StorageKey:
    return StorageKey(bot_id=1, chat_id=user, user_id=user)


async def test_a_users_updates_run_one_at_a_time_and_others_run_beside_them():
    isolation = ForgetfulEventIsolation()
    order: list[str] = []
    first_inside = asyncio.Event()
    release = asyncio.Event()

    async def first() -> None:
        async with isolation.lock(key(1)):
            order.append("first in")
            first_inside.set()
            await release.wait()
            order.append("first out")

    async def second() -> None:
        async with isolation.lock(key(1)):
            order.append("second in")

    async def other_user() -> None:
        async with isolation.lock(key(2)):
            order.append("other user")

    running = asyncio.create_task(first())
    await first_inside.wait()
    waiting = asyncio.create_task(second())
    await other_user()
    await asyncio.sleep(0)
    assert order == ["first in", "other user"]
    assert isolation.held == 1  # the waiting update keeps user 1's lock alive
    release.set()
    await asyncio.gather(running, waiting)
    assert order == ["first in", "other user", "first out", "second in"]
    assert isolation.held == 0


async def test_no_lock_is_kept_for_users_who_came_and_went():
    isolation = ForgetfulEventIsolation()
    for user in range(1000):
        async with isolation.lock(key(user)):
            pass
    assert isolation.held == 0


async def test_a_failing_update_releases_and_forgets_its_lock():
    isolation = ForgetfulEventIsolation()
    try:
        async with isolation.lock(key(1)):
            raise RuntimeError("handler failed")
    except RuntimeError:
        pass
    assert isolation.held == 0
    async with asyncio.timeout(1):
        async with isolation.lock(key(1)):
            pass


def test_the_dispatcher_keeps_this_isolation_even_while_no_lock_is_held():
    from bot.app import build_storage

    storage, isolation = build_storage(Settings(telegram={"token": TOKEN}), sessions=None)  # type: ignore[arg-type]
    dispatcher = Dispatcher(storage=storage, events_isolation=isolation)
    assert dispatcher.fsm.events_isolation is isolation
