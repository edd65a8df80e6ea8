"""The per-process row caches (storage.cache) never serve a row that differs from the committed
one: what one update commits, the next update sees, whether it changed one row, many rows at
once, or rolled back; and on PostgreSQL, where replicas share the database, nothing is cached."""

from __future__ import annotations

import pytest
from aiogram.fsm.storage.base import StorageKey
from sqlalchemy import event, func, select

from bot.telegram.fsm import DatabaseStorage, UpdateSession, update_session
from storage import db
from storage.cache import MISSING, RowCache, RowCaches
from storage.commit import commit_update, single_writer
from storage.models import FsmRecord, User
from storage.repo import selfcheck, users
from tests.conftest import POSTGRES_URL

TEACHER = 7101


@pytest.fixture
async def app_sessions(sqlite_url):
    """Sessions as the app makes them on SQLite: with caches."""
    engine = db.create_engine(sqlite_url)
    await db.upgrade(engine)
    caches = RowCaches.for_database(sqlite_url)
    yield db.session_factory(engine, caches.session_class()), caches
    await engine.dispose()


async def current(sessions, telegram_id: int = TEACHER) -> User | None:
    async with sessions() as session:
        return await users.by_telegram_id(session, telegram_id)


async def test_committed_changes_are_seen_by_the_next_update(app_sessions):
    sessions, caches = app_sessions
    async with sessions.begin() as session:
        await users.create(session, TEACHER, "kk")
    assert (await current(sessions)).language == "kk"
    assert len(caches.users) == 1  # the next press needs no read

    async with sessions.begin() as session:  # the user switches language
        (await users.by_telegram_id(session, TEACHER)).language = "ru"
    assert (await current(sessions)).language == "ru"

    async with sessions.begin() as session:  # an admin's update changes this user's role
        other = await session.scalar(select(User).where(User.tg_index == (await current(sessions)).tg_index))
        other.role = "psychologist"
    assert (await current(sessions)).role == "psychologist"

    async with sessions.begin() as session:  # Telegram says they blocked the bot: a bulk UPDATE
        await users.mark_inactive(session, (await current(sessions)).id)
    assert (await current(sessions)).active is False


async def test_rolled_back_changes_are_never_served(app_sessions):
    sessions, _caches = app_sessions
    async with sessions.begin() as session:
        await users.create(session, TEACHER, "kk")
    await current(sessions)
    async with sessions() as session:
        user = await users.by_telegram_id(session, TEACHER)
        user.language = "ru"
        await session.flush()
        await session.rollback()
    assert (await current(sessions)).language == "kk"


async def test_deleted_users_and_their_state_are_gone_at_once(app_sessions):
    sessions, caches = app_sessions
    storage = DatabaseStorage(sessions)
    key = StorageKey(bot_id=1, chat_id=TEACHER, user_id=TEACHER)
    async with sessions.begin() as session:
        await users.create(session, TEACHER, "kk")
    await storage.set_state(key, "BookingFlow:note")
    assert await storage.get_state(key) == "BookingFlow:note"
    assert len(caches.fsm) == 1

    async with sessions() as session:  # Delete my data, inside one update
        token = update_session.set(UpdateSession(session))
        try:
            user = await users.by_telegram_id(session, TEACHER)
            await users.delete_user(session, user, [storage.keys.build(key)])
            await session.commit()
        finally:
            update_session.reset(token)
    assert await current(sessions) is None
    assert await storage.get_state(key) is None
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(FsmRecord)) == 0


async def test_each_answer_reads_the_draft_it_committed(app_sessions):
    sessions, caches = app_sessions
    async with sessions.begin() as session:
        teacher = await users.create(session, TEACHER, "kk")
        await selfcheck.start(session, teacher.id, "who5")
    for position in range(3):
        async with sessions.begin() as session:
            draft = await selfcheck.draft(session, teacher.id, "who5")
            assert draft.position == position
            selfcheck.record_answer(draft, f"q{position + 1}", 3, position + 1)
    assert len(caches.drafts) == 1
    async with sessions() as session:
        stored = await session.get(type(draft), draft.id)
        assert stored.position == 3 and selfcheck.answers(stored) == {"q1": 3, "q2": 3, "q3": 3}


