"""pytest plugin: the `fake_api` fixture, a running FakeBotAPI that fails the test on protocol violations.

Load it with `pytest_plugins = ["tests.fakeapi.pytest_plugin"]`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from .server import FakeBotAPI


@pytest_asyncio.fixture
async def fake_api() -> AsyncIterator[FakeBotAPI]:
    """A started fake Bot API. Tests that provoke violations on purpose call api.expect_violations()."""
    async with FakeBotAPI() as api:
        yield api
    if api.check_violations and api.violations:
        pytest.fail(
            "the bot broke the Bot API protocol:\n" + "\n".join(f"  - {v}" for v in api.violations),
            pytrace=False,
        )
