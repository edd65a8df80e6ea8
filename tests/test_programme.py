"""The cabinet's programme below Telegram, on SQLite and PostgreSQL: kinds of group sessions (sessions
made before the kinds existed are consultation groups; the list filters by kind)."""

from datetime import timedelta

from sqlalchemy import text

from storage import db
from storage.models.base import utcnow
from storage.repo import groups


async def test_sessions_made_before_kinds_are_consultation_groups(empty_database_url):
    engine = db.create_engine(empty_database_url)
    try:
        await db.upgrade(engine, "0013")
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO group_sessions (id, title_kk, title_ru, description_kk, description_ru, starts_at, "
                    "duration_min, capacity, format, language, status, lock_version, ratings_requested, demo, "
                    "created_at) VALUES (1, 'Топ', 'Группа', '', '', '2030-01-10 10:00:00', 60, 5, 'online', 'kk', "
                    "'open', 0, false, false, '2026-11-30 10:00:00')"
                )
            )
        await db.upgrade(engine)
        async with db.session_factory(engine)() as session:
            group = await groups.get(session, 1)
            assert group is not None and group.kind == "consult"
    finally:
        await engine.dispose()


async def test_the_list_filters_by_kind(database_url):
    engine = db.create_engine(database_url)
    await db.upgrade(engine)
    sessions = db.session_factory(engine)
    try:
        async with sessions.begin() as session:
            for number, kind in enumerate(("art", "relax", "art", None)):
                extra = {"kind": kind} if kind else {}
                await groups.create_session(
                    session,
                    title_kk=f"Топ {number}",
                    title_ru=f"Группа {number}",
                    starts_at=utcnow() + timedelta(days=1 + number),
                    capacity=5,
                    format="online",
                    language="kk",
                    **extra,
                )
        async with sessions() as session:

            async def titles(kind: str | None) -> list[str]:
                found = await groups.upcoming(session, utcnow(), kind=kind)
                return [group.title_ru for group, _taken in found]

            assert await titles("art") == ["Группа 0", "Группа 2"]
            assert await titles("relax") == ["Группа 1"]
            assert await titles("consult") == ["Группа 3"]  # no kind given: a consultation group
            assert await titles("training") == []
            assert len(await titles(None)) == 4
    finally:
        await engine.dispose()
