"""A psychologist's practice: notes, intakes (a booking's sealed column), continuity consents (in the
teacher's sealed preferences), caseload and duty coverage queries.

Every note query filters by its author: there is no statement here that reads a note for anyone
else, and none that lists notes in bulk beyond one author's own (there is no export)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, delete, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import changed
from storage.models import (
    Booking,
    DutyHours,
    GroupSession,
    PsychologistProfile,
    SelfCheckResult,
    Slot,
    User,
)
from storage.models.booking import UPCOMING_STATES
from storage.models.practice import SessionNote
from storage.repo import selfcheck

# ── notes ────────────────────────────────────────────────────────────────────


async def booking_note(session: AsyncSession, author_id: int, booking_id: int) -> SessionNote | None:
    return await session.scalar(
        select(SessionNote).where(SessionNote.booking_id == booking_id, SessionNote.author_id == author_id)
    )


async def group_note(session: AsyncSession, author_id: int, group_id: int) -> SessionNote | None:
    return await session.scalar(
        select(SessionNote).where(SessionNote.group_id == group_id, SessionNote.author_id == author_id)
    )


async def save_note(
    session: AsyncSession,
    author_id: int,
    body: dict[str, Any],
    *,
    booking_id: int | None = None,
    group_id: int | None = None,
) -> SessionNote:
    """Create or replace the author's note on a booking or a group session."""
    note = (
        await booking_note(session, author_id, booking_id)
        if booking_id is not None
        else await group_note(session, author_id, group_id or 0)
    )
    if note is None:
        note = SessionNote(author_id=author_id, booking_id=booking_id, group_id=group_id, body=body)
        session.add(note)
    else:
        note.body = body
    await session.flush()
    return note


async def booking_notes(
    session: AsyncSession, author_id: int, booking_ids: Sequence[int]
) -> dict[int, dict[str, Any]]:
    """The author's own notes on these bookings, by booking id."""
    if not booking_ids:
        return {}
    rows = await session.scalars(
        select(SessionNote).where(SessionNote.author_id == author_id, SessionNote.booking_id.in_(booking_ids))
    )
    return {row.booking_id: row.body for row in rows if row.booking_id is not None}


# ── intakes ──────────────────────────────────────────────────────────────────


# An intake is its booking's sealed `intake` (None: none given), so every booking looks the same.


async def save_intake(session: AsyncSession, booking_id: int, answers: dict[str, Any]) -> None:
    booking = await session.get(Booking, booking_id)
    if booking is not None:
        booking.intake = answers
        await session.flush()


