"""One Alembic history for SQLite and PostgreSQL, matching the models exactly."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text

from storage import db
from storage.models import Base


async def test_upgrade_from_empty_matches_models(empty_database_url):
    engine = db.create_engine(empty_database_url)
    try:
        await db.upgrade(engine)
        await db.upgrade(engine)  # idempotent: a restart migrates nothing
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
            diff = await connection.run_sync(
                lambda c: compare_metadata(
                    MigrationContext.configure(c, opts={"compare_type": False}), Base.metadata
                )
            )
        assert set(Base.metadata.tables) <= tables
        assert diff == []
    finally:
        await engine.dispose()


def test_one_linear_history():
    """Each feature's migration follows the previous one: `db upgrade` has one head to go to."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(db.alembic_config("sqlite+aiosqlite://"))
    assert len(script.get_heads()) == 1
    revisions = list(script.walk_revisions())
    assert [r.revision for r in reversed(revisions)] == [f"{n:04d}" for n in range(1, len(revisions) + 1)]


async def test_0009_seals_what_0008_left_in_clear_or_unpadded(empty_database_url, test_crypto):
    """A database of the previous release: Fernet tokens, clear mood scores and urgency, a journal
    linked to its user, results with rendered band texts. After the upgrade every value is a padded
    v2 token, readable through the models, and the journal names no user."""
    from cryptography.fernet import Fernet
    from sqlalchemy import select

    from storage.models import AnonQuestion, JournalEntry, MoodEntry, SelfCheckResult, User
    from storage.repo import relax
    from tests.conftest import TEST_KEYS

    legacy = Fernet(TEST_KEYS[0].encode())

    def token(value: str) -> str:
        return legacy.encrypt(value.encode()).decode()

    engine = db.create_engine(empty_database_url)
    try:
        await db.upgrade(engine, "0008")
        result = '{"answers":{"gad7_1":3},"result":{"scales":{"total":{"band_label":{"ru":"Тяжёлая"}}}},"safety_screen":true}'
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO users (id, tg_index, chat_id, pseudonym, language, role, announcements, active, created_at) "
                    "VALUES (1, 'x', :chat, 'T-AAAAAA', 'ru', 'teacher', true, true, '2026-11-30 10:00:00')"
                ),
                {"chat": token("5551")},
            )
            await connection.execute(
                text(
                    "INSERT INTO mood_entries (id, user_id, score, note, created_at) VALUES (1, 1, 1, NULL, '2026-11-30 10:00:00')"
                )
            )
            await connection.execute(
                text(
                    "INSERT INTO anon_questions (id, teacher_id, region, message_id, urgent, status, created_at) "
                    "VALUES (1, 1, NULL, 7, true, 'open', '2026-11-30 10:00:00')"
                )
            )
            await connection.execute(
                text(
                    "INSERT INTO relax_journal (id, user_id, exercise_id, kind, content, created_at) "
                    "VALUES (1, 1, 'breath', 'text', :content, '2026-11-30 10:00:00')"
                ),
                {"content": token("мой день")},
            )
            await connection.execute(
                text(
                    "INSERT INTO selfcheck_results (id, user_id, instrument, data, created_at) "
                    "VALUES (1, 1, 'gad7', :data, '2026-11-30 10:00:00')"
                ),
                {"data": token(result)},
            )
        await db.upgrade(engine)
        async with db.session_factory(engine)() as session:
            assert (await session.get(User, 1)).chat_id == "5551"
            mood = await session.get(MoodEntry, 1)
            assert (mood.score, mood.note) == (1, None)
            assert (await session.get(AnonQuestion, 1)).urgent is True
            (entry,) = await relax.journal(session, 1)
            assert (entry.kind, entry.exercise_id, entry.content) == ("text", "breath", "мой день")
            assert entry.created_at.isoformat() == "2026-11-30T10:00:00+00:00"
            assert (await session.get(SelfCheckResult, 1)).data == {
                "answers": {"gad7_1": 3},
                "safety_screen": True,
            }
            row = await session.scalar(select(JournalEntry))
            assert row.owner == relax.journal_owner(1)
        async with engine.connect() as connection:
            scores = (await connection.execute(text("SELECT score, note FROM mood_entries"))).one()
            chat = await connection.scalar(text("SELECT chat_id FROM users"))
        assert all(test_crypto.is_current(value) for value in (*scores, chat))
    finally:
        await engine.dispose()


