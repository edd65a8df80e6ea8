"""Aggregates for coordinators' statistics: consultations and self-checks in a period and region.

Only counts leave this module, never a row about one person. Self-check bands are encrypted, so
they are decrypted here in Python, one result at a time, classified by the caller's scoring, and
only the tally is kept.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Booking, SelfCheckResult, Slot, User
from storage.models.booking import ATTENDED, CANCELLED, MOVED, NO_SHOW

# How many results are decrypted per round trip: bounded memory for a year of a whole country.
BATCH = 500


@dataclass
class BookingStats:
    by_format: Counter = field(default_factory=Counter)  # format -> bookings (moved ones excluded)
    by_week: Counter = field(default_factory=Counter)  # Monday of the week -> bookings
    by_state: Counter = field(default_factory=Counter)  # state -> bookings
    late_cancels: int = 0
    ratings: int = 0
    rating_sum: int = 0

    @property
    def total(self) -> int:
        return sum(self.by_format.values())


def _in_region(query, region: str | None):
    return query.join(User, User.id == Booking.teacher_id).where(User.region == region) if region else query


async def bookings(session: AsyncSession, since: datetime, until: datetime, region: str | None) -> BookingStats:
    """Consultations whose time falls in [since, until), by the teacher's region. A rescheduled
    booking (MOVED) is counted once, as its replacement."""
    base = (
        select(Slot.format, Slot.starts_at, Booking.state, Booking.late_cancel, Booking.rating)
        .join(Slot, Slot.id == Booking.slot_id)
        .where(Slot.starts_at >= since, Slot.starts_at < until, Booking.state != MOVED)
    )
    stats = BookingStats()
    for fmt, starts_at, state, late, rating in (await session.execute(_in_region(base, region))).all():
        stats.by_format[fmt] += 1
        stats.by_week[week_of(starts_at)] += 1
        stats.by_state[state] += 1
        stats.late_cancels += bool(late and state == CANCELLED)
        if rating is not None and state == ATTENDED:
            stats.ratings += 1
            stats.rating_sum += rating
    return stats


def week_of(moment: datetime) -> date:
    day = moment.date()
    return day - timedelta(days=day.weekday())


def attendance(stats: BookingStats) -> tuple[int, int]:
    """(attended, attended + no-shows): the sessions a psychologist marked."""
    attended, missed = stats.by_state.get(ATTENDED, 0), stats.by_state.get(NO_SHOW, 0)
    return attended, attended + missed


@dataclass
class SelfCheckStats:
    taken: Counter = field(default_factory=Counter)  # instrument -> results
    bands: Counter = field(default_factory=Counter)  # (instrument, scale, band) -> results


async def _results(session: AsyncSession, since: datetime, until: datetime, region: str | None) -> AsyncIterator[SelfCheckResult]:
    query = select(SelfCheckResult).where(SelfCheckResult.created_at >= since, SelfCheckResult.created_at < until)
    if region:
        query = query.join(User, User.id == SelfCheckResult.user_id).where(User.region == region)
    stream = await session.stream_scalars(query.order_by(SelfCheckResult.id).execution_options(yield_per=BATCH))
    async for row in stream:
        yield row


# (instrument, answers) -> (scale, band) pairs: the instrument's scoring, which lives with the content.
Classify = Callable[[str, dict[str, int]], Iterable[tuple[str, str]]]


async def selfchecks(
    session: AsyncSession, since: datetime, until: datetime, region: str | None, classify: Classify
) -> SelfCheckStats:
    stats = SelfCheckStats()
    async for row in _results(session, since, until, region):
        stats.taken[row.instrument] += 1
        for scale, band in classify(row.instrument, row.data["answers"]):
            stats.bands[(row.instrument, scale, band)] += 1
        session.expunge(row)  # the decrypted answers go as soon as they are counted
    return stats