async def intakes(session: AsyncSession, booking_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    if not booking_ids:
        return {}
    rows = await session.execute(select(Booking.id, Booking.intake).where(Booking.id.in_(booking_ids)))
    return {booking_id: answers for booking_id, answers in rows if answers is not None}


# ── continuity ───────────────────────────────────────────────────────────────
# The teacher's consents are in their sealed preferences (User.allows_carry), never a row of their own,
# each under the psychologist's pseudonym (their profile, with its user, is loaded with it).


async def allows(session: AsyncSession, teacher_id: int, profile: PsychologistProfile) -> bool:
    teacher = await session.get(User, teacher_id)
    return teacher is not None and teacher.allows_carry(profile.user.pseudonym)


async def set_allowed(
    session: AsyncSession, teacher_id: int, profile: PsychologistProfile, allowed: bool
) -> None:
    teacher = await session.get(User, teacher_id)
    if teacher is not None:
        teacher.set_carry(profile.user.pseudonym, allowed)
        await session.flush()


async def psychologists_of(session: AsyncSession, teacher_id: int) -> list[PsychologistProfile]:
    """The psychologists this teacher has (or had) a consultation with, in the order first met."""
    rows = await session.execute(
        select(PsychologistProfile, Slot.starts_at)
        .join(Slot, Slot.psychologist_id == PsychologistProfile.id)
        .join(Booking, Booking.slot_id == Slot.id)
        .where(Booking.teacher_id == teacher_id, Booking.holds.is_(True))
        .order_by(Slot.starts_at)
    )
    return list({profile.id: profile for profile, _start in rows}.values())


def _earlier(teacher_id: Any, psychologist_id: Any, starts_at: Any) -> ColumnElement[bool]:
    """The teacher's sessions with the psychologist before `starts_at` (held ones: not cancelled or moved)."""
    return and_(
        Booking.teacher_id == teacher_id,
        Slot.psychologist_id == psychologist_id,
        Booking.holds.is_(True),
        Slot.starts_at < starts_at,
    )


async def earlier_sessions(session: AsyncSession, booking: Booking) -> list[Booking]:
    """The teacher's sessions with this booking's psychologist before it, earliest first."""
    rows = await session.scalars(
        select(Booking)
        .join(Slot, Slot.id == Booking.slot_id)
        .where(_earlier(booking.teacher_id, booking.slot.psychologist_id, booking.slot.starts_at))
        .order_by(Slot.starts_at)
    )
    return list(rows)


@functools.cache
def _any_earlier() -> Select[tuple[bool]]:
    """Built once: whether there is an earlier session (no booking loaded, nothing decrypted)."""
    earlier = _earlier(bindparam("teacher_id"), bindparam("psychologist_id"), bindparam("starts_at"))
    return select(exists().where(Booking.slot_id == Slot.id, earlier))


async def shared_results(session: AsyncSession, booking_ids: Sequence[int]) -> dict[int, list[str]]:
    """The self-check results (their instruments, oldest first) the teacher chose to share for these bookings."""
    shared = await selfcheck.shared_for(session, booking_ids)
    wanted = {result_id for ids in shared.values() for result_id in ids}
    if not wanted:
        return {}
    rows = await session.execute(
        select(SelfCheckResult.id, SelfCheckResult.instrument)
        .where(SelfCheckResult.id.in_(wanted))
        .order_by(SelfCheckResult.created_at, SelfCheckResult.id)
    )
    instruments = dict(rows.all())  # in the results' order: a dict keeps it
    return {
        booking_id: [instrument for result_id, instrument in instruments.items() if result_id in ids]
        for booking_id, ids in shared.items()
        if any(result_id in instruments for result_id in ids)
    }


async def first_with(session: AsyncSession, booking: Booking) -> bool:
    """True if this booking is the teacher's first session with its psychologist."""
    slot = booking.slot
    params = {
        "teacher_id": booking.teacher_id,
        "psychologist_id": slot.psychologist_id,
        "starts_at": slot.starts_at,
    }
    return not await session.scalar(_any_earlier(), params)


# ── caseload ─────────────────────────────────────────────────────────────────


async def bookings_between(
    session: AsyncSession, profile_id: int, start: datetime, end: datetime
) -> list[Booking]:
    return await _bookings_of(
        session, profile_id, Booking.holds.is_(True), Slot.starts_at >= start, Slot.starts_at < end
    )


async def waiting_for_mark(
    session: AsyncSession, profile_id: int, now: datetime, since: datetime
) -> list[Booking]:
    """Sessions that have begun but are still booked or confirmed: attended or no-show is to be said."""
    return await _bookings_of(
        session,
        profile_id,
        Booking.state.in_(UPCOMING_STATES),
        Slot.starts_at <= now,
        Slot.starts_at >= since,
    )


async def _bookings_of(session: AsyncSession, profile_id: int, *where: ColumnElement[bool]) -> list[Booking]:
    """The psychologist's bookings meeting `where`, earliest first."""
    rows = await session.scalars(
        select(Booking)
        .join(Slot, Slot.id == Booking.slot_id)
        .where(Slot.psychologist_id == profile_id, *where)
        .order_by(Slot.starts_at)
    )
    return list(rows)


async def groups_between(
    session: AsyncSession, user_id: int, start: datetime, end: datetime
) -> list[GroupSession]:
    rows = await session.scalars(
        select(GroupSession)
        .where(GroupSession.facilitator_id == user_id, GroupSession.status == "open")
        .where(GroupSession.starts_at >= start, GroupSession.starts_at < end)
        .order_by(GroupSession.starts_at)
    )
    return list(rows)


async def facilitated(session: AsyncSession, user_id: int, group_id: int) -> GroupSession | None:
    return await session.scalar(
        select(GroupSession).where(GroupSession.id == group_id, GroupSession.facilitator_id == user_id)
    )


# ── duty coverage ────────────────────────────────────────────────────────────


async def region_duty_hours(session: AsyncSession, region: str | None) -> list[DutyHours]:
    """The weekly duty windows of the active psychologists who serve `region` (or every region)."""
    query = (
        select(DutyHours)
        .join(PsychologistProfile, PsychologistProfile.id == DutyHours.profile_id)
        .join(User, User.id == PsychologistProfile.user_id)
        .where(User.role == "psychologist", User.active.is_(True))
    )
    if region:
        query = query.where(or_(User.region == region, User.region.is_(None)))
    return list(await session.scalars(query))


async def moved(session: AsyncSession, old_booking_id: int, new_booking_id: int) -> None:
    """A rescheduled consultation keeps its intake and its psychologist's note (the same one, later)."""
    old, new = await session.get(Booking, old_booking_id), await session.get(Booking, new_booking_id)
    if old is not None and new is not None:
        new.intake, old.intake = old.intake, None
    await session.execute(
        update(SessionNote)
        .where(SessionNote.booking_id == old_booking_id)
        .values(booking_id=new_booking_id)
        .execution_options(synchronize_session=False)
    )


# ── deletion ─────────────────────────────────────────────────────────────────


async def erase_teacher(session: AsyncSession, user: User) -> None:
    """A teacher's "delete my data": the notes on their consultations, their intakes, the results
    they shared, their consents."""
    theirs = select(Booking.id).where(Booking.teacher_id == user.id)
    options = {"synchronize_session": False}
    await session.execute(
        delete(SessionNote).where(SessionNote.booking_id.in_(theirs)).execution_options(**options)
    )
    # Every one of their bookings, intake or shared results or not: which ones had them is not visible in SQL.
    await session.execute(
        update(Booking)
        .where(Booking.teacher_id == user.id)
        .values(intake=None, shared=[])
        .execution_options(**options)
    )
    user.forget_carry()


async def purge_before(session: AsyncSession, cutoff: datetime) -> dict[str, int]:
    """Notes of consultations and group sessions that took place before `cutoff` (an intake goes with
    its booking, storage.repo.retention)."""
    old_bookings = select(Booking.id).join(Slot, Slot.id == Booking.slot_id).where(Slot.starts_at < cutoff)
    old_groups = select(GroupSession.id).where(GroupSession.starts_at < cutoff)
    options = {"synchronize_session": False}
    notes = await changed(
        session,
        delete(SessionNote)
        .where(or_(SessionNote.booking_id.in_(old_bookings), SessionNote.group_id.in_(old_groups)))
        .execution_options(**options),
    )
    return {"session_notes": notes}
