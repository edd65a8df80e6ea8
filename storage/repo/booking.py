"""Individual consultations: profiles, slots, bookings. The booking rules (notice, horizon, limits)
are bot/services/bookings.py's; here is what the database keeps and finds.

One live booking per slot is the database's job: a partial unique index (see the models);
`hold` uses INSERT ... ON CONFLICT DO NOTHING against it, so the loser of a race
gets "taken" without an exception and its transaction stays usable.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Exists,
    Select,
    Table,
    and_,
    bindparam,
    delete,
    exists,
    func,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, defer, joinedload, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.elements import BindParameter

from storage.db import changed, dialect_of, lock_rows
from storage.models import Booking, BookingWait, PsychologistProfile, Slot, User
from storage.models.base import utcnow
from storage.models.booking import (
    ATTENDED,
    BOOKED,
    FORMATS,
    UPCOMING_STATES,
)

# --- psychologists ---------------------------------------------------------------------------------------


async def profile_of(session: AsyncSession, user_id: int) -> PsychologistProfile | None:
    return await session.scalar(select(PsychologistProfile).where(PsychologistProfile.user_id == user_id))


async def ensure_profile(session: AsyncSession, user: User) -> PsychologistProfile:
    profile = await profile_of(session, user.id)
    if profile is None:
        profile = PsychologistProfile(
            user_id=user.id,
            display_name="",
            languages=user.language,
            formats="",
            regions=user.region or "",
            published=False,
            demo=False,
        )
        profile.user = user
        session.add(profile)
        await session.flush()
    return profile


def profile_ready(profile: PsychologistProfile) -> bool:
    """Bookable: a name, a language and a format; offline needs a region and an address."""
    if not (profile.display_name and profile.language_list and profile.format_list):
        return False
    return "office" not in profile.format_list or bool(profile.region_list and profile.address)


async def profile_by_id(session: AsyncSession, profile_id: int) -> PsychologistProfile | None:
    return await session.get(PsychologistProfile, profile_id)


# --- slots -----------------------------------------------------------------------------------------------


MAX_DURATION = timedelta(hours=4)


async def _clash(
    session: AsyncSession, profile_id: int, starts_at: datetime, duration_min: int
) -> Slot | None:
    """A live slot of the psychologist overlapping the new one, or a removed slot at exactly that
    time (to revive: the unique constraint allows one row per start); None when the time is free."""
    # Durations are bounded, so candidates start less than MAX_DURATION earlier: no per-dialect date arithmetic.
    candidates = await session.scalars(
        select(Slot).where(
            Slot.psychologist_id == profile_id,
            Slot.starts_at > starts_at - MAX_DURATION,
            Slot.starts_at < starts_at + timedelta(minutes=duration_min),
        )
    )
    ends_at = starts_at + timedelta(minutes=duration_min)
    for slot in candidates:
        if (
            slot.starts_at < ends_at
            and starts_at < slot.ends_at
            and (not slot.removed or slot.starts_at == starts_at)
        ):
            return slot
    return None


async def add_slot(
    session: AsyncSession, profile: PsychologistProfile, starts_at: datetime, duration_min: int, fmt: str
) -> Slot | None:
    """A new free slot, or None when it would overlap one of the psychologist's own slots."""
    if fmt not in FORMATS or not 0 < duration_min <= MAX_DURATION.total_seconds() // 60:
        raise ValueError(f"bad slot: format {fmt!r}, {duration_min} minutes")
    clash = await _clash(session, profile.id, starts_at, duration_min)
    if clash is not None:
        if not clash.removed:
            return None
        if await _holding_booking(session, clash.id) is not None:
            return None
        clash.removed, clash.duration_min, clash.format = False, duration_min, fmt
        return clash
    slot = Slot(
        psychologist_id=profile.id, starts_at=starts_at, duration_min=duration_min, format=fmt, removed=False
    )
    slot.psychologist = profile
    session.add(slot)
    await session.flush()
    return slot


def template_times(
    weekday: int,
    start: time,
    end: time,
    duration_min: int,
    break_min: int,
    weeks: int,
    tz: ZoneInfo,
    now: datetime,
) -> list[datetime]:
    """Start times (UTC-aware) of a weekly template: every `weekday` from today for `weeks` weeks,
    sessions of `duration_min` with `break_min` between them, all ending by `end` (local time)."""
    today = now.astimezone(tz).date()
    first = today + timedelta(days=(weekday - today.weekday()) % 7)
    times = []
    for week in range(weeks):
        day = first + timedelta(weeks=week)
        cursor = datetime.combine(day, start, tz)
        stop = datetime.combine(day, end, tz)
        while cursor + timedelta(minutes=duration_min) <= stop:
            if cursor > now:
                times.append(cursor)
            cursor += timedelta(minutes=duration_min + break_min)
    return times