def _downgrade_sync(connection, url: str, revision: str) -> None:
    from alembic import command

    config = db.alembic_config(url)
    config.attributes["connection"] = connection
    command.downgrade(config, revision)
    connection.commit()


async def psychologist_with_two_slots(connection, test_crypto, user_id: int, at: str) -> None:
    """Profile 7 of user `user_id` with video slots 1 and 2, written as an old revision's tables take them."""
    await connection.execute(
        text(
            "INSERT INTO psychologist_profiles (id, user_id, display_name, languages, formats, regions, "
            f"published, demo, short_notice, created_at) VALUES (7, :user, :name, 'ru', 'video', '', true, "
            f"false, false, {at})"
        ),
        {"user": user_id, "name": test_crypto.seal(b"\xd0\x90", 256)},
    )
    for n in (1, 2):
        await connection.execute(
            text(
                "INSERT INTO booking_slots (id, psychologist_id, starts_at, duration_min, format, removed) "
                f"VALUES (:n, 7, '2026-12-0{n} 10:00:00', 50, 'video', false)"
            ),
            {"n": n},
        )


async def test_0017_seals_calendar_choices_intakes_and_consents_and_back(empty_database_url, test_crypto):
    """A database of 0015: a clear calendar_detail, an intake row, a consent row and favourite rows
    that exist only because a teacher acted. After the upgrade they are sealed values of one size
    (users.prefs, bookings.intake) and those tables are gone; the downgrade puts each back."""
    import json

    from storage.models import Booking, User
    from storage.models.practice import INTAKE_SIZE

    answers = {"k": ["sleep"], "t": "не сплю", "l": "ru", "u": 2, "b": False}
    at = "'2026-11-30 10:00:00'"
    engine = db.create_engine(empty_database_url)
    url = str(engine.url.render_as_string(hide_password=False))
    try:
        await db.upgrade(engine, "0015")
        async with engine.begin() as connection:
            for user_id, detail in ((1, True), (2, False), (3, False)):
                await connection.execute(
                    text(
                        "INSERT INTO users (id, tg_index, chat_id, pseudonym, language, role, announcements, "
                        f"calendar_detail, active, created_at) VALUES (:id, :index, :chat, :code, 'ru', 'teacher', "
                        f"true, :detail, true, {at})"
                    ),
                    {
                        "id": user_id,
                        "index": f"x{user_id}",
                        "chat": test_crypto.seal(b"555", 24),
                        "code": f"T-AAAAA{user_id}",
                        "detail": detail,
                    },
                )
            await psychologist_with_two_slots(connection, test_crypto, 3, at)
            for n in (1, 2):
                await connection.execute(
                    text(
                        "INSERT INTO bookings (id, slot_id, teacher_id, state, holds, late_cancel, calendar_seq, "
                        f"created_at, updated_at) VALUES (:n, :n, :n, 'booked', true, false, 0, {at}, {at})"
                    ),
                    {"n": n},
                )
            sealed = test_crypto.seal(json.dumps(answers, ensure_ascii=False).encode(), INTAKE_SIZE)
            await connection.execute(
                text("INSERT INTO intakes (booking_id, answers) VALUES (1, :a)"), {"a": sealed}
            )
            await connection.execute(text("INSERT INTO continuity_consents VALUES (1, 7)"))
            for n, (exercise, moment) in enumerate(
                (("grounding", "10:00"), ("box", "09:00"), ("stop", "11:00"))
            ):
                await connection.execute(
                    text(
                        "INSERT INTO relax_favourites (id, user_id, exercise_id, created_at) "
                        f"VALUES (:id, 1, :exercise, '2026-11-30 {moment}:00')"
                    ),
                    {"id": 10 - n, "exercise": exercise},
                )

        await db.upgrade(engine)
        async with db.session_factory(engine)() as session:
            first, second = await session.get(User, 1), await session.get(User, 2)
            # Consents are kept by the psychologist's pseudonym since 0020 (profile 7 is user 3's).
            assert (first.calendar_detail, first.allows_carry("T-AAAAA3")) == (True, True)
            assert (second.calendar_detail, second.allows_carry("T-AAAAA3")) == (False, False)
            assert (first.favourites, second.favourites) == (["box", "grounding", "stop"], [])
            assert (await session.get(Booking, 1)).intake == answers
            assert (await session.get(Booking, 2)).intake is None
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
            prefs = list(await connection.scalars(text("SELECT prefs FROM users")))
            intakes = list(await connection.scalars(text("SELECT intake FROM bookings")))
        assert not tables & {"intakes", "continuity_consents", "relax_favourites"}
        assert len({len(token) for token in prefs}) == 1 and len({len(token) for token in intakes}) == 1
        assert all(test_crypto.is_current(token) for token in (*prefs, *intakes))

        async with engine.connect() as connection:
            await connection.run_sync(_downgrade_sync, url, "0015")
        async with engine.connect() as connection:
            details = dict((await connection.execute(text("SELECT id, calendar_detail FROM users"))).all())
            consents = (await connection.execute(text("SELECT * FROM continuity_consents"))).all()
            restored = (await connection.execute(text("SELECT booking_id, answers FROM intakes"))).all()
            liked = list(
                await connection.scalars(text("SELECT exercise_id FROM relax_favourites ORDER BY id"))
            )
            columns = await connection.run_sync(
                lambda c: {col["name"] for col in inspect(c).get_columns("users")}
            )
        assert {k: bool(v) for k, v in details.items()} == {1: True, 2: False, 3: False}
        assert [tuple(row) for row in consents] == [(1, 7)]
        assert [(booking_id, json.loads(test_crypto.open(token))) for booking_id, token in restored] == [
            (1, answers)
        ]
        assert "prefs" not in columns and liked == ["box", "grounding", "stop"]
    finally:
        await engine.dispose()


