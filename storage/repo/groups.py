"""Group sessions: seats, waitlist, offers, ratings and their anonymous statistics.

Capacity is never exceeded: every seat change first bumps the session's `lock_version`.
That UPDATE takes the session row's lock on PostgreSQL and the database write lock on
SQLite, so the count-then-decide below runs for one teacher at a time per session.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import changed
from storage.models import GroupSeat, GroupSession, PsychologistProfile, User

ACTIVE = ("enrolled", "waitlisted", "offered")
TAKEN = ("enrolled", "offered")  # an offered seat is held, so nobody else may take it


@dataclass(frozen=True)
class Offer:
    """A seat offered to the next teacher in line: tell them after the commit."""

    session_id: int
    user_id: int
    expires_at: datetime


@dataclass(frozen=True)
class SeatChange:
    status: str  # enrolled | waitlisted | offered | closed | full-offer-expired ...
    place: int = 0  # waitlist place, 1-based
    offers: tuple[Offer, ...] = ()


async def create_session(session: AsyncSession, **fields) -> GroupSession:
    group = GroupSession(**fields)
    session.add(group)
    await session.flush()
    return group


async def get(session: AsyncSession, group_id: int) -> GroupSession | None:
    return await session.get(GroupSession, group_id)


def _taken_count():
    return (
        select(func.count())
        .where(GroupSeat.session_id == GroupSession.id, GroupSeat.status.in_(TAKEN))
        .correlate(GroupSession)
        .scalar_subquery()
    )


async def upcoming(
    session: AsyncSession,
    now: datetime,
    *,
    region: str | None = None,
    language: str | None = None,
    fmt: str | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    before: datetime | None = None,
    limit: int | None = 20,
) -> list[tuple[GroupSession, int]]:
    """Open sessions not yet started (and starting from `since`, before `before`), with seats taken.
    `region` keeps that region's and online ones."""
    query = select(GroupSession, _taken_count()).where(
        GroupSession.status == "open", GroupSession.starts_at > now
    )
    if since is not None:
        query = query.where(GroupSession.starts_at >= since)
    if before is not None:
        query = query.where(GroupSession.starts_at < before)
    if region:
        query = query.where(or_(GroupSession.region == region, GroupSession.region.is_(None)))
    if language:
        query = query.where(GroupSession.language == language)
    if fmt:
        query = query.where(GroupSession.format == fmt)
    if kind:
        query = query.where(GroupSession.kind == kind)
    rows = await session.execute(query.order_by(GroupSession.starts_at, GroupSession.id).limit(limit))
    return [(group, taken) for group, taken in rows.all()]


async def taken(session: AsyncSession, group_id: int) -> int:
    return (
        await session.scalar(
            select(func.count()).where(GroupSeat.session_id == group_id, GroupSeat.status.in_(TAKEN))
        )
        or 0
    )


async def seat_of(session: AsyncSession, group_id: int, user_id: int) -> GroupSeat | None:
    return await session.scalar(
        select(GroupSeat).where(GroupSeat.session_id == group_id, GroupSeat.user_id == user_id)
    )


async def waitlist_place(session: AsyncSession, seat: GroupSeat) -> int:
    ahead = await session.scalar(
        select(func.count()).where(
            GroupSeat.session_id == seat.session_id,
            GroupSeat.status == "waitlisted",
            GroupSeat.position < seat.position,
        )
    )
    return (ahead or 0) + 1


async def waitlist_length(session: AsyncSession, group_id: int) -> int:
    return (
        await session.scalar(
            select(func.count()).where(GroupSeat.session_id == group_id, GroupSeat.status == "waitlisted")
        )
        or 0
    )


async def _lock(session: AsyncSession, group_id: int) -> GroupSession | None:
    """Serialize seat decisions for one session (see the module docstring)."""
    result = await changed(
        session,
        update(GroupSession)
        .where(GroupSession.id == group_id)
        .values(lock_version=GroupSession.lock_version + 1)
        .execution_options(synchronize_session=False),
    )
    if result == 0:
        return None
    return await session.scalar(
        select(GroupSession).where(GroupSession.id == group_id).execution_options(populate_existing=True)
    )


