"""Durable messages of a psychologist's practice, as reminder rows due now (retried by the
reminder worker under Telegram errors, sent once): an in-person referral, and the gentle message
to a teacher whose session was marked as missed (never automatic: only the psychologist marks it)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.events import BookingChange, BookingChanged
from bot.views import practice as views
from bot.workers.reminders import Rendered, Renderer, main_menu_markup
from storage.models import Booking, Reminder, User
from storage.models.base import utcnow
from storage.models.reminders import CANCELLED, DEAD
from storage.repo import practice as practice_repo
from storage.repo import reminders as repo

REFERRAL = "referral"
NO_SHOW = "no_show"


def referral_key(booking_id: int) -> str:
    return f"referral:{booking_id}"


async def refer(session: AsyncSession, booking: Booking) -> bool:
    """Queue the booking's referral to its teacher; False if one is already queued or sent."""
    key = referral_key(booking.id)
    existing = await repo.by_key(session, key)
    if existing is not None and existing.status not in (CANCELLED, DEAD):
        return False
    await repo.schedule(session, key, booking.teacher_id, utcnow(), REFERRAL, {"b": booking.id})
    return True


async def follow(event: BookingChanged) -> list[repo.Planned]:
    """Subscribed to BookingChanged (bot/app.py): a no-show mark queues the gentle message
    (returned: written with the change's notices); a rescheduled booking takes its intake and note along."""
    if event.change is BookingChange.RESCHEDULED and event.booking.previous_id is not None:
        await practice_repo.moved(event.session, event.booking.previous_id, event.booking.id)
    if event.change is BookingChange.NO_SHOW:
        booking = event.booking
        return [repo.Planned(f"no_show:{booking.id}", booking.teacher_id, utcnow(), NO_SHOW)]
    return []


async def render_referral(session: AsyncSession, reminder: Reminder, user: User, tz: Any) -> Rendered:
    return Rendered(views.referral_text(user.region, user.language), main_menu_markup())


async def render_no_show(session: AsyncSession, reminder: Reminder, user: User, tz: Any) -> Rendered:
    return Rendered(*views.no_show())


RENDERERS: dict[str, Renderer] = {REFERRAL: render_referral, NO_SHOW: render_no_show}
