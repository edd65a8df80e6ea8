"""A database outage: every press and message is answered "temporary problem" in the user's
language, /healthz says 503, and the bot recovers by itself once the database is back."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from sqlalchemy.engine import make_url

from storage import db
from tests.conftest import POSTGRES_URL, fresh_postgres

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="DEMEU_TEST_POSTGRES_URL not set")

AGREE = {"ru": "Согласен", "kk": "Келісемін"}
TEMPORARY = {"ru": "Временная неполадка", "kk": "Уақытша ақау"}


class Cable:
    """A TCP forwarder to PostgreSQL that the test can cut (every connection dropped, new ones
    refused) and plug back in on the same port: the database going away and coming back."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.server: asyncio.Server | None = None
        self.pipes: set[asyncio.StreamWriter] = set()

    async def plug(self) -> None:
        self.server = await asyncio.start_server(self._connect, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.pipes):
            writer.transport.abort()
        await self.server.wait_closed()

    async def _connect(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        server_reader, server_writer = await asyncio.open_connection(*self.target)
        self.pipes |= {client_writer, server_writer}
        await asyncio.gather(
            self._pump(client_reader, server_writer), self._pump(server_reader, client_writer)
        )

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        self.pipes.discard(writer)
        writer.transport.abort()


@pytest.mark.parametrize("language", ["ru", "kk"])
async def test_presses_and_messages_during_an_outage_are_answered_and_the_bot_recovers(
    fake_api, start_bot, language
):
    async with fresh_postgres("demeu_o_") as url:
        target = make_url(url)
        cable = Cable(target.host or "127.0.0.1", target.port or 5432)
        await cable.plug()
        try:
            bot = await start_bot(
                database_url=target.set(port=cable.port).render_as_string(hide_password=False)
            )
            teacher = fake_api.user(user_id=660_001, language_code=language)
            await teacher.send_text("/start")
            await teacher.press("Русский" if language == "ru" else "Қазақша")
            await teacher.press(AGREE[language])
            menu = teacher.last

            await cable.cut()
            await teacher.press_data("m:settings", message_id=menu.message_id)
            assert any(TEMPORARY[language] in text for text in teacher.alerts), teacher.alerts
            await teacher.send_text("привет")
            assert TEMPORARY[language] in teacher.last_text
            assert not await db.ping(bot.app.engine)  # what /healthz answers: 503

            await cable.plug()
            assert await db.ping(bot.app.engine)
            await teacher.send_text("/menu")
            assert teacher.last.inline_keyboard and TEMPORARY[language] not in teacher.last_text
        finally:
            with contextlib.suppress(AssertionError):
                await cable.cut()
