"""On PostgreSQL (replicas share it; no row cache), what every update needs is one statement read
outside any transaction: a press that writes nothing sends that statement alone — no BEGIN, no
COMMIT — and a questionnaire answer reads its draft in it too, then writes once."""

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
    counted): the first read, which asyncpg sends itself, then what goes through SQLAlchemy."""

    def __init__(self, engine, monkeypatch) -> None:
        self.sent: list[str] = []
        self.commits = 0
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)
        fetchrow = asyncpg.Connection.fetchrow

        async def first_read(connection, query, *args, **options):
            if update_session.get() is not None:
                self.sent.append("first read")
            return await fetchrow(connection, query, *args, **options)

        monkeypatch.setattr(asyncpg.Connection, "fetchrow", first_read)

    def _statement(self, _connection, _cursor, statement: str, *_args) -> None:
        if update_session.get() is not None:
            self.sent.append(statement.split()[0])

    def _commit(self, _connection) -> None:
        if update_session.get() is not None:
            self.commits += 1

    def clear(self) -> None:
        self.sent, self.commits = [], 0


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
            assert (counted.sent, counted.commits) == (["first read"], 0)

        await teacher.press_data(SelfCheck(action=SelfCheckAction.BEGIN, inst="who5").pack())
        counted.clear()
        screen = teacher.last_text
        await teacher.press_data(SelfCheck(action=SelfCheckAction.ANSWER, inst="who5", n=0, v=3).pack())
        assert teacher.last_text != screen  # the next question
        assert (counted.sent, counted.commits) == (["first read", "UPDATE"], 1)
        await teacher.press_data(Menu(item="main").pack())
        assert not fake_api.violations