async def test_on_the_installed_sqlalchemy_a_warm_press_reads_without_a_statement(app_sessions):
    """The guard of the caches, which lean on SQLAlchemy's ORM internals (their gain:
    bench/bench_internals.py): once warm, an answer reads the user, their state and their draft
    with no statement and writes one UPDATE. An upgrade that bypasses them fails here."""
    sessions, _caches = app_sessions
    storage = DatabaseStorage(sessions)
    key = StorageKey(bot_id=1, chat_id=TEACHER, user_id=TEACHER)
    async with sessions.begin() as session:
        teacher = await users.create(session, TEACHER, "kk")
        await selfcheck.start(session, teacher.id, "who5")
    await storage.set_state(key, "SelfCheckFlow:answering")
    await current(sessions)  # the press that started the questionnaire read them
    await storage.get_state(key)
    statements: list[str] = []
    event.listen(
        sessions.kw["bind"].sync_engine,
        "before_cursor_execute",
        lambda _connection, _cursor, statement, *_: statements.append(statement.split()[0]),
    )
    async with sessions.begin() as session:
        assert (await users.by_telegram_id(session, TEACHER)).id == teacher.id
        selfcheck.record_answer(await selfcheck.draft(session, teacher.id, "who5"), "q1", 3, 1)
    assert await storage.get_state(key) == "SelfCheckFlow:answering"
    assert statements == ["UPDATE"]


def test_a_read_that_raced_a_change_is_not_cached():
    cache = RowCache(10)
    began = cache.generation
    cache.drop("user")  # another update committed a change meanwhile
    cache.put("user", "old row", began)
    assert cache.get("user") is MISSING
    cache.put("user", "new row", cache.generation)
    assert cache.get("user") == "new row"


@pytest.mark.skipif(not POSTGRES_URL, reason="DEMEU_TEST_POSTGRES_URL not set")
async def test_replicas_on_postgres_see_each_others_changes():
    from tests.conftest import fresh_postgres

    async with fresh_postgres() as url:
        engines = [db.create_engine(url), db.create_engine(url)]
        await db.upgrade(engines[0])
        first, second = (
            db.session_factory(engine, RowCaches.for_database(url).session_class()) for engine in engines
        )
        try:
            async with first.begin() as session:
                await users.create(session, TEACHER, "kk")
            assert (await current(first)).role == "teacher"
            async with second.begin() as session:  # an admin's press lands on the other replica
                (await users.by_telegram_id(session, TEACHER)).role = "psychologist"
            assert (await current(first)).role == "psychologist"
        finally:
            for engine in engines:
                await engine.dispose()


async def test_a_change_by_another_update_meanwhile_is_not_overwritten_in_the_cache(app_sessions):
    """A psychologist's own update is in flight while a coordinator deactivates them: when the
    psychologist's update commits another column, the cache must not keep the old role."""
    sessions, _caches = app_sessions
    async with sessions.begin() as session:
        (await users.create(session, TEACHER, "kk")).role = "psychologist"
    await current(sessions)
    async with sessions() as own:
        me = await users.by_telegram_id(own, TEACHER)
        async with sessions.begin() as coordinator:
            (await coordinator.scalar(select(User).where(User.id == me.id))).role = "psychologist_off"
        me.language = "ru"
        await own.commit()
    user = await current(sessions)
    assert (user.role, user.language) == ("psychologist_off", "ru")


@pytest.mark.parametrize("alone", [False, True], ids=["flushed", "written alone"])
async def test_a_row_read_again_after_another_updates_change_is_cached_as_changed(app_sessions, alone):
    """The update's session still holds the row as it first read it when it reads it again: what
    is cached is the row as read, not that older instance (a deactivated psychologist stays
    deactivated), whether the press's own change is flushed by the ORM or written alone."""
    sessions, _caches = app_sessions
    async with sessions.begin() as session:
        (await users.create(session, TEACHER, "kk")).role = "psychologist"
    async with sessions() as own:
        me = await users.by_telegram_id(own, TEACHER)
        async with sessions.begin() as coordinator:
            (await coordinator.get(User, me.id)).role = "psychologist_off"
        await own.commit()
        assert (await users.by_telegram_id(own, TEACHER)).role == "psychologist_off"
        me.language = "ru"
        await (commit_update(own, single_writer(sessions.kw["bind"])) if alone else own.commit())
    user = await current(sessions)
    assert (user.role, user.language) == ("psychologist_off", "ru")


