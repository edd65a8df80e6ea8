"""Queries for relaxation and mood: favourites, the private journal, mood check-ins."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import crypto
from storage.models import JournalEntry, MoodEntry, User
from storage.models.base import utcnow

LOW_MOOD = 2  # scores 1-2 count as a hard day
LOW_STREAK_DAYS = 3


# ── favourites ──────────────────────────────────────────────────────────────


# In the user's sealed preferences (User.favourites), never a row that names an exercise.


async def favourites(session: AsyncSession, user_id: int) -> list[str]:
    user = await session.get(User, user_id)
    return [] if user is None else user.favourites


async def is_favourite(session: AsyncSession, user_id: int, exercise_id: str) -> bool:
    return exercise_id in await favourites(session, user_id)


async def set_favourite(session: AsyncSession, user_id: int, exercise_id: str, on: bool) -> None:
    """Idempotent: a double tap neither duplicates nor fails."""
    user = await session.get(User, user_id)
    if user is not None:
        user.set_favourite(exercise_id, on)
        await session.flush()


# ── journal ─────────────────────────────────────────────────────────────────


def journal_owner(user_id: int) -> str:
    """Who owns journal entries, as only the keys can tell: no column links an entry to a user."""
    return crypto.active().blind_index("journal", user_id)


@dataclass(frozen=True)
class Journal:
    id: int
    kind: str  # "photo" or "text"
    exercise_id: str
    created_at: datetime
    content: str


def _journal(row: JournalEntry) -> Journal:
    meta = row.meta
    return Journal(row.id, meta["kind"], meta["exercise"], datetime.fromisoformat(meta["at"]), row.content)


async def add_journal_entry(
    session: AsyncSession, user_id: int, exercise_id: str, kind: str, content: str
) -> None:
    meta = {"kind": kind, "exercise": exercise_id, "at": utcnow().isoformat(timespec="seconds")}
    session.add(JournalEntry(owner=journal_owner(user_id), meta=meta, content=content))
    await session.flush()


async def journal(session: AsyncSession, user_id: int, limit: int = 10) -> list[Journal]:
    """The newest entries first (ids grow with time: there is no clear time column to sort by)."""
    rows = await session.scalars(
        select(JournalEntry)
        .where(JournalEntry.owner == journal_owner(user_id))
        .order_by(JournalEntry.id.desc())
        .limit(limit)
    )
    return [_journal(row) for row in rows]


async def journal_entry(session: AsyncSession, user_id: int, entry_id: int) -> Journal | None:
    row = await session.scalar(
        select(JournalEntry).where(JournalEntry.id == entry_id, JournalEntry.owner == journal_owner(user_id))
    )
    return _journal(row) if row is not None else None


# ── mood ────────────────────────────────────────────────────────────────────


async def add_mood(session: AsyncSession, user_id: int, score: int) -> MoodEntry:
    entry = MoodEntry(user_id=user_id, score=score)
    session.add(entry)
    await session.flush()
    return entry


async def set_mood_note(session: AsyncSession, user_id: int, entry_id: int, note: str) -> bool:
    entry = await session.scalar(
        select(MoodEntry).where(MoodEntry.id == entry_id, MoodEntry.user_id == user_id)
    )
    if entry is None:
        return False
    entry.note = note
    return True


async def mood_history(session: AsyncSession, user_id: int, days: int = 30) -> list[tuple[datetime, int]]:
    since = utcnow() - timedelta(days=days)
    rows = await session.execute(
        select(MoodEntry.created_at, MoodEntry.score)  # the score is decrypted here, never compared in SQL
        .where(MoodEntry.user_id == user_id, MoodEntry.created_at >= since)
        .order_by(MoodEntry.created_at)
    )
    return [(created, score) for created, score in rows]


async def low_streak(session: AsyncSession, user_id: int, tz: tzinfo) -> bool:
    """True when each of the last three calendar days (today included) ended low.

    A day counts by its latest check-in, so a day that got better is not held against it.
    """
    history = await mood_history(session, user_id, days=LOW_STREAK_DAYS + 1)
    latest: dict = {}
    for created, score in history:
        latest[created.astimezone(tz).date()] = score
    today = utcnow().astimezone(tz).date()
    days = [today - timedelta(days=n) for n in range(LOW_STREAK_DAYS)]
    return all(latest.get(day, LOW_MOOD + 1) <= LOW_MOOD for day in days)


# ── delete my data ──────────────────────────────────────────────────────────


async def erase(session: AsyncSession, user: User) -> None:
    user.forget_favourites()
    await session.execute(delete(MoodEntry).where(MoodEntry.user_id == user.id))
    await session.execute(delete(JournalEntry).where(JournalEntry.owner == journal_owner(user.id)))