async def test_0019_seals_which_results_were_shared_and_back(empty_database_url, test_crypto):
    """A database of 0017: selfcheck_shares rows that exist only because a teacher showed a result
    to a booking's psychologist. After the upgrade each booking holds its sealed list, one size for
    every booking, and the table is gone; the downgrade puts the rows back."""

    from storage.models import Booking

    at = "'2026-11-30 10:00:00'"
    engine = db.create_engine(empty_database_url)
    url = str(engine.url.render_as_string(hide_password=False))
    try:
        await db.upgrade(engine, "0017")
        async with engine.begin() as connection:
            for user_id in (1, 2):
                await connection.execute(
                    text(
                        "INSERT INTO users (id, tg_index, chat_id, pseudonym, language, role, announcements, "
                        f"active, created_at) VALUES (:id, :index, :chat, :code, 'ru', 'teacher', true, true, {at})"
                    ),
                    {
                        "id": user_id,
                        "index": f"x{user_id}",
                        "chat": test_crypto.seal(b"5", 24),
                        "code": f"T-{user_id}",
                    },
                )
            await psychologist_with_two_slots(connection, test_crypto, 2, at)
            for n in (1, 2):
                await connection.execute(
                    text(
                        "INSERT INTO bookings (id, slot_id, teacher_id, state, holds, late_cancel, calendar_seq, "
                        f"intake, created_at, updated_at) VALUES (:n, :n, 1, 'booked', true, false, 0, :i, {at}, {at})"
                    ),
                    {"n": n, "i": test_crypto.seal(None, 1758)},
                )
            for result_id in (5, 6):
                await connection.execute(
                    text(
                        "INSERT INTO selfcheck_results (id, user_id, instrument, data, created_at) "
                        f"VALUES (:id, 1, 'phq9', :data, {at})"
                    ),
                    {"id": result_id, "data": test_crypto.seal(b"{}", 1024)},
                )
            # Booking 1 got result 6 first, then 5; booking 99 is gone (shares had no foreign key to it).
            for share_id, result_id, booking_id, moment in (
                (1, 5, 1, "11:00"),
                (2, 6, 1, "10:00"),
                (3, 5, 99, "09:00"),
            ):
                await connection.execute(
                    text(
                        "INSERT INTO selfcheck_shares (id, result_id, booking_id, created_at) "
                        f"VALUES (:id, :result, :booking, '2026-11-30 {moment}:00')"
                    ),
                    {"id": share_id, "result": result_id, "booking": booking_id},
                )

        await db.upgrade(engine)
        async with db.session_factory(engine)() as session:
            assert (await session.get(Booking, 1)).shared == [6, 5]
            assert (await session.get(Booking, 2)).shared == []
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
            tokens = list(await connection.scalars(text("SELECT shared FROM bookings")))
        assert "selfcheck_shares" not in tables
        assert len({len(token) for token in tokens}) == 1 and all(map(test_crypto.is_current, tokens))

        async with engine.connect() as connection:
            await connection.run_sync(_downgrade_sync, url, "0017")
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    text("SELECT result_id, booking_id FROM selfcheck_shares ORDER BY result_id")
                )
            ).all()
            columns = await connection.run_sync(
                lambda c: {col["name"] for col in inspect(c).get_columns("bookings")}
            )
        assert [tuple(row) for row in rows] == [(5, 1), (6, 1)] and "shared" not in columns
    finally:
        await engine.dispose()


