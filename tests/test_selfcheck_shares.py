"""Self-check results shown to a booking's psychologist, on SQLite and PostgreSQL: each is recorded
once however many presses race, in the booking's own sealed list, which has one size in every
booking; a share that did not reach the psychologist can be sent again; a booking holds at most
SHARED_LIMIT results; a teacher's "delete my data" empties their lists."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import text

from storage.models import Booking, SelfCheckResult
from storage.models.booking import SHARED_LIMIT
from storage.repo import practice
from storage.repo import selfcheck as repo
from storage.repo.selfcheck import Shared
from tests.test_booking_repo import NOW, make_psychologist, make_teachers, sessions  # noqa: F401
from tests.test_practice import booked


async def setup(sessions, results: int) -> tuple[int, int, list[int]]:  # noqa: F811
    """Two bookings of one teacher with one psychologist (one untouched), and the teacher's results."""
    async with sessions.begin() as session:
        anna = await make_psychologist(session, 140)
        (teacher,) = await make_teachers(session, 1)
        first = await booked(session, anna, teacher, NOW + timedelta(days=1))
        other = await booked(session, anna, teacher, NOW + timedelta(days=2))
        rows = [
            SelfCheckResult(user_id=teacher.id, instrument="phq9", data={"answers": {}})
            for _ in range(results)
        ]
        session.add_all(rows)
        await session.flush()
        return first.id, other.id, [row.id for row in rows]


async def press(sessions, result_id: int, booking_id: int) -> Shared:  # noqa: F811
    async with sessions() as session:
        outcome = await repo.share(session, result_id, booking_id)
        await asyncio.sleep(0.05)  # hold the transaction open so the other presses overlap it
        await session.commit()
        return outcome


async def test_racing_presses_send_a_result_once_and_lose_no_other(sessions):  # noqa: F811
    booking_id, other_id, (first, second, third) = await setup(sessions, 3)
    same = await asyncio.gather(*(press(sessions, first, booking_id) for _ in range(3)))
    assert sorted(o.value for o in same) == ["already", "already", "sent"]
    assert await press(sessions, first, booking_id) is Shared.ALREADY, "and later presses too"
    # Two different results at once: both are kept, neither overwrites the other.
    both = await asyncio.gather(press(sessions, second, booking_id), press(sessions, third, booking_id))
    assert both == [Shared.SENT, Shared.SENT]
    async with sessions() as session:
        shared = await repo.shared_for(session, [booking_id, other_id])
        assert shared[booking_id][0] == first and sorted(shared[booking_id]) == [first, second, third]
        assert shared[other_id] == []
        assert await practice.shared_results(session, [booking_id, other_id]) == {booking_id: ["phq9"] * 3}
        lengths = set((await session.execute(text("SELECT length(shared) FROM bookings"))).scalars())
        assert len(lengths) == 1 and None not in lengths, "a booking with shares looks like one without"


async def test_a_share_undone_can_be_sent_again_and_a_booking_holds_a_limit(sessions):  # noqa: F811
    booking_id, other_id, results = await setup(sessions, SHARED_LIMIT + 1)
    async with sessions.begin() as session:
        assert await repo.share(session, results[0], booking_id) is Shared.SENT
        await repo.unshare(session, results[0], booking_id)  # the message did not go out
        assert await repo.shared_for(session, [booking_id]) == {booking_id: []}
        for result_id in results[:SHARED_LIMIT]:
            assert await repo.share(session, result_id, booking_id) is Shared.SENT
        assert await repo.share(session, results[-1], booking_id) is Shared.FULL
        assert await repo.share(session, results[0], booking_id) is Shared.ALREADY
    async with sessions.begin() as session:
        lengths = set((await session.execute(text("SELECT length(shared) FROM bookings"))).scalars())
        assert len(lengths) == 1, "a full list still fits the padded size"
        teacher = (await session.get(Booking, booking_id)).teacher
        await practice.erase_teacher(session, teacher)  # "delete my data"
    async with sessions() as session:
        assert await repo.shared_for(session, [booking_id, other_id]) == {booking_id: [], other_id: []}
