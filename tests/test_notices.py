"""Notices are written in the change's own transaction, one per kind and booking, to the right
person, with sealed params naming the booking only. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.events import BookingChanged, Events
from bot.services import staff
from bot.services.bookings import Bookings
from bot.workers import notices
from storage.models import PsychologistProfile, Reminder, User
from storage.repo import booking as repo
from tests.conftest import stored_bytes
from tests.test_booking_repo import NOW, RULES, make_psychologist, make_teachers, sessions  # noqa: F401


async def written(maker) -> dict[str, tuple[str, int | None, dict]]:
    async with maker() as session:
        rows = await session.scalars(select(Reminder).where(Reminder.kind.in_(notices.KINDS)))
        return {r.key: (r.kind.removeprefix(notices.PREFIX), r.user_id, r.params) for r in rows}


async def test_each_change_writes_its_notices_in_its_transaction(sessions, database_url):  # noqa: F811
    events = Events()
    events.subscribe(BookingChanged, notices.follow)
    bookings = Bookings(RULES, events)
    async with sessions.begin() as session:
        profile = await make_psychologist(session)
        slots = [
            await repo.add_slot(session, profile, NOW + timedelta(days=1, hours=n), 50, "video")
            for n in range(4)
        ]
        (teacher,) = await make_teachers(session, 1)
    psychologist, teacher_id, profile_id = profile.user_id, teacher.id, profile.id

    async with sessions() as session:  # a booking that does not commit tells nobody
        assert (await bookings.book(session, await session.get(User, teacher_id), slots[0].id, "", NOW)).ok
        await session.rollback()
    assert await written(sessions) == {}

    async with sessions.begin() as session:
        me = await session.get(User, teacher_id)
        first = (await bookings.book(session, me, slots[0].id, "устала", NOW)).booking
        moved = (await bookings.move(session, me, first.id, slots[1].id, NOW)).booking
        assert await bookings.mark(session, moved, "confirmed", NOW)
        assert await bookings.cancel(session, moved, "psychologist", NOW, "болею")
        third = (await bookings.book(session, me, slots[2].id, None, NOW)).booking
        assert await bookings.cancel(session, third, "teacher", NOW)
        fourth = (await bookings.book(session, me, slots[3].id, None, NOW)).booking
    async with sessions.begin() as session:
        retired = await repo.profile_of(session, (await session.get(PsychologistProfile, profile_id)).user_id)
        assert (await staff.deactivate(session, retired, bookings, NOW)).cancelled

    expected = {
        (first.id, "booked", psychologist),
        (first.id, "ics", teacher_id),
        (moved.id, "rescheduled", psychologist),
        (moved.id, "ics", teacher_id),
        (moved.id, "confirmed", teacher_id),
        (moved.id, "cancelled_by_psy", teacher_id),
        (moved.id, "ics_cancel", teacher_id),
        (third.id, "booked", psychologist),
        (third.id, "ics", teacher_id),
        (third.id, "cancelled", psychologist),
        (third.id, "ics_cancel", teacher_id),
        (fourth.id, "booked", psychologist),
        (fourth.id, "ics", teacher_id),
        (fourth.id, "psy_off", teacher_id),
        (fourth.id, "ics_cancel", teacher_id),
    }
    found = await written(sessions)
    assert {(params["booking"], kind, user_id) for kind, user_id, params in found.values()} == expected
    assert set(found) == {notices.key(kind, booking) for booking, kind, _user in expected}
    stored = await stored_bytes(database_url)
    assert "устала".encode() not in stored and "болею".encode() not in stored
    assert b'"booking"' not in stored, "params are sealed"