async def add_template(
    session: AsyncSession,
    profile: PsychologistProfile,
    starts: Iterable[datetime],
    duration_min: int,
    fmt: str,
) -> tuple[int, int]:
    """Adds the template's slots; returns (added, skipped because they overlapped)."""
    added = skipped = 0
    for starts_at in starts:
        if await add_slot(session, profile, starts_at, duration_min, fmt) is None:
            skipped += 1
        else:
            added += 1
    return added, skipped


def _holds(slot_id: Any) -> Exists:
    return exists().where(Booking.slot_id == slot_id, Booking.holds.is_(True))


async def _holding_booking(session: AsyncSession, slot_id: int) -> Booking | None:
    return await session.scalar(select(Booking).where(Booking.slot_id == slot_id, Booking.holds.is_(True)))


async def held(session: AsyncSession, slot_id: int) -> bool:
    return await _holding_booking(session, slot_id) is not None


async def lock_slot(session: AsyncSession, slot_id: int) -> None:
    """Wait for a booking of this slot in flight to commit (PostgreSQL; SQLite has one writer)."""
    await lock_rows(session, select(Slot.id).where(Slot.id == slot_id).with_for_update())


async def remove_slot(session: AsyncSession, profile: PsychologistProfile, slot_id: int) -> bool:
    """Only a free slot of this psychologist can be removed; False otherwise. One conditional
    UPDATE after the slot's lock: a booking racing it either committed first (the slot stays) or
    finds the slot removed."""
    await lock_slot(session, slot_id)
    holding = exists().where(Booking.slot_id == Slot.id, Booking.holds.is_(True))
    removed = await changed(
        session,
        update(Slot)
        .where(Slot.id == slot_id, Slot.psychologist_id == profile.id, Slot.removed.is_(False), ~holding)
        .values(removed=True),
    )
    return bool(removed)


async def schedule(
    session: AsyncSession, profile: PsychologistProfile, start: datetime, end: datetime
) -> list[tuple[Slot, Booking | None]]:
    """The psychologist's slots in [start, end) with the booking holding each (None when free)."""
    rows = await session.execute(
        select(Slot, Booking)
        .outerjoin(Booking, and_(Booking.slot_id == Slot.id, Booking.holds.is_(True)))
        .where(
            Slot.psychologist_id == profile.id,
            Slot.removed.is_(False),
            Slot.starts_at >= start,
            Slot.starts_at < end,
        )
        .order_by(Slot.starts_at)
    )
    return [(slot, booking) for slot, booking in rows.unique().all()]


# --- finding free slots ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    fmt: str
    language: str = ""  # "" = any
    region: str = ""  # offline only; "" = any
    psychologist: int = (
        0  # a profile id: that psychologist's times only (rescheduling, booking again); 0 = any
    )


def matches(profile: PsychologistProfile, filters: Filters) -> bool:
    if not profile.published or filters.fmt not in profile.format_list:
        return False
    if filters.language and filters.language not in profile.language_list:
        return False
    return not (filters.fmt == "office" and filters.region and filters.region not in profile.region_list)


def _free(start: datetime, end: datetime) -> Select:
    """Free slots of published psychologists starting in [start, end), earliest first."""
    return (
        select(Slot)
        .join(PsychologistProfile, PsychologistProfile.id == Slot.psychologist_id)
        .where(
            Slot.removed.is_(False),
            Slot.starts_at >= start,
            Slot.starts_at < end,
            PsychologistProfile.published.is_(True),
            ~_holds(Slot.id),
        )
        .order_by(Slot.starts_at, Slot.id)
    )


async def free_slots(
    session: AsyncSession, filters: Filters, start: datetime, end: datetime, slot_id: int | None = None
) -> list[Slot]:
    """Free slots matching the filters in [start, end) (or just the one with `slot_id`)."""
    query = _free(start, end).where(Slot.format == filters.fmt)
    if filters.psychologist:
        query = query.where(Slot.psychologist_id == filters.psychologist)
    if slot_id is not None:
        query = query.where(Slot.id == slot_id)
    return [slot for slot in (await session.scalars(query)).unique() if matches(slot.psychologist, filters)]