async def _promote(session: AsyncSession, group: GroupSession, now: datetime, hold: timedelta) -> list[Offer]:
    """Offer every free seat to the next teachers in line, in order of arrival."""
    free = group.capacity - await taken(session, group.id)
    if free <= 0 or group.status != "open" or group.starts_at <= now:
        return []
    line = (
        await session.scalars(
            select(GroupSeat)
            .where(GroupSeat.session_id == group.id, GroupSeat.status == "waitlisted")
            .order_by(GroupSeat.position)
            .limit(free)
        )
    ).all()
    offers = []
    for seat in line:
        seat.status, seat.offer_expires_at = "offered", now + hold
        offers.append(Offer(group.id, seat.user_id, seat.offer_expires_at))
    await session.flush()
    return offers


async def enroll(session: AsyncSession, group_id: int, user_id: int, now: datetime) -> SeatChange:
    """A seat if one is free, otherwise the end of the waitlist; pressing twice changes nothing."""
    group = await _lock(session, group_id)
    if group is None or group.status != "open" or group.starts_at <= now:
        return SeatChange("closed")
    seat = await seat_of(session, group_id, user_id)
    if seat is not None and seat.status in ACTIVE:
        place = await waitlist_place(session, seat) if seat.status == "waitlisted" else 0
        return SeatChange(seat.status, place)
    last = await session.scalar(select(func.max(GroupSeat.position)).where(GroupSeat.session_id == group_id))
    status = "enrolled" if await taken(session, group_id) < group.capacity else "waitlisted"
    if seat is None:
        seat = GroupSeat(session_id=group_id, user_id=user_id, status=status, position=(last or 0) + 1)
        session.add(seat)
    else:
        seat.status, seat.position, seat.offer_expires_at = status, (last or 0) + 1, None
    await session.flush()
    return SeatChange(status, await waitlist_place(session, seat) if status == "waitlisted" else 0)


async def leave(
    session: AsyncSession, group_id: int, user_id: int, now: datetime, hold: timedelta
) -> SeatChange:
    """Give up a seat, a waitlist place or an offer; a freed seat goes to the next in line."""
    group = await _lock(session, group_id)
    seat = await seat_of(session, group_id, user_id)
    if group is None or seat is None or seat.status not in ACTIVE:
        return SeatChange("cancelled")
    freed = seat.status in TAKEN
    seat.status, seat.offer_expires_at = "cancelled", None
    await session.flush()
    offers = await _promote(session, group, now, hold) if freed else []
    return SeatChange("cancelled", offers=tuple(offers))


async def accept(
    session: AsyncSession, group_id: int, user_id: int, now: datetime, hold: timedelta
) -> SeatChange:
    group = await _lock(session, group_id)
    seat = await seat_of(session, group_id, user_id)
    if group is None or group.status != "open" or seat is None:
        return SeatChange("closed")
    if seat.status == "offered" and seat.offer_expires_at is not None and seat.offer_expires_at > now:
        seat.status, seat.offer_expires_at = "enrolled", None
        await session.flush()
        return SeatChange("enrolled")
    if seat.status == "offered":  # expired, the sweep has not passed it on yet: do it now
        seat.status, seat.offer_expires_at = "cancelled", None
        await session.flush()
        return SeatChange("expired", offers=tuple(await _promote(session, group, now, hold)))
    place = await waitlist_place(session, seat) if seat.status == "waitlisted" else 0
    return SeatChange("expired" if seat.status == "cancelled" else seat.status, place)


