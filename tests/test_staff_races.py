"""A booking racing the psychologist's slot removal or deactivation: the database decides, and no
booking is left on a removed slot or with an inactive psychologist. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.services import staff
from storage.models import Booking, PsychologistProfile, Slot, User
from storage.repo import booking as repo
from tests.test_booking_repo import BOOKINGS, NOW, make_psychologist, make_teachers, sessions  # noqa: F401


async def remove(session, profile_id: int, slot_id: int) -> object:
    return await repo.remove_slot(session, await session.get(PsychologistProfile, profile_id), slot_id)


async def deactivate(session, profile_id: int, slot_id: int) -> object:
    profile = await repo.profile_of(session, (await session.get(PsychologistProfile, profile_id)).user_id)
    return await staff.deactivate(session, profile, BOOKINGS, NOW)


async def prepare(maker) -> tuple[int, int, int]:
    async with maker.begin() as session:
        profile = await make_psychologist(session)
        slot = await repo.add_slot(session, profile, NOW + timedelta(days=1), 50, "video")
        (teacher,) = await make_teachers(session, 1)
    return profile.id, slot.id, teacher.id


async def live_bookings_left_wrong(maker, slot_id: int) -> list[Booking]:
    """Bookings holding a removed slot or a slot of an unpublished psychologist."""
    async with maker() as session:
        rows = await session.scalars(
            select(Booking)
            .join(Slot, Booking.slot_id == Slot.id)
            .join(PsychologistProfile, Slot.psychologist_id == PsychologistProfile.id)
            .where(Booking.slot_id == slot_id, Booking.holds.is_(True))
            .where(Slot.removed.is_(True) | PsychologistProfile.published.is_(False))
        )
        return list(rows)


async def holding(maker, slot_id: int) -> int:
    async with maker() as session:
        return len(
            (await session.scalars(select(Booking).where(Booking.slot_id == slot_id, Booking.holds))).all()
        )


@pytest.mark.parametrize("action", [remove, deactivate], ids=["slot removal", "deactivation"])
async def test_staff_acting_between_the_teachers_check_and_hold_wins(sessions, monkeypatch, action):  # noqa: F811
    profile_id, slot_id, teacher_id = await prepare(sessions)
    checked, staff_done = asyncio.Event(), asyncio.Event()
    real_hold = repo.hold

    async def hold_after_staff(*args, **kwargs):
        checked.set()  # the slot looked bookable to the teacher's transaction
        await staff_done.wait()
        return await real_hold(*args, **kwargs)

    monkeypatch.setattr(repo, "hold", hold_after_staff)

    async def teacher() -> str:
        async with sessions() as session:
            result = await BOOKINGS.book(session, await session.get(User, teacher_id), slot_id, None, NOW)
            await session.commit()
            return result.status

    async def psychologist() -> None:
        await checked.wait()
        async with sessions.begin() as session:
            assert await action(session, profile_id, slot_id)
        staff_done.set()

    status, _ = await asyncio.gather(teacher(), psychologist())
    assert status == "gone"
    assert await holding(sessions, slot_id) == 0


@pytest.mark.parametrize("action", [remove, deactivate], ids=["slot removal", "deactivation"])
async def test_a_booking_in_flight_when_staff_act_is_settled_by_the_database(sessions, monkeypatch, action):  # noqa: F811
    profile_id, slot_id, teacher_id = await prepare(sessions)
    held = asyncio.Event()
    real_hold = repo.hold

    async def hold_then_linger(*args, **kwargs):
        booking = await real_hold(*args, **kwargs)
        held.set()  # inserted, not committed: the staff's change starts now
        await asyncio.sleep(0.3)
        return booking

    monkeypatch.setattr(repo, "hold", hold_then_linger)

    async def teacher() -> str:
        async with sessions() as session:
            result = await BOOKINGS.book(session, await session.get(User, teacher_id), slot_id, None, NOW)
            await session.commit()
            return result.status

    async def psychologist() -> object:
        await held.wait()
        async with sessions.begin() as session:
            return await action(session, profile_id, slot_id)

    status, outcome = await asyncio.gather(teacher(), psychologist())
    assert status == "ok"
    if action is remove:
        assert outcome is False  # the slot is booked: it stays
        assert await holding(sessions, slot_id) == 1
    else:
        assert [b.slot_id for b in outcome.cancelled] == [slot_id]  # the booking made is cancelled
        assert await holding(sessions, slot_id) == 0
    assert await live_bookings_left_wrong(sessions, slot_id) == []