async def free_slots_any(session: AsyncSession, start: datetime, end: datetime, limit: int) -> list[Slot]:
    """The first `limit` free slots in [start, end) of every format its psychologist still offers."""
    slots = await session.scalars(_free(start, end).limit(limit))
    return [slot for slot in slots.unique() if slot.format in slot.psychologist.format_list]


async def slot_by_id(session: AsyncSession, slot_id: int) -> Slot | None:
    return await session.get(Slot, slot_id)


# --- booking ---------------------------------------------------------------------------------------------


async def active_count(session: AsyncSession, teacher_id: int, now: datetime) -> int:
    return (
        await session.scalar(
            select(func.count(Booking.id))
            .join(Slot, Slot.id == Booking.slot_id)
            .where(Booking.teacher_id == teacher_id, Booking.state.in_(UPCOMING_STATES), Slot.starts_at > now)
        )
        or 0
    )


@dataclass(frozen=True)
class Limits:
    """What a teacher may hold, checked by the booking's insert itself: fewer than `max_active`
    upcoming bookings starting after `now`, and (unless None) fewer than `per_day` made since `since`."""

    now: datetime
    max_active: int
    since: datetime
    per_day: int | None = None


# What a new booking is written with, in the order of the insert: every sealed column is written, a
# None sealed like any value (no rating, no reason yet), so no NULL tells what came later.
_WRITTEN = (
    "slot_id",
    "teacher_id",
    "state",
    "holds",
    "note",
    "cancel_reason",
    "rating",
    "rating_comment",
    "intake",
    "shared",
    "previous_id",
    "late_cancel",
    "room",
    "calendar_uid",
    "calendar_seq",
    "created_at",
    "updated_at",
)


def _bookable(slot_id: Any) -> ColumnElement[bool]:
    return and_(
        Slot.id == slot_id,
        Slot.removed.is_(False),
        Slot.psychologist_id == PsychologistProfile.id,
        PsychologistProfile.published.is_(True),
    )


@functools.cache
def _share_lock() -> Select[Any]:
    return select(Slot.id).where(_bookable(bindparam("slot_id"))).with_for_update(read=True)


@functools.cache
def _hold_statement(dialect: str, active: bool, daily: bool) -> Any:
    """The conditional insert, built once per dialect and limits checked (`Limits`): the slot
    bookable, the limits kept and the slot not held, or nothing is written."""
    table = cast(Table, Booking.__table__)
    # Each value bound with its column's type, so the note is sealed as in any insert.
    row = select(*(bindparam(name, type_=table.c[name].type) for name in _WRITTEN))
    conditions: list[ColumnElement[bool]] = [exists().where(_bookable(bindparam("slot_id")))]
    teacher: BindParameter[int] = bindparam("teacher_id")
    if active:
        upcoming = (
            select(func.count(Booking.id))
            .join(Slot, Slot.id == Booking.slot_id)
            .where(
                Booking.teacher_id == teacher,
                Booking.state.in_(UPCOMING_STATES),
                Slot.starts_at > bindparam("now"),
            )
        )
        conditions.append(upcoming.correlate(None).scalar_subquery() < bindparam("max_active"))
    if daily:
        made = select(func.count()).where(
            Booking.teacher_id == teacher, Booking.created_at >= bindparam("since")
        )
        conditions.append(made.correlate(None).scalar_subquery() < bindparam("per_day"))
    # Returned with the id: whether it is the teacher's first session with the psychologist (the
    # summary offers the intake then), so the screen needs no statement of its own.
    earlier, earlier_slot = aliased(Booking), aliased(Slot)
    before = (
        exists()
        .where(
            earlier.slot_id == earlier_slot.id,
            earlier.teacher_id == teacher,
            earlier_slot.psychologist_id == bindparam("psychologist_id"),
            earlier.holds.is_(True),
            earlier_slot.starts_at < bindparam("starts_at"),
        )
        .correlate(None)
    )
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(table)
        .from_select(list(_WRITTEN), row.where(*conditions))
        .on_conflict_do_nothing(index_elements=[table.c.slot_id], index_where=text("holds"))
        # In a SELECT of its own: SQLite's RETURNING would name the subquery's columns unqualified.
        .returning(table.c.id, select(~before).scalar_subquery())
    )


@dataclass(frozen=True)
class Held:
    """A booking just written; `first`: the teacher's first session with its psychologist."""

    booking: Booking
    first: bool


