"""Staff administration: psychologists as coordinators see them, their load, deactivation.

A deactivated psychologist keeps the profile, the slots and the history, but the user's role
becomes DEACTIVATED: the psychologist gates refuse them, questions and group sessions
(which look for role "psychologist") pass them by, and the profile is unpublished so their
free slots are hidden from teachers. What they held goes: bookings ahead are cancelled,
questions taken but not answered go back to the queue, their chats end. No schema change:
the role column already says it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import lock_rows
from storage.models import Booking, PsychologistProfile, Slot, User
from storage.models.booking import ATTENDED, UPCOMING_STATES
from storage.repo import booking as bookings

ACTIVE, DEACTIVATED = "psychologist", "psychologist_off"
LOAD_DAYS = 30  # "load": booked ahead and held in the last month


def is_active(profile: PsychologistProfile) -> bool:
    return profile.user.role == ACTIVE


def deactivated(user: User) -> bool:
    """A psychologist a coordinator deactivated: no access to anything a psychologist sees."""
    return user.role == DEACTIVATED


def serves(profile: PsychologistProfile, region: str | None) -> bool:
    """In a coordinator's region: receives there, or registered there."""
    return region is None or region in profile.region_list or profile.user.region == region


async def psychologists(session: AsyncSession, region: str | None) -> list[PsychologistProfile]:
    rows = await session.scalars(
        select(PsychologistProfile)
        .join(User, User.id == PsychologistProfile.user_id)
        .where(User.role.in_((ACTIVE, DEACTIVATED)))
        .order_by(PsychologistProfile.id)
    )
    return [profile for profile in rows.unique() if serves(profile, region)]


async def psychologist(
    session: AsyncSession, profile_id: int, region: str | None
) -> PsychologistProfile | None:
    profile = await session.get(PsychologistProfile, profile_id)
    if profile is None or profile.user.role not in (ACTIVE, DEACTIVATED) or not serves(profile, region):
        return None
    return profile


@dataclass(frozen=True)
class Load:
    upcoming: int = 0  # booked or confirmed consultations ahead
    free: int = 0  # free slots ahead
    held: int = 0  # attended in the last LOAD_DAYS days


async def loads(session: AsyncSession, profile_ids: list[int], now: datetime) -> dict[int, Load]:
    if not profile_ids:
        return {}
    ahead = and_(Slot.psychologist_id.in_(profile_ids), Slot.starts_at > now, Slot.removed.is_(False))
    upcoming = dict(
        (
            await session.execute(
                select(Slot.psychologist_id, func.count())
                .join(Booking, and_(Booking.slot_id == Slot.id, Booking.state.in_(UPCOMING_STATES)))
                .where(ahead)
                .group_by(Slot.psychologist_id)
            )
        ).all()
    )
    slots = dict(
        (
            await session.execute(
                select(Slot.psychologist_id, func.count())
                .where(ahead, ~exists().where(Booking.slot_id == Slot.id, Booking.holds.is_(True)))
                .group_by(Slot.psychologist_id)
            )
        ).all()
    )
    held = dict(
        (
            await session.execute(
                select(Slot.psychologist_id, func.count())
                .join(Booking, and_(Booking.slot_id == Slot.id, Booking.state == ATTENDED))
                .where(
                    Slot.psychologist_id.in_(profile_ids),
                    Slot.starts_at > now - timedelta(days=LOAD_DAYS),
                    Slot.starts_at <= now,
                )
                .group_by(Slot.psychologist_id)
            )
        ).all()
    )
    return {pid: Load(upcoming.get(pid, 0), slots.get(pid, 0), held.get(pid, 0)) for pid in profile_ids}


async def future_bookings(
    session: AsyncSession, profile: PsychologistProfile, now: datetime
) -> list[Booking]:
    rows = await session.scalars(
        select(Booking)
        .join(Slot, Slot.id == Booking.slot_id)
        .where(Slot.psychologist_id == profile.id, Booking.state.in_(UPCOMING_STATES), Slot.starts_at > now)
        .order_by(Slot.starts_at)
    )
    return list(rows.unique())


async def retire(session: AsyncSession, profile: PsychologistProfile) -> bool:
    """Unpublished and the role taken away (no new booking can take a slot); False if already inactive."""
    # Exclusively, against `booking.hold`'s shared lock: a booking in flight commits first and is
    # then among the future bookings the caller cancels; one after this finds the profile unpublished.
    await lock_rows(
        session, select(PsychologistProfile.id).where(PsychologistProfile.id == profile.id).with_for_update()
    )
    if not is_active(profile):
        return False
    profile.user.role, profile.published = DEACTIVATED, False
    await session.flush()
    return True


async def reactivate(session: AsyncSession, profile: PsychologistProfile) -> bool:
    if is_active(profile):
        return False
    profile.user.role = ACTIVE
    profile.published = bookings.profile_ready(profile)
    await session.flush()
    return True