async def test_a_row_written_alone_is_what_the_cache_serves_next(app_sessions):
    """An answer's one changed row, written by the driver itself (storage/commit.py): the cache
    then holds it as committed, so the next answer reads nothing."""
    sessions, caches = app_sessions
    engine = sessions.kw["bind"]
    async with sessions.begin() as session:
        teacher = await users.create(session, TEACHER, "kk")
        await selfcheck.start(session, teacher.id, "who5")
    through_sqlalchemy: list[str] = []
    event.listen(
        engine.sync_engine,
        "before_cursor_execute",
        lambda _connection, _cursor, statement, *_: through_sqlalchemy.append(statement.split()[0]),
    )
    for position in range(3):
        async with sessions() as session:
            draft = await selfcheck.draft(session, teacher.id, "who5")
            assert draft.position == position
            selfcheck.record_answer(draft, f"q{position + 1}", position, position + 1)
            await commit_update(session, single_writer(engine))
    assert through_sqlalchemy == [], "read from the cache, written by the driver itself"
    async with db.session_factory(engine)() as uncached:
        stored = await uncached.get(type(draft), draft.id)
        assert (stored.position, selfcheck.answers(stored)) == (3, {"q1": 0, "q2": 1, "q3": 2})
    assert len(caches.drafts) == 1


async def test_a_failed_update_leaves_nothing_of_its_own_in_the_cache(app_sessions):
    sessions, caches = app_sessions
    async with sessions.begin() as session:
        teacher = await users.create(session, TEACHER, "kk")
        await selfcheck.start(session, teacher.id, "who5")
    async with sessions() as session:  # an answer flushed, read again, then the handler fails
        draft = await selfcheck.draft(session, teacher.id, "who5")
        selfcheck.record_answer(draft, "q1", 5, 1)
        await session.flush()
        caches.drafts.clear()
        assert (await selfcheck.draft(session, teacher.id, "who5")).position == 1
    async with sessions() as session:
        assert (await selfcheck.draft(session, teacher.id, "who5")).position == 0


async def test_the_cache_shares_no_mutable_value_and_one_row_is_one_instance(app_sessions):
    sessions, _caches = app_sessions
    async with sessions.begin() as session:
        teacher = await users.create(session, TEACHER, "kk")
        await selfcheck.start(session, teacher.id, "who5")
    async with sessions() as session:
        await selfcheck.draft(session, teacher.id, "who5")  # now cached
    async with sessions() as session:  # changed in place, never committed
        draft = await selfcheck.draft(session, teacher.id, "who5")
        draft.data["alerted"] = True
        assert await selfcheck.draft(session, teacher.id, "who5") is draft  # the same row twice: one instance
    async with sessions() as session:
        assert (await selfcheck.draft(session, teacher.id, "who5")).data["alerted"] is False


async def test_whether_someone_is_in_an_open_chat_follows_every_change_of_a_chat(app_sessions):
    """Asked on every menu press and message (is this person in a live chat?): once known, no
    statement; any chat opened, closed or left since is seen by the next update."""
    from storage.models.base import utcnow
    from storage.repo import chat

    sessions, caches = app_sessions
    async with sessions.begin() as session:
        teacher = await users.create(session, TEACHER, "kk")
        psychologist = await users.create(session, TEACHER + 1, "ru")
        planned = await chat.create_session(session, teacher.id, psychologist.id, utcnow(), utcnow())

    async def open_chat(user_id: int) -> int | None:
        async with sessions.begin() as session:
            found = await chat.active_for(session, user_id)
            return found.id if found else None

    statements: list[str] = []
    event.listen(
        sessions.kw["bind"].sync_engine,
        "before_cursor_execute",
        lambda _connection, _cursor, statement, *_: statements.append(statement.split()[0]),
    )
    assert await open_chat(teacher.id) is None
    assert statements == ["SELECT"]
    assert await open_chat(teacher.id) is None
    assert statements == ["SELECT"]  # known: no statement

    async with sessions.begin() as session:  # the chat clock opens it (a bulk UPDATE)
        await chat.mark_open(session, planned.id)
    assert await open_chat(teacher.id) == planned.id
    assert await open_chat(psychologist.id) == planned.id

    async with sessions.begin() as session:  # the teacher steps out to the menu (an ORM flush)
        await chat.set_away(session, await chat.active_for(session, teacher.id), teacher.id, True)
        assert await chat.active_for(session, teacher.id) is not None  # read again in the same update
    async with sessions.begin() as session:
        await chat.mark_closed(session, planned.id)
    assert await open_chat(teacher.id) is None
    assert await open_chat(psychologist.id) is None
    assert len(caches.open_chats) == 2