async def hold(
    session: AsyncSession, draft: Booking, slot: Slot, teacher: User, limits: Limits | None = None
) -> Held | None:
    """The `draft` (its note, previous booking, room and calendar identity) written as a new
    booking holding the slot, or None when the slot is held, removed or its psychologist
    unpublished meanwhile, or the teacher is at one of `limits`.

    One statement decides: the insert checks the slot, the profile and the limits and finds the
    slot free (one SQLite writer at a time); on PostgreSQL it first takes a shared lock on the slot
    and the profile, which removing the slot or deactivating the psychologist take exclusively
    (`lock_slot`, `lock_profile`): whoever comes second sees what the first committed. The
    booking held is what was written, with `slot` and `teacher` (no read after the insert).
    """
    await lock_rows(session, _share_lock(), {"slot_id": slot.id})
    now = utcnow()
    values: dict[str, Any] = {
        "slot_id": slot.id,
        "teacher_id": teacher.id,
        "state": BOOKED,
        "holds": True,
        "note": draft.note,
        "cancel_reason": None,
        "rating": None,
        "rating_comment": None,
        "intake": None,
        "shared": [],
        "previous_id": draft.previous_id,
        "late_cancel": False,
        "room": draft.room,
        "calendar_uid": draft.calendar_uid,
        "calendar_seq": draft.calendar_seq or 0,
        "created_at": now,
        "updated_at": now,
    }
    params = {**values, "psychologist_id": slot.psychologist_id, "starts_at": slot.starts_at}
    if limits is not None:
        params.update(
            now=limits.now, max_active=limits.max_active, since=limits.since, per_day=limits.per_day
        )
    daily = limits is not None and limits.per_day is not None
    statement = _hold_statement(dialect_of(session), limits is not None, daily)
    written = (await session.execute(statement, params)).first()
    if written is None:
        return None
    booking_id, first = written
    return Held(_written(session, {**values, "id": booking_id}, slot, teacher), bool(first))


def _written(session: AsyncSession, values: dict[str, Any], slot: Slot, teacher: User) -> Booking:
    """The booking just inserted as loaded in `session` (a later change flushes only what changed)."""
    booking = inspect(Booking).class_manager.new_instance()
    for attribute in inspect(Booking).column_attrs:
        set_committed_value(booking, attribute.key, values.get(attribute.key))
    set_committed_value(booking, "slot", slot)
    set_committed_value(booking, "teacher", teacher)
    make_transient_to_detached(booking)
    session.add(booking)
    return booking


async def release(session: AsyncSession, booking: Booking, state: str) -> None:
    """The booking lets its slot go (moved or cancelled)."""
    booking.state, booking.holds = state, False
    await session.flush()


async def rate(session: AsyncSession, booking: Booking, rating: int, comment: str | None = None) -> bool:
    if booking.state != ATTENDED or not 1 <= rating <= 5:
        return False
    booking.rating = rating
    if comment is not None:
        booking.rating_comment = comment
    return True


async def rating_summary(session: AsyncSession) -> tuple[int, float | None]:
    """(how many rated, their mean): what coordinators see, never single ratings. Ratings are
    sealed in every booking, so they are counted here, not in SQL."""
    ratings = [rating for rating in await session.scalars(select(Booking.rating)) if rating is not None]
    return len(ratings), (sum(ratings) / len(ratings) if ratings else None)


# --- reading bookings ------------------------------------------------------------------------------------


async def teacher_booking(session: AsyncSession, teacher_id: int, booking_id: int) -> Booking | None:
    booking = await session.get(Booking, booking_id)
    return booking if booking is not None and booking.teacher_id == teacher_id else None


async def psychologist_booking(
    session: AsyncSession, profile: PsychologistProfile, booking_id: int
) -> Booking | None:
    booking = await session.get(Booking, booking_id)
    return booking if booking is not None and booking.slot.psychologist_id == profile.id else None


async def upcoming_for_teacher(session: AsyncSession, teacher_id: int, now: datetime) -> list[Booking]:
    bookings = await session.scalars(
        select(Booking)
        .join(Slot, Slot.id == Booking.slot_id)
        .where(
            Booking.teacher_id == teacher_id,
            Booking.state.in_(UPCOMING_STATES),
            Slot.starts_at > now - timedelta(hours=3),
        )
        .order_by(Slot.starts_at)
    )
    return list(bookings.unique())


async def upcoming_bookings(session: AsyncSession, start: datetime, end: datetime) -> list[Booking]:
    """Booked or confirmed consultations starting in [start, end), earliest first (for reminders).
    Each has `.slot` (time, format, `.psychologist` with `.user`) and `.teacher` loaded."""
    bookings = await session.scalars(
        select(Booking)
        .join(Slot, Slot.id == Booking.slot_id)
        .where(Booking.state.in_(UPCOMING_STATES), Slot.starts_at >= start, Slot.starts_at < end)
        .order_by(Slot.starts_at)
    )
    return list(bookings.unique())