async def expire_offers(
    session: AsyncSession, now: datetime, hold: timedelta
) -> tuple[list[tuple[int, int]], list[Offer]]:
    """Pass every expired offer to the next in line: ((session, user) whose offer lapsed, new offers)."""
    due = (
        (
            await session.execute(
                select(GroupSeat.session_id)
                .where(GroupSeat.status == "offered", GroupSeat.offer_expires_at <= now)
                .distinct()
            )
        )
        .scalars()
        .all()
    )
    lapsed: list[tuple[int, int]] = []
    offers: list[Offer] = []
    for group_id in due:
        group = await _lock(session, group_id)
        if group is None:
            continue
        seats = (
            await session.scalars(
                select(GroupSeat).where(
                    GroupSeat.session_id == group_id,
                    GroupSeat.status == "offered",
                    GroupSeat.offer_expires_at <= now,
                )
            )
        ).all()
        for seat in seats:
            seat.status, seat.offer_expires_at = "cancelled", None
            lapsed.append((group_id, seat.user_id))
        await session.flush()
        offers += await _promote(session, group, now, hold)
    return lapsed, offers


async def calendar_seats(session: AsyncSession, group_id: int) -> list[tuple[GroupSeat, User]]:
    """Enrolled seats that were given a calendar file (a UID), with their teachers."""
    rows = await session.execute(
        select(GroupSeat, User)
        .join(User, User.id == GroupSeat.user_id)
        .where(GroupSeat.session_id == group_id, GroupSeat.status == "enrolled")
    )
    # Sealed, "no UID" is a token like any other: it is told apart only once decrypted.
    return [(seat, user) for seat, user in rows.all() if seat.calendar_uid is not None]


async def cancel_session(session: AsyncSession, group_id: int) -> list[int]:
    """Cancel the whole session; returns everyone to tell: seated, offered and waitlisted."""
    group = await _lock(session, group_id)
    if group is None or group.status != "open":
        return []
    group.status = "cancelled"
    seats = (
        await session.scalars(
            select(GroupSeat).where(GroupSeat.session_id == group_id, GroupSeat.status.in_(ACTIVE))
        )
    ).all()
    for seat in seats:
        seat.status, seat.offer_expires_at = "cancelled", None
    await session.flush()
    return [seat.user_id for seat in seats]


async def participant_codes(session: AsyncSession, group_id: int) -> list[str]:
    """Pseudonyms of the seated teachers, for the facilitator only."""
    return list(
        await session.scalars(
            select(User.pseudonym)
            .join(GroupSeat, GroupSeat.user_id == User.id)
            .where(GroupSeat.session_id == group_id, GroupSeat.status == "enrolled")
            .order_by(User.pseudonym)
        )
    )


async def mine(session: AsyncSession, user_id: int, now: datetime) -> list[tuple[GroupSession, GroupSeat]]:
    rows = await session.execute(
        select(GroupSession, GroupSeat)
        .join(GroupSeat, GroupSeat.session_id == GroupSession.id)
        .where(
            GroupSeat.user_id == user_id,
            GroupSeat.status.in_(ACTIVE),
            GroupSession.status == "open",
            GroupSession.starts_at > now,
        )
        .order_by(GroupSession.starts_at)
    )
    return [(group, seat) for group, seat in rows.all()]


async def led_by(session: AsyncSession, user_id: int, since: datetime) -> list[GroupSession]:
    """The open sessions one leads starting after `since`, soonest first."""
    return list(
        await session.scalars(
            select(GroupSession)
            .where(
                GroupSession.facilitator_id == user_id,
                GroupSession.status == "open",
                GroupSession.starts_at > since,
            )
            .order_by(GroupSession.starts_at)
        )
    )


async def started_between(
    session: AsyncSession, since: datetime, until: datetime, *, region: str | None = None
) -> list[GroupSession]:
    """Open sessions that started from `since` to `until`, latest first; `region` keeps that
    region's and online ones."""
    query = select(GroupSession).where(
        GroupSession.status == "open", GroupSession.starts_at >= since, GroupSession.starts_at <= until
    )
    if region:
        query = query.where(or_(GroupSession.region == region, GroupSession.region.is_(None)))
    return list(await session.scalars(query.order_by(GroupSession.starts_at.desc(), GroupSession.id)))


async def enrolled(session: AsyncSession, group_id: int) -> int:
    """Teachers holding a seat (not an offer): the most who can have come."""
    return (
        await session.scalar(
            select(func.count()).where(GroupSeat.session_id == group_id, GroupSeat.status == "enrolled")
        )
        or 0
    )


