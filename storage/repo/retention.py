"""The nightly retention job's statements: claim the night once across replicas, then delete
what is older than the retention (bot/retention.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import changed, dialect_of
from storage.models import Booking, JobRun, MoodEntry, Slot
from storage.models.base import utcnow
from storage.repo import practice


async def claim(session: AsyncSession, name: str, period: str, worker: str) -> bool:
    """True for exactly one caller per (job, period): one upsert that only moves `period` forward.
    A concurrent claimant on PostgreSQL waits for the winner's commit, then finds the period taken."""
    insert = (postgresql.insert if dialect_of(session) == "postgresql" else sqlite.insert)(JobRun)
    statement = insert.values(name=name, period=period, claimed_by=worker, claimed_at=utcnow())
    claimed = statement.on_conflict_do_update(
        index_elements=[JobRun.name],
        set_={
            "period": statement.excluded.period,
            "claimed_by": statement.excluded.claimed_by,
            "claimed_at": statement.excluded.claimed_at,
        },
        where=JobRun.period < statement.excluded.period,
    ).returning(JobRun.name)
    return (await session.execute(claimed)).scalar() is not None


async def purge_before(session: AsyncSession, cutoff: datetime) -> dict[str, int]:
    """Delete consultations that took place before `cutoff` (their notes, cancel reasons and rating
    comments go with the rows) and their slots, the psychologists' private notes and the teachers'
    intakes on them and on group sessions held before it (storage.repo.practice), and clear mood check-in notes written before it
    (the 1-5 scores, which hold no words, stay for the teacher's chart)."""
    practice_counts = await practice.purge_before(session, cutoff)  # first: explicitly, not by cascade
    old_slots = select(Slot.id).where(Slot.starts_at < cutoff)
    bookings = await changed(
        session,
        delete(Booking).where(Booking.slot_id.in_(old_slots)).execution_options(synchronize_session=False),
    )
    slots = await changed(
        session, delete(Slot).where(Slot.starts_at < cutoff).execution_options(synchronize_session=False)
    )
    # Every entry that aged past the cutoff, note or not: which ones had a note is not visible in SQL.
    notes = await changed(
        session,
        update(MoodEntry)
        .where(MoodEntry.created_at < cutoff, MoodEntry.note_purged.is_(False))
        .values(note=None, note_purged=True)
        .execution_options(synchronize_session=False),
    )
    return {"bookings": bookings, "slots": slots, "mood_entries_aged": notes} | practice_counts
