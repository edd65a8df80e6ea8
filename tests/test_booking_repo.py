"""Booking rules and races, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bot.config import BookingConfig
from bot.events import BookingChanged, Events
from bot.services.bookings import Bookings
from storage import db
from storage.models import Booking, PsychologistProfile, Slot, User
from storage.repo import booking as repo
from storage.repo import users

ALMATY = ZoneInfo("Asia/Almaty")
RULES = BookingConfig()
EVENTS = Events()
BOOKINGS = Bookings(RULES, EVENTS)
NOW = datetime(2030, 3, 4, 4, 0, tzinfo=UTC)  # Monday 09:00 in Almaty


@pytest.fixture
async def sessions(database_url):
    engine = db.create_engine(database_url)
    await db.upgrade(engine)
    yield db.session_factory(engine)
    await engine.dispose()


async def make_psychologist(session, telegram_id=100, **fields) -> PsychologistProfile:
    user = await users.create(session, telegram_id, "ru")
    user.role, user.consent_at = "psychologist", NOW
    profile = await repo.ensure_profile(session, user)
    values = {
        "display_name": "Анна",
        "languages": "ru,kk",
        "formats": "video,chat,office",
        "regions": "KZ-75",
        "address": "Өрлеу, каб. 12",
        "published": True,
    } | fields
    for key, value in values.items():
        setattr(profile, key, value)
    return profile


async def make_teachers(session, count, first_id=1000) -> list[User]:
    return [await users.create(session, first_id + n, "kk") for n in range(count)]


async def test_two_teachers_press_the_same_slot_exactly_one_wins(sessions):
    async with sessions.begin() as session:
        profile = await make_psychologist(session)
        slot = await repo.add_slot(session, profile, NOW + timedelta(days=1), 50, "video")
        teachers = await make_teachers(session, 2)
    slot_id, teacher_ids = slot.id, [t.id for t in teachers]

    async def press(teacher_id: int) -> str:
        async with sessions() as session:
            teacher = await session.get(User, teacher_id)
            result = await BOOKINGS.book(session, teacher, slot_id, "note", NOW)
            await asyncio.sleep(0.05)  # hold the transaction open so the other press overlaps it
            await session.commit()
            return result.status

    for _round in range(3):
        statuses = await asyncio.gather(*(press(t) for t in teacher_ids))
        assert sorted(statuses) == ["ok", "taken"]
        async with sessions.begin() as session:
            holding = (
                await session.scalars(select(Booking).where(Booking.slot_id == slot_id, Booking.holds))
            ).all()
            assert len(holding) == 1
            await BOOKINGS.cancel(session, holding[0], "teacher", NOW)


async def test_the_database_itself_refuses_a_second_live_booking(sessions):
    async with sessions.begin() as session:
        profile = await make_psychologist(session)
        slot = await repo.add_slot(session, profile, NOW + timedelta(days=1), 50, "video")
        a, b = await make_teachers(session, 2)
        session.add(Booking(slot_id=slot.id, teacher_id=a.id, state="cancelled", holds=False))
        session.add(Booking(slot_id=slot.id, teacher_id=a.id, state="booked", holds=True))
    with pytest.raises(IntegrityError):
        async with sessions.begin() as session:
            session.add(Booking(slot_id=slot.id, teacher_id=b.id, state="booked", holds=True))


async def test_rules_notice_horizon_limit_and_late_cancel(sessions):
    async with sessions.begin() as session:
        profile = await make_psychologist(session)
        soon = await repo.add_slot(session, profile, NOW + timedelta(hours=1), 50, "video")
        far = await repo.add_slot(session, profile, NOW + timedelta(days=31), 50, "video")
        ok = [await repo.add_slot(session, profile, NOW + timedelta(days=d), 50, "video") for d in (1, 2, 3)]
        (teacher,) = await make_teachers(session, 1)
        assert (await BOOKINGS.book(session, teacher, soon.id, None, NOW)).status == "gone"
        assert (await BOOKINGS.book(session, teacher, far.id, None, NOW)).status == "gone"
        first = await BOOKINGS.book(session, teacher, ok[0].id, None, NOW)
        assert first.ok and first.booking.state == "booked"
        assert (await BOOKINGS.book(session, teacher, ok[1].id, None, NOW)).ok
        assert (await BOOKINGS.book(session, teacher, ok[2].id, None, NOW)).status == "limit"
        # 23 hours before: in time. 1 hour before: allowed, marked late.
        assert await BOOKINGS.cancel(session, first.booking, "teacher", NOW)
        assert not first.booking.late_cancel
        late_now = ok[1].starts_at - timedelta(hours=1)
        second = (await repo.upcoming_for_teacher(session, teacher.id, NOW))[0]
        assert await BOOKINGS.cancel(session, second, "teacher", late_now)
        assert second.late_cancel and not second.holds
        assert not await BOOKINGS.cancel(session, second, "teacher", late_now), (
            "a cancelled booking stays cancelled"
        )
        free = await BOOKINGS.free_slots(session, repo.Filters("video"), NOW)
        assert [s.id for s in free] == [s.id for s in ok], "too-soon and beyond-horizon slots are not offered"


async def test_reschedule_keeps_the_old_place_until_the_new_one_is_taken(sessions):
    async with sessions.begin() as session:
        profile = await make_psychologist(session)
        a, b, c = [
            await repo.add_slot(session, profile, NOW + timedelta(days=d), 50, "video") for d in (1, 2, 3)
        ]
        t1, t2 = await make_teachers(session, 2)
        mine = (await BOOKINGS.book(session, t1, a.id, "секрет", NOW)).booking
        await BOOKINGS.book(session, t2, b.id, None, NOW)
        events = []

        async def hook(changed: BookingChanged) -> None:
            events.append((changed.booking.id, changed.change))

        bookings = Bookings(RULES, Events())
        bookings.events.subscribe(BookingChanged, hook)
        taken = await bookings.reschedule(session, mine, b.id, NOW)
        assert taken.status == "taken" and mine.state == "booked" and mine.holds
        moved = await bookings.reschedule(session, mine, c.id, NOW)
        assert moved.ok and moved.booking.slot_id == c.id and moved.booking.note == "секрет"
        assert moved.booking.previous_id == mine.id and mine.state == "moved" and not mine.holds
        assert events == [(moved.booking.id, "rescheduled")]
        free = await BOOKINGS.free_slots(session, repo.Filters("video"), NOW)
        assert [s.id for s in free] == [a.id], "the old place is free again"


async def test_filters_days_and_time_zone(sessions):
    async with sessions.begin() as session:
        kk_only = await make_psychologist(session, 100, languages="kk", formats="office", regions="KZ-61")
        ru_only = await make_psychologist(
            session, 101, languages="ru", formats="office,video", regions="KZ-75"
        )
        # 20:30 UTC on Tuesday is 01:30 on Wednesday in Almaty: the day shown must be Wednesday.
        late = datetime(2030, 3, 5, 20, 30, tzinfo=UTC)
        await repo.add_slot(session, kk_only, late, 50, "office")
        await repo.add_slot(session, ru_only, late, 50, "office")
        unpublished = await make_psychologist(session, 102, published=False)
        await repo.add_slot(session, unpublished, late, 50, "office")
        days = await BOOKINGS.free_days(session, repo.Filters("office"), NOW, ALMATY)
        assert [d.isoformat() for d in days] == ["2030-03-06"]
        kk = await BOOKINGS.free_slots(session, repo.Filters("office", "kk"), NOW)
        assert [s.psychologist_id for s in kk] == [kk_only.id]
        astana = await BOOKINGS.free_slots(session, repo.Filters("office", "", "KZ-75"), NOW)
        assert [s.psychologist_id for s in astana] == [ru_only.id]
        assert await BOOKINGS.free_slots(session, repo.Filters("video", "kk"), NOW) == []


async def test_slots_do_not_overlap_and_templates_fill_weeks(sessions):
    async with sessions.begin() as session:
        profile = await make_psychologist(session)
        starts = repo.template_times(1, time(15), time(18), 50, 10, 4, ALMATY, NOW)  # Tuesdays 15-18
        assert len(starts) == 12
        assert {s.astimezone(ALMATY).strftime("%a %H:%M") for s in starts} == {
            "Tue 15:00",
            "Tue 16:00",
            "Tue 17:00",
        }
        assert await repo.add_template(session, profile, starts, 50, "video") == (12, 0)
        assert await repo.add_template(session, profile, starts, 50, "video") == (0, 12)
        assert await repo.add_slot(session, profile, starts[0] + timedelta(minutes=30), 50, "video") is None
        assert await repo.remove_slot(
            session,
            profile,
            (await repo.schedule(session, profile, NOW, starts[0] + timedelta(hours=1)))[0][0].id,
        )
        revived = await repo.add_slot(session, profile, starts[0], 50, "chat")
        assert revived is not None and revived.format == "chat" and not revived.removed
        (teacher,) = await make_teachers(session, 1)
        await BOOKINGS.book(session, teacher, revived.id, None, NOW)
        assert not await repo.remove_slot(session, profile, revived.id), "a booked slot cannot be removed"
        view = await repo.schedule(session, profile, NOW, NOW + timedelta(days=7))
        assert next((s.id, b is not None) for s, b in view) == (revived.id, True)


async def test_marks_rating_and_reminder_queries(sessions):
    async with sessions.begin() as session:
        profile = await make_psychologist(session)
        slot = await repo.add_slot(session, profile, NOW + timedelta(days=1), 50, "video")
        (teacher,) = await make_teachers(session, 1)
        booking = (await BOOKINGS.book(session, teacher, slot.id, None, NOW)).booking
        assert [b.id for b in await repo.upcoming_bookings(session, NOW, NOW + timedelta(days=2))] == [
            booking.id
        ]
        assert await BOOKINGS.mark(session, booking, "confirmed", NOW)
        assert not await BOOKINGS.mark(session, booking, "attended", NOW), "not before it starts"
        after = slot.starts_at + timedelta(hours=1)
        assert await BOOKINGS.mark(session, booking, "attended", after)
        assert await repo.rate(session, booking, 5, "спасибо")
        assert not await repo.rate(session, booking, 9)
        assert await repo.rating_summary(session) == (1, 5.0)
        assert await repo.upcoming_bookings(session, NOW, NOW + timedelta(days=2)) == []


async def test_deleting_a_teacher_cancels_and_removes_their_bookings(sessions):
    async with sessions.begin() as session:
        profile = await make_psychologist(session)
        slot = await repo.add_slot(session, profile, NOW + timedelta(days=1), 50, "video")
        (teacher,) = await make_teachers(session, 1)
        await BOOKINGS.book(session, teacher, slot.id, "секрет", NOW)
        cancelled = await BOOKINGS.cancel_all_for_teacher(session, teacher, NOW)
        assert len(cancelled) == 1 and cancelled[0].state == "cancelled"
        await users.delete_user(session, teacher, [])
        assert await session.scalar(select(func.count(Booking.id))) == 0
        assert await session.scalar(select(func.count(Slot.id))) == 1


async def test_a_teachers_own_upcoming_bookings_and_moving_them(sessions):
    async with sessions.begin() as session:
        profile = await make_psychologist(session)
        a, b, c = [
            await repo.add_slot(session, profile, NOW + timedelta(days=d), 50, "video") for d in (1, 2, 3)
        ]
        mine, other = await make_teachers(session, 2)
        first = (await BOOKINGS.book(session, mine, a.id, None, NOW)).booking
        assert not await BOOKINGS.at_limit(session, mine, NOW)
        second = (await BOOKINGS.book(session, mine, b.id, None, NOW)).booking
        assert await BOOKINGS.at_limit(session, mine, NOW), "two upcoming bookings is the default limit"
        assert await BOOKINGS.own_upcoming(session, mine, first.id, NOW) is first
        assert await BOOKINGS.own_upcoming(session, other, first.id, NOW) is None, "not theirs"
        started = a.starts_at + timedelta(minutes=1)
        assert await BOOKINGS.own_upcoming(session, mine, first.id, started) is None, "it has begun"
        assert await BOOKINGS.upcoming(session, mine, started) == [second]
        assert (await BOOKINGS.move(session, other, first.id, c.id, NOW)).status == "stale"
        moved = await BOOKINGS.move(session, mine, first.id, c.id, NOW)
        assert moved.ok and moved.booking.slot_id == c.id and moved.previous is a
        assert await BOOKINGS.at_limit(session, mine, NOW), "a move keeps the count"
        after_b = b.starts_at + timedelta(minutes=1)
        assert not await BOOKINGS.at_limit(session, mine, after_b), "the limit counts only bookings ahead"