@dataclass(frozen=True)
class Ended:
    """Sessions that just ended, each claimed once: their facilitators are asked how many came,
    their seated teachers (session id, user id) for a rating."""

    sessions: list[GroupSession]
    to_rate: list[tuple[int, int]]


async def ended(session: AsyncSession, now: datetime, window: timedelta) -> Ended:
    """Sessions that ended within `window` and were not claimed yet, and their seated teachers."""
    sessions = (
        await session.scalars(
            select(GroupSession).where(
                GroupSession.status == "open",
                GroupSession.ratings_requested.is_(False),
                GroupSession.starts_at < now,
                GroupSession.starts_at > now - window,
            )
        )
    ).all()
    claimed_sessions: list[GroupSession] = []
    due: list[tuple[int, int]] = []
    for group in sessions:
        if group.starts_at + timedelta(minutes=group.duration_min) > now:
            continue
        # Conditional, so that of two sweeps (or replicas) at once only one asks.
        claimed = await changed(
            session,
            update(GroupSession)
            .where(GroupSession.id == group.id, GroupSession.ratings_requested.is_(False))
            .values(ratings_requested=True)
            .execution_options(synchronize_session=False),
        )
        if claimed != 1:
            continue
        claimed_sessions.append(group)
        seats = (
            await session.scalars(
                select(GroupSeat).where(
                    GroupSeat.session_id == group.id,
                    GroupSeat.status == "enrolled",
                    GroupSeat.rating_asked.is_(False),
                )
            )
        ).all()
        for seat in seats:
            seat.rating_asked = True
            due.append((group.id, seat.user_id))
    await session.flush()
    return Ended(claimed_sessions, due)


async def can_rate(session: AsyncSession, group_id: int, user_id: int) -> bool:
    seat = await seat_of(session, group_id, user_id)
    return seat is not None and seat.status == "enrolled" and seat.rating_asked


async def rate(session: AsyncSession, group_id: int, user_id: int, score: int) -> None:
    """The score on the teacher's seat (rules.rate checked the seat may rate); a new score replaces it."""
    seat = await seat_of(session, group_id, user_id)
    if seat is not None:
        seat.rating = score
        await session.flush()


async def comment(session: AsyncSession, group_id: int, user_id: int, text: str) -> bool:
    """The comment beside a score already given; False when the seat holds none."""
    seat = await seat_of(session, group_id, user_id)
    if seat is None or seat.rating is None:
        return False
    seat.rating_comment = text
    return True


async def active_seats_of(session: AsyncSession, user_id: int) -> list[int]:
    return list(
        await session.scalars(
            select(GroupSeat.session_id).where(GroupSeat.user_id == user_id, GroupSeat.status.in_(ACTIVE))
        )
    )


async def teachers(session: AsyncSession, user_ids: list[int]) -> list[User]:
    if not user_ids:
        return []
    return list(await session.scalars(select(User).where(User.id.in_(user_ids), User.active.is_(True))))


async def facilitators(session: AsyncSession, region: str | None) -> list[tuple[User, str]]:
    """Psychologists who may lead a session in `region` (those of every region included), each with
    the name teachers know them by (their profile's; their code before they have one), by name.
    Names are sealed, so they are sorted here, not in SQL."""
    query = (
        select(User, PsychologistProfile.display_name)
        .outerjoin(PsychologistProfile, PsychologistProfile.user_id == User.id)
        .where(User.role == "psychologist", User.active.is_(True))
    )
    if region:
        query = query.where(or_(User.region == region, User.region.is_(None)))
    rows = (await session.execute(query.order_by(User.pseudonym).limit(30))).all()
    named = [(user, name or user.pseudonym) for user, name in rows]
    return sorted(named, key=lambda row: row[1].casefold())


