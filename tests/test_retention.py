"""The nightly retention job with a short retention (1 day): consultations older than that go
with their notes, mood notes are cleared (scores stay), newer data stays; two replicas firing
at the same moment run it once per night, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from bot.app import App
from bot.workers.retention import run_retention
from storage.models import Booking, MoodEntry, Slot
from storage.models.base import utcnow
from storage.repo import booking as booking_repo
from storage.repo import users
from tests.conftest import make_settings
from tests.test_reminders import worker_of

NOTE = "Директор Бекжанов кричит на меня"


async def test_retention_deletes_old_data_once_per_night_across_replicas(
    fake_api, database_url, tmp_path: Path
):
    settings = make_settings(
        database_url,
        fake_api.base_url,
        fake_api.token,
        tmp_path,
        reminders={"retention_days": 1},
        booking={"min_notice_hours": 0},
    )
    first, second = await App.create(settings), await App.create(settings)
    try:
        now = utcnow()
        async with first.sessions() as session:
            psychologist = await users.create(session, 9101, "ru")
            psychologist.role = "psychologist"
            profile = await booking_repo.ensure_profile(session, psychologist)
            profile.display_name, profile.formats, profile.languages, profile.published = (
                "П",
                "video",
                "ru",
                True,
            )
            teacher = await users.create(session, 9102, "ru")
            kept = {}
            for label, starts_at in (("old", now - timedelta(days=3)), ("recent", now - timedelta(hours=12))):
                slot = await booking_repo.add_slot(session, profile, starts_at, 50, "video")
                booking = (
                    await first.bookings.book(session, teacher, slot.id, NOTE, starts_at - timedelta(hours=1))
                ).booking
                assert await first.bookings.mark(session, booking, "attended", now)
                assert await booking_repo.rate(session, booking, 5, "спасибо")
                kept[label] = (slot.id, booking.id)
            session.add_all(
                [
                    MoodEntry(
                        user_id=teacher.id, score=2, note="старая заметка", created_at=now - timedelta(days=2)
                    ),
                    MoodEntry(user_id=teacher.id, score=4, note="свежая заметка", created_at=now),
                ]
            )
            await session.commit()

        # Both replicas' cron jobs fire at once: one does the work, the other finds the night taken.
        results = await asyncio.gather(run_retention(worker_of(first)), run_retention(worker_of(second)))
        assert sorted(results, key=str) == sorted(
            [None, {"bookings": 1, "slots": 1, "mood_entries_aged": 1, "session_notes": 0}],
            key=str,
        )
        assert await run_retention(worker_of(first)) is None, "once per night, also on the same replica"

        async with first.sessions() as session:
            assert {b.id for b in await session.scalars(select(Booking))} == {kept["recent"][1]}
            assert {s.id for s in await session.scalars(select(Slot))} == {kept["recent"][0]}
            notes = {m.score: m.note for m in await session.scalars(select(MoodEntry))}
            assert notes == {2: None, 4: "свежая заметка"}

        # The next night the other replica may win; what is now older than a day goes then.
        tomorrow = now + timedelta(days=1, minutes=1)
        assert await run_retention(worker_of(second), tomorrow) == {
            "bookings": 1,
            "slots": 1,
            "mood_entries_aged": 1,
            "session_notes": 0,
        }
        assert await run_retention(worker_of(first), tomorrow) is None
    finally:
        await first.close()
        await second.close()
