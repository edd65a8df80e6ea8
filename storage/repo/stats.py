"""Aggregates for coordinators' statistics: consultations, self-checks and teachers who used
Demeu in a period, by region; and the published periods (bot/statistics.py).

Only counts leave this module, never a row about one person. Self-check bands are encrypted, so
they are decrypted here in Python, one result at a time, classified by the caller's scoring, and
only the tally is kept.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select, union
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import dialect_of
from storage.models import (
    Booking,
    BookingWait,
    GroupSeat,
    GroupSession,
    PsychologistProfile,
    SelfCheckResult,
    Slot,
    StatRelease,
    User,
)
from storage.models.booking import ATTENDED, CANCELLED, MOVED, NO_SHOW, split_codes

# How many results are decrypted per round trip: bounded memory for a year of a whole country.
BATCH = 500


@dataclass
class BookingStats:
    by_format: Counter = field(default_factory=Counter)  # format -> bookings (moved ones excluded)
    by_day: Counter = field(default_factory=Counter)  # local date -> bookings
    by_state: Counter = field(default_factory=Counter)  # state -> bookings
    late_cancels: int = 0
    ratings: int = 0
    rating_sum: int = 0

    @property
    def total(self) -> int:
        return sum(self.by_format.values())


async def bookings(
    session: AsyncSession, since: datetime, until: datetime, tz: ZoneInfo
) -> dict[str | None, BookingStats]:
    """Consultations whose time falls in [since, until), by the teacher's region (None: none
    given), days in local time. A rescheduled booking (MOVED) is counted once, as its replacement."""
    query = (
        select(User.region, Slot.format, Slot.starts_at, Booking.state, Booking.late_cancel, Booking.rating)
        .join(Slot, Slot.id == Booking.slot_id)
        .join(User, User.id == Booking.teacher_id)
        .where(Slot.starts_at >= since, Slot.starts_at < until, Booking.state != MOVED)
    )
    regions: dict[str | None, BookingStats] = defaultdict(BookingStats)
    for region, fmt, starts_at, state, late, rating in (await session.execute(query)).all():
        stats = regions[region]
        stats.by_format[fmt] += 1
        stats.by_day[starts_at.astimezone(tz).date()] += 1
        stats.by_state[state] += 1
        stats.late_cancels += bool(late and state == CANCELLED)
        if rating is not None and state == ATTENDED:
            stats.ratings += 1
            stats.rating_sum += rating
    return dict(regions)


async def active(session: AsyncSession, since: datetime, until: datetime) -> Counter:
    """Teachers who used Demeu in the period, by region: a consultation, a self-check or a group
    session seat in it. (`last_seen_on` keeps only the latest day, so it cannot say this about a
    period that has ended.)"""
    ids = union(
        select(Booking.teacher_id)
        .join(Slot, Slot.id == Booking.slot_id)
        .where(Slot.starts_at >= since, Slot.starts_at < until, Booking.state != MOVED),
        select(SelfCheckResult.user_id).where(
            SelfCheckResult.created_at >= since, SelfCheckResult.created_at < until
        ),
        select(GroupSeat.user_id)
        .join(GroupSession, GroupSession.id == GroupSeat.session_id)
        .where(GroupSession.starts_at >= since, GroupSession.starts_at < until),
    ).subquery()
    query = (
        select(User.region, func.count())
        .where(User.id.in_(select(ids.c[0])), User.role == "teacher")
        .group_by(User.region)
    )
    return Counter(dict((await session.execute(query)).all()))


@dataclass
class Capacity:
    published: Counter = field(default_factory=Counter)  # format -> minutes of slots offered
    booked: Counter = field(default_factory=Counter)  # format -> slots held by a booking
    booked_minutes: Counter = field(default_factory=Counter)  # format -> their minutes


async def capacity(session: AsyncSession, since: datetime, until: datetime) -> dict[str | None, Capacity]:
    """Slots starting in [since, until), not removed, and those of them a booking holds, by place:
    an office slot in its psychologist's (first) region; a video or chat slot, open to every
    region, under None."""
    held = select(Booking.slot_id).where(Booking.holds.is_(True))
    query = (
        select(Slot.format, Slot.duration_min, PsychologistProfile.regions, Slot.id.in_(held))
        .join(PsychologistProfile, PsychologistProfile.id == Slot.psychologist_id)
        .where(Slot.starts_at >= since, Slot.starts_at < until, Slot.removed.is_(False))
    )
    places: dict[str | None, Capacity] = defaultdict(Capacity)
    for fmt, minutes, codes, booked in (await session.execute(query)).all():
        where = split_codes(codes) if fmt == "office" else []
        place = places[where[0] if where else None]
        place.published[fmt] += minutes
        if booked:
            place.booked[fmt] += 1
            place.booked_minutes[fmt] += minutes
    return dict(places)


def attendance(stats: BookingStats) -> tuple[int, int]:
    """(attended, attended + no-shows): the sessions a psychologist marked."""
    attended, missed = stats.by_state.get(ATTENDED, 0), stats.by_state.get(NO_SHOW, 0)
    return attended, attended + missed


@dataclass
class SelfCheckStats:
    taken: Counter = field(default_factory=Counter)  # instrument -> results
    bands: Counter = field(default_factory=Counter)  # (instrument, scale, band) -> results


async def _results(
    session: AsyncSession, since: datetime, until: datetime, region: str | None
) -> AsyncIterator[SelfCheckResult]:
    query = select(SelfCheckResult).where(
        SelfCheckResult.created_at >= since, SelfCheckResult.created_at < until
    )
    if region:
        query = query.join(User, User.id == SelfCheckResult.user_id).where(User.region == region)
    stream = await session.stream_scalars(
        query.order_by(SelfCheckResult.id).execution_options(yield_per=BATCH)
    )
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


async def selfcheck_regions(session: AsyncSession, since: datetime, until: datetime) -> list[str]:
    """The regions with a self-check result in the period (each is counted with `selfchecks`)."""
    query = (
        select(User.region)
        .distinct()
        .join(SelfCheckResult, SelfCheckResult.user_id == User.id)
        .where(
            SelfCheckResult.created_at >= since, SelfCheckResult.created_at < until, User.region.is_not(None)
        )
    )
    return sorted(await session.scalars(query))


async def published(session: AsyncSession, periods: list[str]) -> set[str]:
    return set(await session.scalars(select(StatRelease.period).where(StatRelease.period.in_(periods))))


async def releases(session: AsyncSession, periods: list[str]) -> dict[str, dict[str, Any]]:
    rows = await session.execute(
        select(StatRelease.period, StatRelease.data).where(StatRelease.period.in_(periods))
    )
    return dict(rows.all())


async def publish(session: AsyncSession, period: str, data: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Store a period's figures unless another replica just did; what is stored is what counts."""
    dialect = postgresql if dialect_of(session) == "postgresql" else sqlite
    await session.execute(
        dialect.insert(StatRelease)
        .values(period=period, published_at=now, data=data)
        .on_conflict_do_nothing(index_elements=[StatRelease.period])
    )
    return (await releases(session, [period]))[period]


async def waits(session: AsyncSession, region: str | None) -> Counter:
    """Teachers waiting to be told of a free consultation time, by format; of one region's
    teachers, or all (None)."""
    query = select(BookingWait.format, func.count()).group_by(BookingWait.format)
    if region is not None:
        query = query.join(User, User.id == BookingWait.teacher_id).where(User.region == region)
    return Counter(dict((await session.execute(query)).all()))


async def group_waitlisted(session: AsyncSession, now: datetime, region: str | None) -> int:
    """Teachers on the waitlists of open group sessions still ahead; of one region's sessions
    (with the online ones, open to all), or all (None)."""
    query = (
        select(func.count())
        .select_from(GroupSeat)
        .join(GroupSession, GroupSession.id == GroupSeat.session_id)
        .where(GroupSeat.status == "waitlisted", GroupSession.status == "open", GroupSession.starts_at > now)
    )
    if region is not None:
        query = query.where(or_(GroupSession.region == region, GroupSession.region.is_(None)))
    return int(await session.scalar(query) or 0)