async def booking_by_id(session: AsyncSession, booking_id: int) -> Booking | None:
    return await session.get(Booking, booking_id)


@functools.cache
def _noticed() -> Select[Booking]:
    """A booking as its notices show it (bot/workers/notices.py), built once: what none of them
    shows is not read, so not decrypted — the intake, the rating's comment, the room, the slot's
    and the profile's links, the bios, and the psychologist's user row (the notice to them has
    it as its recipient)."""
    profile = joinedload(Booking.slot).joinedload(Slot.psychologist)
    return (
        select(Booking)
        .where(Booking.id == bindparam("booking_id"))
        .options(
            defer(Booking.intake, raiseload=True),
            defer(Booking.shared, raiseload=True),
            defer(Booking.rating_comment, raiseload=True),
            defer(Booking.room, raiseload=True),
            joinedload(Booking.slot).defer(Slot.video_link, raiseload=True),
            profile.defer(PsychologistProfile.video_link, raiseload=True),
            profile.defer(PsychologistProfile.bio_kk, raiseload=True),
            profile.defer(PsychologistProfile.bio_ru, raiseload=True),
            profile.raiseload(PsychologistProfile.user),
        )
    )


NOTICED = "noticed_bookings"  # Session.info: (the transaction, the bookings its notices read)


async def noticed_booking(session: AsyncSession, booking_id: int) -> Booking | None:
    """The booking with what a notice about it shows (`_noticed`), read once per transaction: the
    notices of one change (the psychologist's and the teacher's .ics) go out in one. Reading it
    again would give the same: the session keeps the instance it loaded first."""
    read: tuple[Any, dict[int, Booking | None]] | None = session.info.get(NOTICED)
    transaction = session.sync_session.get_transaction()
    if read is not None and transaction is not None and read[0] is transaction and booking_id in read[1]:
        return read[1][booking_id]
    booking = await session.scalar(_noticed(), {"booking_id": booking_id})
    transaction = session.sync_session.get_transaction()
    if read is None or read[0] is not transaction:
        read = session.info[NOTICED] = (transaction, {})
    read[1][booking_id] = booking
    return booking


# --- demo data -------------------------------------------------------------------------------------------


async def demo_profiles(session: AsyncSession) -> list[PsychologistProfile]:
    return list(
        (
            await session.scalars(select(PsychologistProfile).where(PsychologistProfile.demo.is_(True)))
        ).unique()
    )


async def remove_demo(session: AsyncSession) -> int:
    """Deletes demo psychologists' users; their profiles, slots and bookings cascade."""
    profiles = await demo_profiles(session)
    for profile in profiles:
        await session.delete(profile.user)
    await session.flush()
    return len(profiles)


async def office_regions(session: AsyncSession) -> list[str]:
    """Region codes where a published psychologist receives in a cabinet."""
    profiles = await session.scalars(
        select(PsychologistProfile).where(
            PsychologistProfile.published.is_(True), PsychologistProfile.formats.contains("office")
        )
    )
    return sorted({code for profile in profiles.unique() for code in profile.region_list})


# --- waiting for a time to open ------------------------------------------------------------------------


async def add_wait(session: AsyncSession, teacher_id: int, filters: Filters) -> None:
    """Once per teacher and filters (asking again changes nothing)."""
    values = {
        "teacher_id": teacher_id,
        "format": filters.fmt,
        "language": filters.language,
        "region": filters.region,
        "psychologist_id": filters.psychologist,
    }
    found = await session.scalar(select(BookingWait.id).filter_by(**values))
    if found is None:
        session.add(BookingWait(**values))
        await session.flush()


async def waits(session: AsyncSession) -> list[BookingWait]:
    """Every wait, the longest waiting first."""
    return list(await session.scalars(select(BookingWait).order_by(BookingWait.created_at, BookingWait.id)))


async def waits_of(session: AsyncSession, teacher_id: int) -> int:
    return (
        await session.scalar(select(func.count(BookingWait.id)).where(BookingWait.teacher_id == teacher_id))
        or 0
    )


async def remove_waits_of(session: AsyncSession, teacher_id: int) -> None:
    await session.execute(delete(BookingWait).where(BookingWait.teacher_id == teacher_id))


def wait_filters(wait: BookingWait) -> Filters:
    return Filters(wait.format, wait.language, wait.region, wait.psychologist_id)


async def remove_wait(session: AsyncSession, wait: BookingWait) -> None:
    await session.delete(wait)
    await session.flush()
