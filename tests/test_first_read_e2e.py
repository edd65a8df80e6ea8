"""On PostgreSQL (replicas share it; no row cache), what every update needs is one statement read
outside any transaction: a press that writes nothing sends that statement alone — no BEGIN, no
COMMIT — and a questionnaire answer reads its draft in it too (its press unpacked once for the
read and the handler), then writes its one UPDATE, alone too (a single statement needs no
transaction around it)."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import event

from bot.telegram.callbacks import Menu, SelfCheck, SelfCheckAction
from bot.telegram.fsm import update_session
from tests.conftest import POSTGRES_URL, fresh_postgres
from tests.test_e2e_foundation import TEXTS

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="DEMEU_TEST_POSTGRES_URL not set")
TEACHER = 8_310_001


class UpdateStatements:
    """What the bot's updates send (the workers' own statements, outside any update, are not
    counted): what asyncpg is given itself (the first read, a single row's UPDATE), what goes
    through SQLAlchemy, and the transactions asyncpg opens on the server (each a BEGIN and a
    COMMIT or ROLLBACK)."""

    def __init__(self, engine, monkeypatch) -> None:
        self.sent: list[str] = []
        self.transactions = 0
        event.listen(engine, "before_cursor_execute", self._statement)
        fetchrow, execute = asyncpg.Connection.fetchrow, asyncpg.Connection.execute
        start = asyncpg.transaction.Transaction.start

        async def first_read(connection, query, *args, **options):
            if update_session.get() is not None:
                self.sent.append("first read")
            return await fetchrow(connection, query, *args, **options)

        async def alone(connection, query, *args, **options):
            if update_session.get() is not None:
                self.sent.append(query.split()[0])
            return await execute(connection, query, *args, **options)

        async def began(transaction):
            if update_session.get() is not None:
                self.transactions += 1
            return await start(transaction)

        monkeypatch.setattr(asyncpg.Connection, "fetchrow", first_read)
        monkeypatch.setattr(asyncpg.Connection, "execute", alone)
        monkeypatch.setattr(asyncpg.transaction.Transaction, "start", began)

    def _statement(self, _connection, _cursor, statement: str, *_args) -> None:
        if update_session.get() is not None:
            self.sent.append(statement.split()[0])

    def clear(self) -> None:
        self.sent, self.transactions = [], 0


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_a_press_that_writes_nothing_is_one_statement_and_no_transaction(
    fake_api, start_bot, migrated_templates, monkeypatch, lang
):
    t = TEXTS[lang]
    async with fresh_postgres("demeu_f_", await migrated_templates.postgres_template()) as url:
        bot = await start_bot(database_url=url)
        teacher = fake_api.user(user_id=TEACHER, language_code=lang)
        await teacher.send_text("/start")
        await teacher.press(t["lang"])
        await teacher.press(t["agree"])
        await teacher.press(t["settings"])  # today's visit is recorded: a write, once a day
        counted = UpdateStatements(bot.app.sessions.kw["bind"].sync_engine, monkeypatch)

        for screen, shown in ((t["menu"], t["settings"]), (t["settings"], t["delete"])):
            counted.clear()
            await teacher.press(screen)
            assert shown in str(teacher.last.buttons)
            assert (counted.sent, counted.transactions) == (["first read"], 0)

        await teacher.press_data(SelfCheck(action=SelfCheckAction.BEGIN, inst="who5").pack())
        counted.clear()
        screen = teacher.last_text
        unpacked: list[str] = []
        original = SelfCheck.unpack.__func__

        def unpack(cls, value):
            unpacked.append(value)
            return original(cls, value)

        monkeypatch.setattr(SelfCheck, "unpack", classmethod(unpack))
        await teacher.press_data(SelfCheck(action=SelfCheckAction.ANSWER, inst="who5", n=0, v=3).pack())
        assert len(unpacked) == 1, "read once: for the first read, then by the dispatcher"
        assert teacher.last_text != screen  # the next question
        assert (counted.sent, counted.transactions) == (["first read", "UPDATE"], 0)
        counted.clear()
        await teacher.press_data(SelfCheck(action=SelfCheckAction.ANSWER, inst="who5", n=1, v=3).pack())
        assert (counted.sent, counted.transactions) == (["first read", "UPDATE"], 0)
        await teacher.press_data(Menu(item="main").pack())
        assert not fake_api.violations
