"""Individual consultations: profiles, slots, bookings. Handlers and reminders call these.

Every change to a booking runs the BOOKING_CHANGED hooks in the caller's transaction with
(session, booking, event), event one of EVENTS, so other features (reminders) follow bookings
without this module importing them. For "rescheduled" the booking is the new one and
`booking.previous_id` names the old one (now MOVED).

One live booking per slot is the database's job: a partial unique index (see the models);
`_insert_holding` uses INSERT ... ON CONFLICT DO NOTHING against it, so the loser of a race
gets "taken" without an exception and its transaction stays usable.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import BookingConfig
from storage.models import Booking, PsychologistProfile, Slot, User
from storage.models.base import utcnow
from storage.models.booking import (
    ATTENDED,
    BOOKED,
    CANCELLED,
    CONFIRMED,
    FORMATS,
    MOVED,
    NO_SHOW,
    UPCOMING_STATES,
)

EVENTS = ("booked", "rescheduled", "cancelled", "confirmed", "attended", "no_show")
BookingHook = Callable[[AsyncSession, Booking, str], Awaitable[None]]
BOOKING_CHANGED: list[BookingHook] = []


async def _changed(session: AsyncSession, booking: Booking, event: str) -> None:
    for hook in BOOKING_CHANGED:
        await hook(session, booking, event)


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


def _holds(slot_id) -> object:
    return exists().where(Booking.slot_id == slot_id, Booking.holds.is_(True))


async def _holding_booking(session: AsyncSession, slot_id: int) -> Booking | None:
    return await session.scalar(select(Booking).where(Booking.slot_id == slot_id, Booking.holds.is_(True)))


async def remove_slot(session: AsyncSession, profile: PsychologistProfile, slot_id: int) -> bool:
    """Only a free slot of this psychologist can be removed; False otherwise."""
    slot = await session.get(Slot, slot_id)
    if slot is None or slot.psychologist_id != profile.id or slot.removed:
        return False
    if await _holding_booking(session, slot_id) is not None:
        return False
    slot.removed = True
    return True


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


def _bookable_window(rules: BookingConfig, now: datetime) -> tuple[datetime, datetime]:
    """The widest window: psychologists who accept short notice may be booked sooner (_in_notice)."""
    return now + min(rules.min_notice, rules.urgent_notice), now + timedelta(days=rules.horizon_days)


def _in_notice(slot: Slot, rules: BookingConfig, now: datetime) -> bool:
    notice = rules.urgent_notice if slot.psychologist.short_notice else rules.min_notice
    return slot.starts_at >= now + notice


def _matches(profile: PsychologistProfile, filters: Filters) -> bool:
    if not profile.published or filters.fmt not in profile.format_list:
        return False
    if filters.language and filters.language not in profile.language_list:
        return False
    return not (filters.fmt == "office" and filters.region and filters.region not in profile.region_list)


async def free_slots(
    session: AsyncSession,
    filters: Filters,
    rules: BookingConfig,
    now: datetime,
    start: datetime | None = None,
    end: datetime | None = None,
    slot_id: int | None = None,
) -> list[Slot]:
    """Free, bookable slots matching the filters, earliest first (optionally within [start, end),
    or just the one with `slot_id`)."""
    first, last = _bookable_window(rules, now)
    start, end = max(first, start or first), min(last, end or last)
    query = select(Slot) if slot_id is None else select(Slot).where(Slot.id == slot_id)
    slots = await session.scalars(
        query.join(PsychologistProfile, PsychologistProfile.id == Slot.psychologist_id)
        .where(
            Slot.removed.is_(False),
            Slot.format == filters.fmt,
            Slot.starts_at >= start,
            Slot.starts_at < end,
            PsychologistProfile.published.is_(True),
            ~_holds(Slot.id),
        )
        .order_by(Slot.starts_at, Slot.id)
    )
    return [
        slot
        for slot in slots.unique()
        if _matches(slot.psychologist, filters) and _in_notice(slot, rules, now)
    ]


async def earliest_slots(
    session: AsyncSession, rules: BookingConfig, now: datetime, limit: int
) -> list[Slot]:
    """The earliest free slots of every format, language and region (the safety screen's offer)."""
    first, last = _bookable_window(rules, now)
    slots = await session.scalars(
        select(Slot)
        .join(PsychologistProfile, PsychologistProfile.id == Slot.psychologist_id)
        .where(
            Slot.removed.is_(False),
            Slot.starts_at >= first,
            Slot.starts_at < last,
            PsychologistProfile.published.is_(True),
            ~_holds(Slot.id),
        )
        .order_by(Slot.starts_at, Slot.id)
        .limit(limit * 4)
    )
    found = [
        slot
        for slot in slots.unique()
        if slot.format in slot.psychologist.format_list and _in_notice(slot, rules, now)
    ]
    return found[:limit]


async def free_days(
    session: AsyncSession, filters: Filters, rules: BookingConfig, now: datetime, tz: ZoneInfo
) -> list[date]:
    days = {slot.starts_at.astimezone(tz).date() for slot in await free_slots(session, filters, rules, now)}
    return sorted(days)


async def free_slots_on(
    session: AsyncSession, filters: Filters, rules: BookingConfig, now: datetime, tz: ZoneInfo, day: date
) -> list[Slot]:
    start = datetime.combine(day, time(0), tz)
    return await free_slots(session, filters, rules, now, start, start + timedelta(days=1))


# --- booking ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BookResult:
    # "ok"; "taken" (someone was faster); "gone" (slot removed, too soon or beyond the horizon);
    # "limit" (the teacher already has max_active upcoming bookings); "stale" (nothing to reschedule)
    status: str
    booking: Booking | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


async def active_count(session: AsyncSession, teacher_id: int, now: datetime) -> int:
    return (
        await session.scalar(
            select(func.count(Booking.id))
            .join(Slot, Slot.id == Booking.slot_id)
            .where(Booking.teacher_id == teacher_id, Booking.state.in_(UPCOMING_STATES), Slot.starts_at > now)
        )
        or 0
    )


async def _insert_holding(
    session: AsyncSession, slot_id: int, teacher_id: int, note: str | None, previous_id: int | None
) -> int | None:
    """The new booking's id, or None when another booking holds the slot (the unique index said no)."""
    dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
    now = utcnow()
    statement = (
        dialect.insert(Booking)
        .values(
            slot_id=slot_id,
            teacher_id=teacher_id,
            state=BOOKED,
            holds=True,
            note=note,
            previous_id=previous_id,
            late_cancel=False,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=[Booking.slot_id], index_where=text("holds"))
        .returning(Booking.id)
    )
    return await session.scalar(statement)


async def _bookable_slot(
    session: AsyncSession, slot_id: int, rules: BookingConfig, now: datetime
) -> Slot | None:
    slot = await session.get(Slot, slot_id)
    first, last = _bookable_window(rules, now)
    if slot is None or slot.removed or not slot.psychologist.published or not first <= slot.starts_at < last:
        return None
    return slot if _in_notice(slot, rules, now) else None


async def book(
    session: AsyncSession, teacher: User, slot_id: int, note: str | None, rules: BookingConfig, now: datetime
) -> BookResult:
    slot = await _bookable_slot(session, slot_id, rules, now)
    if slot is None:
        return BookResult("gone")
    if await active_count(session, teacher.id, now) >= rules.max_active:
        return BookResult("limit")
    booking_id = await _insert_holding(session, slot.id, teacher.id, note or None, None)
    if booking_id is None:
        return BookResult("taken")
    booking = await session.get(Booking, booking_id)
    await _changed(session, booking, "booked")
    return BookResult("ok", booking)


async def reschedule(
    session: AsyncSession, booking: Booking, slot_id: int, rules: BookingConfig, now: datetime
) -> BookResult:
    """Take the new slot first; only then release the old one. In the caller's transaction: the
    teacher never ends up with neither or both."""
    if not booking.upcoming or booking.slot.starts_at <= now:
        return BookResult("stale")
    slot = await _bookable_slot(session, slot_id, rules, now)
    if slot is None or slot.id == booking.slot_id:
        return BookResult("gone")
    new_id = await _insert_holding(session, slot.id, booking.teacher_id, booking.note, booking.id)
    if new_id is None:
        return BookResult("taken")
    booking.state, booking.holds = MOVED, False
    await session.flush()
    new = await session.get(Booking, new_id)
    await _changed(session, new, "rescheduled")
    return BookResult("ok", new)


def is_late_cancel(booking: Booking, rules: BookingConfig, now: datetime) -> bool:
    return booking.slot.starts_at - now < rules.cancel_cutoff


async def cancel(
    session: AsyncSession,
    booking: Booking,
    by: str,
    rules: BookingConfig,
    now: datetime,
    reason: str | None = None,
) -> bool:
    """Cancel an upcoming booking (by "teacher" or "psychologist"); False when it is not upcoming."""
    if not booking.upcoming:
        return False
    booking.state, booking.holds, booking.cancelled_by = CANCELLED, False, by
    booking.cancel_reason = reason or None
    booking.late_cancel = by == "teacher" and is_late_cancel(booking, rules, now)
    await session.flush()
    await _changed(session, booking, "cancelled")
    return True


async def set_state(session: AsyncSession, booking: Booking, state: str, now: datetime) -> bool:
    """Psychologist's marks: confirm an upcoming booking; attended / no-show once it has started."""
    if state == CONFIRMED and booking.state == BOOKED:
        booking.state = CONFIRMED
    elif state in (ATTENDED, NO_SHOW) and booking.state in UPCOMING_STATES and booking.slot.starts_at <= now:
        booking.state = state
    else:
        return False
    await session.flush()
    await _changed(session, booking, state)
    return True


async def rate(session: AsyncSession, booking: Booking, rating: int, comment: str | None = None) -> bool:
    if booking.state != ATTENDED or not 1 <= rating <= 5:
        return False
    booking.rating = rating
    if comment is not None:
        booking.rating_comment = comment
    return True


async def rating_summary(session: AsyncSession) -> tuple[int, float | None]:
    """(how many rated, their mean): what coordinators see, never single ratings."""
    count, mean = (await session.execute(select(func.count(Booking.rating), func.avg(Booking.rating)))).one()
    return count, (float(mean) if mean is not None else None)


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


# --- deleting a teacher's data ---------------------------------------------------------------------------


async def cancel_all_for_teacher(
    session: AsyncSession, teacher: User, rules: BookingConfig, now: datetime
) -> list[Booking]:
    """Cancels the teacher's upcoming bookings (the rows then go with the user); returns them."""
    cancelled = []
    for booking in await upcoming_for_teacher(session, teacher.id, now):
        if booking.slot.starts_at > now and await cancel(session, booking, "teacher", rules, now):
            cancelled.append(booking)
    return cancelled


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