@dataclass(frozen=True)
class GroupStats:
    sessions: int
    capacity: int
    seats_taken: int
    waitlisted: int
    cancelled_sessions: int
    ratings: int
    rating_sum: int
    # By kind (consult, training, art, relax): sessions held, their seats, the seats taken, the
    # sessions whose attendance was reported and how many came to them (the reported counts' sum).
    kind_sessions: Counter[str] = field(default_factory=Counter)
    kind_capacity: Counter[str] = field(default_factory=Counter)
    kind_seats: Counter[str] = field(default_factory=Counter)
    kind_reported: Counter[str] = field(default_factory=Counter)
    kind_attended: Counter[str] = field(default_factory=Counter)


class _Held(NamedTuple):
    """One region's sessions of one kind."""

    sessions: int
    capacity: int
    reported: int
    attended: int


async def statistics(session: AsyncSession, since: datetime, until: datetime) -> dict[str | None, GroupStats]:
    """Totals by the sessions' region (None: online, open to all): no row here can be traced back
    to one teacher."""
    in_period = and_(GroupSession.starts_at >= since, GroupSession.starts_at < until)
    region, kind = GroupSession.region, GroupSession.kind
    held: dict[str | None, dict[str, _Held]] = {}
    for r, k, n, c, reported, came in (
        await session.execute(
            select(
                region,
                kind,
                func.count(),
                func.coalesce(func.sum(GroupSession.capacity), 0),
                func.count(GroupSession.attended),
                func.coalesce(func.sum(GroupSession.attended), 0),
            )
            .where(in_period, GroupSession.status == "open")
            .group_by(region, kind)
        )
    ).all():
        held.setdefault(r, {})[k] = _Held(n, int(c), reported, int(came or 0))
    cancelled = dict(
        (
            await session.execute(
                select(region, func.count())
                .where(in_period, GroupSession.status == "cancelled")
                .group_by(region)
            )
        ).all()
    )
    seats: dict[str | None, Counter[tuple[str, str]]] = {}
    for r, k, status, n in (
        await session.execute(
            select(region, kind, GroupSeat.status, func.count())
            .join(GroupSession, GroupSession.id == GroupSeat.session_id)
            .where(in_period, GroupSession.status == "open")
            .group_by(region, kind, GroupSeat.status)
        )
    ).all():
        seats.setdefault(r, Counter())[(k, status)] = n
    # Scores are sealed on every seat asked for one: counted and summed here, never in SQL.
    ratings: dict[str | None, tuple[int, int]] = {}
    for r, score in (
        await session.execute(
            select(region, GroupSeat.rating)
            .join(GroupSession, GroupSession.id == GroupSeat.session_id)
            .where(in_period, GroupSeat.rating_asked.is_(True))
        )
    ).all():
        if score is not None:
            n, total = ratings.get(r, (0, 0))
            ratings[r] = (n + 1, total + score)
    result = {}
    for r in set(held) | set(cancelled) | set(seats) | set(ratings):
        kinds, taken = held.get(r, {}), seats.get(r, Counter())
        kind_seats = Counter({k: n for (k, status), n in taken.items() if status in TAKEN})
        result[r] = GroupStats(
            sessions=sum(h.sessions for h in kinds.values()),
            capacity=sum(h.capacity for h in kinds.values()),
            seats_taken=sum(kind_seats.values()),
            waitlisted=sum(n for (_k, status), n in taken.items() if status == "waitlisted"),
            cancelled_sessions=cancelled.get(r, 0),
            ratings=ratings.get(r, (0, 0))[0],
            rating_sum=ratings.get(r, (0, 0))[1],
            kind_sessions=Counter({k: h.sessions for k, h in kinds.items()}),
            kind_capacity=Counter({k: h.capacity for k, h in kinds.items()}),
            kind_seats=kind_seats,
            kind_reported=Counter({k: h.reported for k, h in kinds.items()}),
            kind_attended=Counter({k: h.attended for k, h in kinds.items()}),
        )
    return result


async def demo_sessions(session: AsyncSession) -> list[GroupSession]:
    return list(await session.scalars(select(GroupSession).where(GroupSession.demo.is_(True))))


async def remove_demo(session: AsyncSession) -> int:
    """Delete the demo sessions (their seats, with their ratings, cascade)."""
    demo = await demo_sessions(session)
    for group in demo:
        await session.delete(group)
    await session.flush()
    return len(demo)
