"""Self-check storage on SQLite and PostgreSQL: drafts, results exactly once, history order,
encryption at rest, and erasure with "Delete my data"."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from bot.content.instruments import load_instruments
from storage import db
from storage.models import SelfCheckDraft, SelfCheckResult
from storage.models.base import utcnow
from storage.repo import selfcheck as repo
from storage.repo import users

GAD = load_instruments()["gad7"]


@pytest.fixture
async def sessions(database_url):
    engine = db.create_engine(database_url)
    await db.upgrade(engine)
    yield db.session_factory(engine)
    await engine.dispose()


async def finished(session, user_id: int, value: int, days_ago: int) -> SelfCheckResult:
    draft = await repo.start(session, user_id, "gad7")
    for position, item in enumerate(GAD.items):
        repo.record_answer(draft, item.key, value, position + 1)
    row = await repo.finish(session, draft)
    row.created_at = utcnow() - timedelta(days=days_ago)
    return row


async def test_draft_answers_finish_and_history(sessions):
    async with sessions.begin() as session:
        teacher = await users.create(session, 9101, "ru")
        draft = await repo.start(session, teacher.id, "gad7")
        repo.record_answer(draft, "gad7_1", 2, 1)
        repo.record_answer(draft, "gad7_2", 3, 2, alerted=True)
        repo.record_answer(
            draft, "gad7_2", 1, 2
        )  # changed after Back: replaced, and the alert stays recorded
    async with sessions.begin() as session:
        draft = await repo.draft(session, teacher.id, "gad7")
        assert (draft.position, repo.answers(draft), draft.data["alerted"]) == (
            2,
            {"gad7_1": 2, "gad7_2": 1},
            True,
        )
        again = await repo.start(session, teacher.id, "gad7")  # start over: the same row, emptied
        assert (again.id, again.position, repo.answers(again)) == (draft.id, 0, {})
        await finished(session, teacher.id, 3, days_ago=1)
        await finished(session, teacher.id, 0, days_ago=30)
        await finished(session, teacher.id, 1, days_ago=10)
    async with sessions() as session:
        history = await repo.history(session, teacher.id, "gad7")

        def totals(rows):
            return [GAD.score(row.data["answers"]).scales["total"].score for row in rows]

        assert totals(history) == [0, 7, 21]  # oldest first
        assert totals(await repo.history(session, teacher.id, "gad7", 2)) == [7, 21]
        assert await repo.counts(session, teacher.id) == {"gad7": 3}
        assert await repo.drafts(session, teacher.id) == {}  # finishing removed the draft
        assert await repo.result(session, teacher.id + 1, history[0].id) is None  # never another teacher's


async def test_one_draft_per_teacher_and_instrument(sessions):
    async with sessions() as session:
        teacher = await users.create(session, 9102, "kk")
        session.add_all([SelfCheckDraft(user_id=teacher.id, instrument="gad7", data={}) for _ in range(2)])
        with pytest.raises(IntegrityError):
            await session.flush()


async def test_answers_and_scores_are_encrypted_at_rest(sessions):
    async with sessions.begin() as session:
        teacher = await users.create(session, 9103, "ru")
        await finished(session, teacher.id, 3, days_ago=0)
        draft = await repo.start(session, teacher.id, "gad7")
        repo.record_answer(draft, "gad7_1", 3, 1)
    async with sessions() as session:
        stored = [value for (value,) in await session.execute(text("SELECT data FROM selfcheck_results"))]
        stored += [value for (value,) in await session.execute(text("SELECT data FROM selfcheck_drafts"))]
        assert len(stored) == 2
        for value in stored:
            assert "gad7_1" not in value and "severe" not in value and "answers" not in value


async def test_delete_my_data_and_delete_my_results(sessions):
    async with sessions.begin() as session:
        teacher = await users.create(session, 9104, "ru")
        other = await users.create(session, 9105, "ru")
        for user in (teacher, other):
            await finished(session, user.id, 2, days_ago=3)
            await repo.start(session, user.id, "gad7")
    async with sessions.begin() as session:
        teacher = await users.by_telegram_id(session, 9104)
        assert await repo.delete_all(session, teacher.id) == 1
    async with sessions.begin() as session:
        other = await users.by_telegram_id(session, 9105)
        assert await session.scalar(select(func.count()).select_from(SelfCheckResult)) == 1
        await repo.erase(session, other)
        await users.delete_user(session, other, [])
    async with sessions() as session:
        for model in (SelfCheckResult, SelfCheckDraft):
            assert await session.scalar(select(func.count()).select_from(model)) == 0
