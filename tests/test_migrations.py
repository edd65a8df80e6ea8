"""One Alembic history for SQLite and PostgreSQL, matching the models exactly."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

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
    from sqlalchemy import select, text

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
