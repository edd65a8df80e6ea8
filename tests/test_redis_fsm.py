"""The conversation state in Redis (replicas): a press costs two round trips — the user's lock
taken with their state and data read, then the lock freed — and what one update wrote the next
reads; the same user's updates still go one at a time across replicas."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram.fsm.storage.base import StorageKey

from bot.telegram.fsm import SealedRedisStorage
from tests.conftest import REDIS_URL

pytestmark = pytest.mark.skipif(not REDIS_URL, reason="DEMEU_TEST_REDIS_URL not set")
KEY = StorageKey(bot_id=1, chat_id=42, user_id=42)


class RoundTrips:
    """Counts what the storage's Redis client sends: a command, or a whole pipeline, is one."""

    def __init__(self, storage: SealedRedisStorage) -> None:
        self.count = 0
        redis, send, pipeline = storage.redis, storage.redis.execute_command, storage.redis.pipeline

        async def command(*args: Any, **options: Any) -> Any:
            self.count += 1
            return await send(*args, **options)

        def counted_pipeline(*args: Any, **options: Any) -> Any:
            made = pipeline(*args, **options)
            run = made.execute

            async def execute(*a: Any, **o: Any) -> Any:
                self.count += 1
                return await run(*a, **o)

            made.execute = execute
            return made

        redis.execute_command = command
        redis.pipeline = counted_pipeline


@pytest.fixture
async def storage(tmp_path) -> AsyncIterator[SealedRedisStorage]:
    prefix = f"demeu:fsm-test-{tmp_path.name}"
    storage = SealedRedisStorage.for_url(REDIS_URL, prefix=prefix)
    yield storage
    keys = [key async for key in storage.redis.scan_iter(match=prefix + "*")]
    if keys:
        await storage.redis.delete(*keys)
    await storage.close()


async def test_a_press_that_clears_an_empty_state_costs_two_round_trips(storage):
    isolation = storage.create_isolation()
    async with isolation.lock(KEY):  # the first ever release loads its script into Redis
        pass
    trips = RoundTrips(storage)
    async with isolation.lock(KEY):  # what aiogram's FSM and a "Main menu" press do
        assert await storage.get_state(KEY) is None
        assert await storage.get_data(KEY) == {}
        await storage.set_state(KEY, None)
        await storage.set_data(KEY, {})
    assert trips.count == 2


async def test_what_an_update_writes_the_next_reads(storage):
    isolation = storage.create_isolation()
    async with isolation.lock(KEY):
        await storage.set_state(KEY, "SelfCheckFlow:answering")
        await storage.set_data(KEY, {"q": 3})
        assert await storage.get_state(KEY) == "SelfCheckFlow:answering"
    trips = RoundTrips(storage)
    async with isolation.lock(KEY):
        assert await storage.get_state(KEY) == "SelfCheckFlow:answering"
        assert await storage.get_data(KEY) == {"q": 3}
        await storage.set_state(KEY, None)
        await storage.set_data(KEY, {})
    assert trips.count == 4  # lock with the read; two deletes; the lock freed
    assert await storage.get_state(KEY) is None and await storage.get_data(KEY) == {}


async def test_the_same_users_updates_wait_for_each_other_across_replicas(storage):
    other_replica = SealedRedisStorage.for_url(REDIS_URL, prefix=storage.key_builder.prefix)
    order: list[str] = []
    first_holds = asyncio.Event()

    async def first() -> None:
        async with storage.create_isolation().lock(KEY):
            first_holds.set()
            await storage.set_state(KEY, "BookingFlow:note")
            await asyncio.sleep(0.05)  # still handling: the other replica must wait, not read
            order.append("first done")

    async def second() -> None:
        await first_holds.wait()
        async with other_replica.create_isolation(retry=0.005).lock(KEY):
            order.append(f"second read {await other_replica.get_state(KEY)}")

    try:
        await asyncio.gather(first(), second())
    finally:
        await other_replica.close()
    assert order == ["first done", "second read BookingFlow:note"]


async def test_a_task_outliving_its_update_reads_redis_not_what_the_update_saw(storage):
    isolation = storage.create_isolation()
    seen: list[str | None] = []
    go_on = asyncio.Event()

    async def later() -> None:  # a task started by the handler (it copies the update's context)
        await go_on.wait()
        seen.append(await storage.get_state(KEY))

    async with isolation.lock(KEY):
        task = asyncio.create_task(later())
    async with isolation.lock(KEY):  # the user's next update changes the state
        await storage.set_state(KEY, "MoodFlow:note")
    go_on.set()
    await task
    assert seen == ["MoodFlow:note"]


async def test_a_long_update_keeps_its_lock_past_the_lock_timeout(storage):
    """A handler that runs longer than the lock's timeout still has the user to itself: the
    lock is kept while it runs, and freed when it ends."""
    long_one = storage.create_isolation(timeout=0.2)
    other_replica = SealedRedisStorage.for_url(REDIS_URL, prefix=storage.key_builder.prefix)
    order: list[str] = []
    holding = asyncio.Event()

    async def long_update() -> None:
        async with long_one.lock(KEY):
            holding.set()
            await asyncio.sleep(0.7)  # three and a half timeouts
            order.append("long update done")

    async def next_update() -> None:
        await holding.wait()
        async with other_replica.create_isolation(timeout=0.2, retry=0.01).lock(KEY):
            order.append("next update")

    try:
        await asyncio.gather(long_update(), next_update())
    finally:
        await other_replica.close()
    assert order == ["long update done", "next update"]
