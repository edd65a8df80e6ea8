"""What holds people's data on disk is owner-only whatever the umask: the SQLite database with its
WAL and shared-memory files (0600), and the data folder they and the local keys are made in (0700)."""

import os
import stat

import pytest

from storage import crypto, db
from storage.repo import users


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=[0o022, 0o000, 0o277], ids=["umask-022", "umask-000", "umask-277"])
def umask(request):
    """The process umask while the files are made: the usual one, one that would leave them open to
    everyone, one that would take the owner's own write bit."""
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


async def test_sqlite_database_wal_and_folder_are_owner_only(tmp_path, umask):
    folder = tmp_path / "data"
    engine = db.create_engine(f"sqlite+aiosqlite:///{folder / 'demeu.db'}")
    try:
        await db.upgrade(engine)
        async with db.session_factory(engine)() as session:
            await users.create(session, 1, "kk")
            await session.commit()
        # While a connection is open the WAL and shared-memory files exist beside the database.
        made = {path.name: mode(path) for path in folder.iterdir()}
        assert made == {"demeu.db": 0o600, "demeu.db-wal": 0o600, "demeu.db-shm": 0o600}
        assert mode(folder) == 0o700
    finally:
        await engine.dispose()


def test_local_keys_folder_is_owner_only(tmp_path, umask):
    folder = tmp_path / "data"
    crypto.load_or_create_local_keys(folder)
    assert mode(folder) == 0o700
    assert mode(folder / "keys.json") & 0o077 == 0


def test_an_existing_folder_is_left_as_it_is(tmp_path):
    """A folder the operator made (a mounted volume, say) keeps its mode; only what Demeu creates is set."""
    folder = tmp_path / "volume"
    folder.mkdir()
    folder.chmod(0o750)
    crypto.load_or_create_local_keys(folder)
    assert mode(folder) == 0o750