async def test_0020_seals_ratings_moves_group_ratings_to_seats_and_keys_consents_by_pseudonym(
    empty_database_url, test_crypto
):
    """A database of 0019: clear ratings on a booking and a chat (NULL on the others), a group_ratings
    row that exists only because a teacher rated (and one whose seat is gone), a consent kept as
    profile id 7 (and one to a profile deleted since). After the upgrade every booking, chat and seat
    holds a sealed rating of one size, read back as before; the consent is the psychologist's
    pseudonym. The downgrade puts the clear values, the rows and the profile id back."""
    import json

    from storage.models import Booking, ChatSession, GroupSeat, User

    at = "'2026-11-30 10:00:00'"
    comment = test_crypto.seal("спасибо".encode(), 3002)
    engine = db.create_engine(empty_database_url)
    url = str(engine.url.render_as_string(hide_password=False))
    try:
        await db.upgrade(engine, "0019")
        async with engine.begin() as connection:
            for user_id in (1, 2, 3):
                prefs = {"c": False, "p": [7, 99] if user_id == 1 else [], "x": []}
                await connection.execute(
                    text(
                        "INSERT INTO users (id, tg_index, chat_id, pseudonym, language, role, announcements, "
                        f"prefs, active, created_at) VALUES (:id, :index, :chat, :code, 'ru', 'teacher', true, "
                        f":prefs, true, {at})"
                    ),
                    {
                        "id": user_id,
                        "index": f"x{user_id}",
                        "chat": test_crypto.seal(b"5", 24),
                        "code": f"T-AAAAA{user_id}",
                        "prefs": test_crypto.seal(json.dumps(prefs).encode(), 1024),
                    },
                )
            await psychologist_with_two_slots(connection, test_crypto, 3, at)
            for n, rating, note in ((1, 4, test_crypto.seal("хорошо".encode(), 1502)), (2, None, None)):
                await connection.execute(
                    text(
                        "INSERT INTO bookings (id, slot_id, teacher_id, state, holds, late_cancel, calendar_seq, "
                        "rating, rating_comment, intake, shared, created_at, updated_at) VALUES (:n, :n, :n, "
                        f"'attended', true, false, 0, :rating, :note, :i, :s, {at}, {at})"
                    ),
                    {
                        "n": n,
                        "rating": rating,
                        "note": note,
                        "i": test_crypto.seal(None, 1758),
                        "s": test_crypto.seal(b"[]", 512),
                    },
                )
                await connection.execute(
                    text(
                        "INSERT INTO chat_sessions (id, teacher_id, psychologist_id, starts_at, ends_at, status, "
                        f"teacher_away, psychologist_away, rating, created_at) VALUES (:n, :n, 3, {at}, {at}, "
                        f"'closed', false, false, :rating, {at})"
                    ),
                    {"n": n, "rating": 1 if rating else None},
                )
            for group_id in (1, 2):
                await connection.execute(
                    text(
                        "INSERT INTO group_sessions (id, title_kk, title_ru, description_kk, description_ru, "
                        "starts_at, duration_min, capacity, format, kind, language, status, lock_version, "
                        f"ratings_requested, demo, created_at) VALUES (:id, 'Топ', 'Группа', '', '', {at}, 60, "
                        f"10, 'online', 'consult', 'ru', 'open', 0, true, false, {at})"
                    ),
                    {"id": group_id},
                )
            for seat_id, user_id in ((1, 1), (2, 2)):
                await connection.execute(
                    text(
                        "INSERT INTO group_seats (id, session_id, user_id, status, position, rating_asked, "
                        f"calendar_seq, updated_at) VALUES (:id, 1, :user, 'enrolled', :id, true, 0, {at})"
                    ),
                    {"id": seat_id, "user": user_id},
                )
            # User 1 rated group 1 from their seat; user 2's rating of group 2 has no seat (gone).
            for rating_id, group_id, user_id, score in ((1, 1, 1, 5), (2, 2, 2, 3)):
                await connection.execute(
                    text(
                        "INSERT INTO group_ratings (id, session_id, user_id, score, comment, created_at) "
                        f"VALUES (:id, :group, :user, :score, :comment, {at})"
                    ),
                    {"id": rating_id, "group": group_id, "user": user_id, "score": score, "comment": comment},
                )

        await db.upgrade(engine)
        async with db.session_factory(engine)() as session:
            rated, unrated = await session.get(Booking, 1), await session.get(Booking, 2)
            assert (rated.rating, rated.rating_comment) == (4, "хорошо")
            assert (unrated.rating, unrated.rating_comment, unrated.cancel_reason) == (None, None, None)
            assert [(await session.get(ChatSession, n)).rating for n in (1, 2)] == [1, None]
            seats = {seat.user_id: seat for seat in await session.scalars(select(GroupSeat))}
            assert (seats[1].rating, seats[1].rating_comment) == (5, "спасибо")
            assert (seats[2].rating, seats[2].rating_comment) == (None, None)
            teacher = await session.get(User, 1)
            assert teacher.prefs["p"] == ["T-AAAAA3"] and teacher.allows_carry("T-AAAAA3")
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
            columns = {
                ("bookings", "rating"),
                ("bookings", "rating_comment"),
                ("bookings", "cancel_reason"),
                ("chat_sessions", "rating"),
                ("group_seats", "rating"),
                ("group_seats", "rating_comment"),
            }
            for table, column in columns:
                tokens = list(await connection.scalars(text(f"SELECT {column} FROM {table}")))
                assert len({len(token) for token in tokens}) == 1, (table, column)
                assert all(map(test_crypto.is_current, tokens)), (table, column)
        assert "group_ratings" not in tables

        async with engine.connect() as connection:
            await connection.run_sync(_downgrade_sync, url, "0019")
        async with engine.connect() as connection:
            stars = (await connection.execute(text("SELECT id, rating FROM bookings ORDER BY id"))).all()
            helped = (
                await connection.execute(text("SELECT id, rating FROM chat_sessions ORDER BY id"))
            ).all()
            ratings = (
                await connection.execute(
                    text("SELECT session_id, user_id, score, comment FROM group_ratings")
                )
            ).all()
            prefs = await connection.scalar(text("SELECT prefs FROM users WHERE id = 1"))
            seat_columns = await connection.run_sync(
                lambda c: {col["name"] for col in inspect(c).get_columns("group_seats")}
            )
        assert [tuple(row) for row in stars] == [(1, 4), (2, None)]
        assert [tuple(row) for row in helped] == [(1, 1), (2, None)]
        assert [tuple(row[:3]) for row in ratings] == [(1, 1, 5)]
        assert test_crypto.open(ratings[0][3]).decode() == "спасибо"
        assert json.loads(test_crypto.open(prefs))["p"] == [7]
        assert not seat_columns & {"rating", "rating_comment"}
    finally:
        await engine.dispose()
