"""The per-teacher limits over any 24 hours, on SQLite and PostgreSQL, and the throttle's memory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import bot.telegram.throttle
from bot.config import BookingConfig, LimitsConfig
from bot.events import Events
from bot.services import limits
from bot.services.bookings import Bookings
from bot.telegram.throttle import ThrottleMiddleware
from storage import db
from storage.repo import booking as booking_repo
from storage.repo import chat
from storage.repo import limits as limits_repo
from tests.test_booking_repo import make_psychologist, make_teachers

NOW = datetime(2030, 3, 4, 4, 0, tzinfo=UTC)
RULES = LimitsConfig(questions_per_day=2, bookings_per_day=2, cancellations_per_day=1)


@pytest.fixture
async def sessions(database_url):
    engine = db.create_engine(database_url)
    await db.upgrade(engine)
    yield db.session_factory(engine)
    await engine.dispose()


async def test_questions_count_over_a_rolling_day_and_a_crisis_always_goes(sessions):
    async with sessions.begin() as session:
        teacher, other = await make_teachers(session, 2)
        old = await chat.ask(session, teacher, 1, urgent=False)
        old.created_at = NOW - timedelta(hours=25)  # yesterday's question no longer counts
        for message_id in (2, 3):
            question = await chat.ask(session, teacher, message_id, urgent=False)
            question.created_at = NOW - timedelta(hours=1)
        await session.flush()
        assert not await limits.question_allowed(session, teacher, False, RULES, NOW)
        assert await limits.question_allowed(session, teacher, True, RULES, NOW), "never the safety net"
        assert await limits.question_allowed(session, other, False, RULES, NOW), "per teacher"
        assert await limits.question_allowed(
            session, teacher, False, RULES, NOW + timedelta(hours=23, minutes=1)
        )


async def test_bookings_and_teacher_cancellations_count_over_a_rolling_day(sessions):
    bookings = Bookings(BookingConfig(max_active=5), Events())
    async with sessions.begin() as session:
        profile = await make_psychologist(session)
        (teacher,) = await make_teachers(session, 1)
        slots = [
            await booking_repo.add_slot(session, profile, NOW + timedelta(days=1, hours=n), 50, "video")
            for n in range(3)
        ]
        now = datetime.now(UTC)  # rows are stamped with the real time
        first = (await bookings.book(session, teacher, slots[0].id, None, NOW)).booking
        assert await limits.booking_allowed(session, teacher, RULES, now)
        second = (await bookings.book(session, teacher, slots[1].id, None, NOW)).booking
        assert not await limits.booking_allowed(session, teacher, RULES, now)
        assert await limits.booking_allowed(session, teacher, RULES, now + timedelta(hours=25))

        await bookings.cancel(session, second, "psychologist", NOW)
        assert await limits.cancellation_allowed(session, teacher, RULES, now), "only the teacher's own count"
        await bookings.cancel(session, first, "teacher", NOW)
        await session.flush()
        assert not await limits.cancellation_allowed(session, teacher, RULES, now)
        assert await limits.cancellation_allowed(session, teacher, RULES, now + timedelta(hours=25))


def test_the_throttle_forgets_everyone_when_the_second_ends(monkeypatch):
    now = [5.0]
    monkeypatch.setattr(bot.telegram.throttle, "monotonic", lambda: now[0])
    throttle = ThrottleMiddleware(per_second=3)
    assert [throttle.count(1) for _ in range(4)] == [1, 2, 3, 4]
    for user in range(2, 10_002):
        throttle.count(user)
    assert len(throttle.counts) == 10_001
    now[0] = 6.2
    assert throttle.count(1) == 1
    assert len(throttle.counts) == 1, "only this second's writers are kept"


async def test_a_mute_holds_notices_for_its_period_and_only_the_regions_coordinator_lifts_it(sessions):
    rules = LimitsConfig()
    async with sessions.begin() as session:
        teacher, psychologist, far = await make_teachers(session, 3)
        teacher.region, psychologist.region, far.region = "KZ-61", "KZ-61", "KZ-75"
        psychologist.role = far.role = "psychologist"
        psychologist.consent_at = far.consent_at = NOW  # KZ-61 is served: its questions are its own
        question = await chat.ask(session, teacher, 1, urgent=False)
        assert not await limits.mute(session, question.id, far, 24, rules, NOW), "another region's question"
        assert not await limits.mute(session, question.id, psychologist, 5, rules, NOW), (
            "only the set periods"
        )
        assert await limits.mute(session, question.id, psychologist, 24, rules, NOW)
        assert not await limits.announced(session, teacher, False, NOW)
        assert await limits.announced(session, teacher, True, NOW), "never the safety net"
        assert await limits.announced(session, teacher, False, NOW + timedelta(hours=24))

        ((row, muted),) = await limits_repo.active_mutes(session, "KZ-61", NOW)
        assert muted.id == teacher.id
        assert await limits_repo.active_mutes(session, "KZ-75", NOW) == []
        assert not await limits_repo.lift(session, row.id, "KZ-75"), "another region's coordinator"
        assert await limits_repo.lift(session, row.id, "KZ-61")
        assert await limits.announced(session, teacher, False, NOW)
