"""Deactivating a psychologist: what they held is released, for the people concerned to be told.

The profile, slots and history stay; the role changes (storage/repo/staff.py), so the psychologist
gates refuse them and questions and groups pass them by.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.bookings import Bookings
from storage.models import AnonQuestion, Booking, ChatSession, PsychologistProfile
from storage.repo import chat as chats
from storage.repo import staff as repo


@dataclass(frozen=True)
class Deactivation:
    cancelled: list[Booking]  # bookings ahead: their teachers are offered a new time
    requeued: list[AnonQuestion]  # taken, not answered: back in the queue for the other psychologists
    ended: list[tuple[ChatSession, str]]  # chats ended, each with the state it was in ("planned" or "open")


async def deactivate(
    session: AsyncSession, profile: PsychologistProfile, bookings: Bookings, now: datetime
) -> Deactivation | None:
    """Unpublish first (no new booking can take a slot), then cancel what is booked ahead (their
    planned chats go with them), requeue the questions taken and end the chats left; None if
    already inactive."""
    if not await repo.retire(session, profile):
        return None
    cancelled = await bookings.cancel_all_of(session, await repo.future_bookings(session, profile, now), now)
    requeued = await chats.release_taken(session, profile.user_id)
    return Deactivation(cancelled, requeued, await chats.end_all_of(session, profile.user_id, now))
