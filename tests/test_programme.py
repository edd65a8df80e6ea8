"""The cabinet's programme below Telegram, on SQLite and PostgreSQL: kinds of group sessions (sessions
made before the kinds existed are consultation groups; the list filters by kind); the self-help
library as content checked at start."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import text

from bot.content.instruments import load_instruments
from bot.content.library import PAGE_LIMIT, PAGES, LibraryError, library, load_library
from bot.paths import CONTENT
from storage import db
from storage.models.base import utcnow
from storage.repo import groups

KAZAKH = re.compile("[әғқңөұүһіӘҒҚҢӨҰҮҺІ]")


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


def test_the_shipped_library_is_short_practical_reading_with_sources():
    readings = list(library())
    assert 6 <= len(readings) <= 8
    assert not library().problems(set(load_instruments()))  # every self-check offers something, and back
    for reading in readings:
        assert PAGES[0] <= len(reading.page) <= PAGES[1] and reading.source
        for page in reading.page:
            assert KAZAKH.search(page.kk), f"{reading.id}: Kazakh written without its own letters"
            assert not KAZAKH.search(page.ru), f"{reading.id}: Kazakh letters in the Russian text"
            assert len(page.kk) <= PAGE_LIMIT and len(page.ru) <= PAGE_LIMIT


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda text: text.replace('id = "sleep"', 'id = "burnout"'), "two readings share an id"),
        (lambda text: text.replace("[[reading.source]]", "[[reading.sourse]]"), "sourse"),
        (lambda text: text.replace("year = 2016", 'year = "2016"'), "year"),
        (lambda text: text.replace('url = "https://www.who', 'url = "http://www.who'), "url"),
    ],
)
def test_a_broken_library_is_refused_naming_the_field(tmp_path, change, problem):
    path = tmp_path / "library.toml"
    path.write_text(change((CONTENT / "library.toml").read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(LibraryError, match=problem):
        load_library(path)


def test_a_reading_with_too_few_screens_or_no_source_is_refused(tmp_path):
    page = '[[reading.page]]\nkk = "Қысқа мәтін"\nru = "Короткий текст"\n'
    source = '[[reading.source]]\nby = "WHO"\ntitle = "Guide"\nyear = 2020\n'
    head = '[[reading]]\nid = "x"\ntitle.kk = "Тақырып"\ntitle.ru = "Заголовок"\ninstruments = ["cbi"]\n'
    path = tmp_path / "library.toml"
    path.write_text(head + page * 2 + source, encoding="utf-8")
    with pytest.raises(LibraryError, match="page"):
        load_library(path)
    path.write_text(head + page * 3, encoding="utf-8")
    with pytest.raises(LibraryError, match="source"):
        load_library(path)
    path.write_text(head + page * 3 + source, encoding="utf-8")
    assert load_library(path).problems({"cbi", "phq9"}) == ["library: no reading for the self-check phq9"]
    assert load_library(path).problems(set()) == ["library: cbi: no such self-check instrument"]
