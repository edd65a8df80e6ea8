"""An update's commit (storage/commit.py): one changed row is its one UPDATE (on PostgreSQL outside
a transaction), sealed and with its `onupdate` columns as the ORM would write them; any more work
(a tally counted at commit) is one transaction; nothing changed, nothing sent; a driver failure
leaves the row to the ORM's flush, so nothing is lost. On SQLite, with its row caches:
tests/test_row_cache.py."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from sqlalchemy import select, text

from bot.content.regions import regions
from bot.services import tallies
from storage import db
from storage.cache import attach, column_values
from storage.commit import commit_update, single_writer
from storage.models import SelfCheckDraft
from storage.repo import selfcheck, users
from tests.conftest import POSTGRES_URL, fresh_postgres

on_postgres = pytest.mark.skipif(not POSTGRES_URL, reason="DEMEU_TEST_POSTGRES_URL not set")
TEACHER = 9_100_001
TZ = ZoneInfo("Asia/Almaty")


class Wire:
    """What asyncpg is asked to send by itself, and the transactions it opens (whose BEGIN and
    COMMIT it sends the same way, not listed)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, fail: bool = False) -> None:
        """`fail`: the first statement asyncpg is given by itself fails as on a lost connection."""
        self.alone: list[str] = []
        self.transactions = 0
        execute, start = asyncpg.Connection.execute, asyncpg.transaction.Transaction.start

        async def sent(connection, query, *args, **options):
            if query.split()[0] not in ("BEGIN;", "COMMIT;", "ROLLBACK;"):
                self.alone.append(query.split()[0])
                if fail and len(self.alone) == 1:
                    raise asyncpg.InterfaceError("connection lost")
            return await execute(connection, query, *args, **options)

        async def began(transaction):
            self.transactions += 1
            return await start(transaction)

        monkeypatch.setattr(asyncpg.Connection, "execute", sent)
        monkeypatch.setattr(asyncpg.transaction.Transaction, "start", began)


@pytest.fixture
async def engine(migrated_templates):
    async with fresh_postgres("demeu_c_", await migrated_templates.postgres_template()) as url:
        engine = db.create_engine(url)
        yield engine
        await engine.dispose()


@pytest.fixture
async def drafted(engine):
    """Sessions of a fresh PostgreSQL database with a teacher's questionnaire begun, and its id."""
    sessions = db.session_factory(engine)
    return sessions, await a_draft(sessions)


async def a_draft(sessions) -> int:
    async with sessions() as session:
        user = await users.create(session, TEACHER, "kk")
        await session.flush()
        draft = await selfcheck.start(session, user.id, "who5")
        await session.commit()
        return draft.id


async def answer(sessions, session, draft_id: int, item: str, value: int) -> SelfCheckDraft:
    """The draft as an update has it from its first read (no statement in its session), answered."""
    async with sessions() as reading:
        values = column_values(await reading.get(SelfCheckDraft, draft_id))
    draft = attach(session.sync_session, SelfCheckDraft, values, 0)
    selfcheck.record_answer(draft, item, value, draft.position + 1)
    return draft


@on_postgres
async def test_one_changed_row_is_its_one_update_outside_a_transaction(engine, drafted, monkeypatch):
    sessions, draft_id = drafted
    async with sessions() as session:
        before = (await session.get(SelfCheckDraft, draft_id)).updated_at
    async with sessions() as session:
        await answer(sessions, session, draft_id, "q1", 3)
        wire = Wire(monkeypatch)
        await commit_update(session, single_writer(engine))
    assert (wire.alone, wire.transactions) == (["UPDATE"], 0)
    monkeypatch.undo()
    async with sessions() as session:
        stored = await session.get(SelfCheckDraft, draft_id)
        assert (stored.position, selfcheck.answers(stored)) == (1, {"q1": 3})
        assert stored.updated_at > before, "the ORM's onupdate column, written alongside"
    async with engine.connect() as connection:
        data = (await connection.execute(text("SELECT data FROM selfcheck_drafts"))).scalar_one()
    assert "answers" not in data, "sealed by the column's own type"


@on_postgres
async def test_work_done_at_commit_makes_it_one_transaction(engine, drafted, monkeypatch):
    """A count taken at commit reads and writes its tally under a lock: it cannot go alone."""
    sessions, draft_id = drafted
    region = next(iter(regions()))
    async with sessions() as session:
        await answer(sessions, session, draft_id, "q1", 0)
        await tallies.safety_event(session, region, "crisis", datetime(2026, 12, 1, tzinfo=TZ), TZ)
        wire = Wire(monkeypatch)
        await commit_update(session, single_writer(engine))
    assert (wire.alone, wire.transactions) == ([], 1)
    monkeypatch.undo()
    async with sessions() as session:
        assert selfcheck.answers(await session.get(SelfCheckDraft, draft_id)) == {"q1": 0}
        assert (await tallies.month_counts(session, "m202612"))[region]["safety-crisis"] == 1


@on_postgres
async def test_nothing_changed_sends_nothing(engine, drafted, monkeypatch):
    sessions, draft_id = drafted
    async with sessions() as session:
        await answer(sessions, session, draft_id, "q1", 2)
        await session.commit()
    async with sessions() as session:
        draft = await answer(sessions, session, draft_id, "q1", 2)
        draft.position = 1  # set again to what it is: the ORM sees no change, nor does the commit
        wire = Wire(monkeypatch)
        await commit_update(session, single_writer(engine))
    assert (wire.alone, wire.transactions) == ([], 0)


@on_postgres
async def test_a_driver_failure_leaves_the_row_to_the_orm(engine, drafted, monkeypatch):
    sessions, draft_id = drafted
    async with sessions() as session:
        await answer(sessions, session, draft_id, "q1", 5)
        wire = Wire(monkeypatch, fail=True)
        await commit_update(session, single_writer(engine))
    # The broken connection is dropped from the pool; the ORM flushes on another, in a transaction
    # (a new connection may take one of its own for asyncpg's type setup).
    assert wire.alone[:1] == ["UPDATE"] and wire.transactions >= 1, "tried alone, then by the ORM"
    monkeypatch.undo()
    async with sessions() as session:
        stored = await session.scalar(select(SelfCheckDraft).where(SelfCheckDraft.id == draft_id))
        assert (stored.position, selfcheck.answers(stored)) == (1, {"q1": 5})
