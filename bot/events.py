"""Typed events between features: published by services, subscribed in bot/app.py only.

"What happens when a booking is made?" is answered by reading the subscriptions there. Handlers
run in the publisher's transaction (what they write commits or rolls back with it); those of
UserErased return what to do once the deletion is committed (tell someone a booking is gone).
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Booking, User

# Something to send once a transaction committed; it gets the bot (kept abstract: no aiogram here).
AfterCommit = Callable[[Any], Awaitable[None]]


class BookingChange(enum.StrEnum):
    BOOKED = "booked"
    RESCHEDULED = "rescheduled"  # `booking` is the new one; its `previous_id` the one it replaced
    CANCELLED = "cancelled"
    ATTENDED = "attended"
    NO_SHOW = "no_show"
    CONFIRMED = "confirmed"


@dataclass(frozen=True)
class BookingChanged:
    """Its handlers return the reminders to schedule (storage.repo.reminders.Planned, or None):
    the publisher writes those of all of them in one statement."""

    session: AsyncSession
    booking: Booking
    change: BookingChange


@dataclass(frozen=True)
class UserErased:
    """Before the user's row goes, in the same transaction: each feature deletes what it keeps."""

    session: AsyncSession
    user: User


E = TypeVar("E")


class Events:
    def __init__(self) -> None:
        self._subscribers: dict[type, list[Callable[[Any], Awaitable[Any]]]] = {}

    def subscribe(self, kind: type[E], handler: Callable[[E], Awaitable[Any]]) -> None:
        self._subscribers.setdefault(kind, []).append(handler)

    async def publish(self, event: Any) -> list[Any]:
        """Every subscriber's result, in subscription order (lists are flattened)."""
        results: list[Any] = []
        for handler in self._subscribers.get(type(event), []):
            result = await handler(event)
            if isinstance(result, list):
                results.extend(result)
            elif result is not None:
                results.append(result)
        return results
