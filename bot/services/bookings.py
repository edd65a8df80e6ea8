"""The booking rules: how soon and how far ahead a slot can be booked, how many bookings a teacher
holds at once, when a cancel is late, which marks a psychologist may set.

Every change is published as `BookingChanged` in the caller's transaction, so what follows a
booking (its reminders, its chat) commits or rolls back with it; bot/app.py lists the subscribers.
The reminders and notices they return are written together, in one statement.
For RESCHEDULED the booking is the new one and `booking.previous_id` names the old one (now MOVED).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import BookingConfig, LimitsConfig
from bot.events import BookingChange, BookingChanged, Events
from bot.services import tallies
from bot.services.limits import DAY, booking_allowed
from bot.services.rooms import prepare_booking
from storage.models import Booking, BookingWait, Slot, User
from storage.models.booking import ATTENDED, BOOKED, CANCELLED, CONFIRMED, MOVED, NO_SHOW, UPCOMING_STATES
from storage.repo import booking as repo
from storage.repo import reminders
from storage.repo.booking import Filters

__all__ = ["BookResult", "BookStatus", "Bookings", "Filters"]


class BookStatus(enum.StrEnum):
    OK = "ok"
    TAKEN = "taken"  # someone was faster
    GONE = "gone"  # the slot was removed, is too soon or beyond the horizon
    LIMIT = "limit"  # the teacher already holds max_active upcoming bookings
    STALE = "stale"  # nothing to reschedule any more
    DAILY = "daily"  # the teacher made as many bookings in the last 24 hours as allowed


@dataclass(frozen=True)
class BookResult:
    """`booking`: the one booked when OK; `previous`: the slot it was moved from (rescheduling)."""

    status: BookStatus
    booking: Booking | None = None
    previous: Slot | None = None
    first: bool = False  # the teacher's first session with this psychologist

    @property
    def ok(self) -> bool:
        return self.status is BookStatus.OK


def _days(slots: list[Slot], tz: ZoneInfo) -> list[date]:
    return sorted({slot.starts_at.astimezone(tz).date() for slot in slots})


# The psychologist's marks and the change each publishes.
_MARKS = {
    CONFIRMED: BookingChange.CONFIRMED,
    ATTENDED: BookingChange.ATTENDED,
    NO_SHOW: BookingChange.NO_SHOW,
}


class Bookings:
    def __init__(self, rules: BookingConfig, events: Events) -> None:
        self.rules, self.events = rules, events

    # --- what can be booked --------------------------------------------------------------------------------

    def _window(self, now: datetime) -> tuple[datetime, datetime]:
        """The widest window: psychologists who accept short notice may be booked sooner (_in_notice)."""
        rules = self.rules
        return now + min(rules.min_notice, rules.urgent_notice), now + timedelta(days=rules.horizon_days)

    def _in_notice(self, slot: Slot, now: datetime) -> bool:
        notice = self.rules.urgent_notice if slot.psychologist.short_notice else self.rules.min_notice
        return slot.starts_at >= now + notice

    async def free_slots(
        self,
        session: AsyncSession,
        filters: Filters,
        now: datetime,
        start: datetime | None = None,
        end: datetime | None = None,
        slot_id: int | None = None,
    ) -> list[Slot]:
        """Free, bookable slots matching the filters, earliest first (optionally within [start, end),
        or just the one with `slot_id`)."""
        first, last = self._window(now)
        found = await repo.free_slots(
            session, filters, max(first, start or first), min(last, end or last), slot_id
        )
        return [slot for slot in found if self._in_notice(slot, now)]

    async def earliest(self, session: AsyncSession, now: datetime, limit: int) -> list[Slot]:
        """The earliest free slots of every format, language and region (the safety screen's offer)."""
        first, last = self._window(now)
        # Slots too soon for their psychologist's notice are skipped: look a little further than `limit`.
        found = await repo.free_slots_any(session, first, last, limit * 4)
        return [slot for slot in found if self._in_notice(slot, now)][:limit]

    async def free_days(
        self, session: AsyncSession, filters: Filters, now: datetime, tz: ZoneInfo
    ) -> list[date]:
        return _days(await self.free_slots(session, filters, now), tz)

    async def search(
        self, session: AsyncSession, teacher: User, filters: Filters, now: datetime, tz: ZoneInfo
    ) -> list[date]:
        """The free days of a new search, counted (once per search, bot/services/tallies.py) by how
        soon its first free time is: the month's tally of the teacher's region and the format."""
        slots = await self.free_slots(session, filters, now)
        first = slots[0].starts_at if slots else None
        await tallies.searched(session, teacher.region, filters.fmt, first, now, tz)
        return _days(slots, tz)

    async def free_slots_on(
        self, session: AsyncSession, filters: Filters, now: datetime, tz: ZoneInfo, day: date
    ) -> list[Slot]:
        start = datetime.combine(day, time(0), tz)
        return await self.free_slots(session, filters, now, start, start + timedelta(days=1))

    async def _bookable(self, session: AsyncSession, slot_id: int, now: datetime) -> Slot | None:
        slot = await repo.slot_by_id(session, slot_id)
        first, last = self._window(now)
        if (
            slot is None
            or slot.removed
            or not slot.psychologist.published
            or not first <= slot.starts_at < last
        ):
            return None
        return slot if self._in_notice(slot, now) else None

    async def _lost(self, session: AsyncSession, slot_id: int) -> BookResult:
        """Why a hold failed: someone booked the slot, or it was removed or unpublished meanwhile."""
        return BookResult(BookStatus.TAKEN if await repo.held(session, slot_id) else BookStatus.GONE)

    # --- a teacher's bookings ------------------------------------------------------------------------------

    async def at_limit(self, session: AsyncSession, teacher: User, now: datetime) -> bool:
        """The teacher already holds as many upcoming bookings as allowed."""
        return await repo.active_count(session, teacher.id, now) >= self.rules.max_active

    async def upcoming(self, session: AsyncSession, teacher: User, now: datetime) -> list[Booking]:
        """The teacher's upcoming bookings that have not begun, soonest first."""
        found = await repo.upcoming_for_teacher(session, teacher.id, now)
        return [booking for booking in found if booking.slot.starts_at > now]

    async def own_upcoming(
        self, session: AsyncSession, teacher: User, booking_id: int, now: datetime
    ) -> Booking | None:
        """The teacher's own booking while it is upcoming and has not begun."""
        booking = await repo.teacher_booking(session, teacher.id, booking_id)
        if booking is None or not booking.upcoming or booking.slot.starts_at <= now:
            return None
        return booking

    # --- changes -------------------------------------------------------------------------------------------

    async def _publish(self, session: AsyncSession, booking: Booking, change: BookingChange) -> None:
        """Tell the subscribers; the reminders and notices they plan are written in one statement."""
        planned = await self.events.publish(BookingChanged(session, booking, change))
        await reminders.schedule_all(session, planned)

    async def book(
        self,
        session: AsyncSession,
        teacher: User,
        slot_id: int,
        note: str | None,
        now: datetime,
        limits: LimitsConfig | None = None,
    ) -> BookResult:
        """Book the slot. The teacher's limits (the day's bookings of `limits`, `max_active`
        upcoming ones) are checked by the insert itself; only a refusal looks for why, in the
        order the teacher is told: the day's limit, the slot gone, too many upcoming, taken."""
        slot = await self._bookable(session, slot_id, now)
        held = None
        if slot is not None:
            draft = Booking(note=note or None)
            prepare_booking(draft)
            held = await repo.hold(session, draft, slot, teacher, self._limits(now, limits))
        if held is None:
            return await self._refused(session, teacher, slot, now, limits)
        await self._publish(session, held.booking, BookingChange.BOOKED)
        return BookResult(BookStatus.OK, held.booking, first=held.first)

    def _limits(self, now: datetime, limits: LimitsConfig | None) -> repo.Limits:
        per_day = limits.bookings_per_day if limits is not None else None
        return repo.Limits(now, self.rules.max_active, now - DAY, per_day)

    async def _refused(
        self,
        session: AsyncSession,
        teacher: User,
        slot: Slot | None,
        now: datetime,
        limits: LimitsConfig | None,
    ) -> BookResult:
        if limits is not None and not await booking_allowed(session, teacher, limits, now):
            return BookResult(BookStatus.DAILY)
        if slot is None:
            return BookResult(BookStatus.GONE)
        if await self.at_limit(session, teacher, now):
            return BookResult(BookStatus.LIMIT)
        return await self._lost(session, slot.id)

    async def reschedule(
        self, session: AsyncSession, booking: Booking, slot_id: int, now: datetime
    ) -> BookResult:
        """Take the new slot first; only then release the old one. In the caller's transaction: the
        teacher never ends up with neither or both."""
        if not booking.upcoming or booking.slot.starts_at <= now:
            return BookResult(BookStatus.STALE)
        slot = await self._bookable(session, slot_id, now)
        if slot is None or slot.id == booking.slot_id:
            return BookResult(BookStatus.GONE)
        draft = Booking(note=booking.note, previous_id=booking.id)
        prepare_booking(draft, booking)  # a new room; the calendar event is the same, updated
        held = await repo.hold(session, draft, slot, booking.teacher)
        if held is None:
            return await self._lost(session, slot.id)
        await repo.release(session, booking, MOVED)
        await self._publish(session, held.booking, BookingChange.RESCHEDULED)
        return BookResult(BookStatus.OK, held.booking, booking.slot, held.first)

    async def move(
        self, session: AsyncSession, teacher: User, booking_id: int, slot_id: int, now: datetime
    ) -> BookResult:
        """Reschedule the teacher's own booking; STALE when there is no such booking of theirs."""
        booking = await repo.teacher_booking(session, teacher.id, booking_id)
        if booking is None:
            return BookResult(BookStatus.STALE)
        return await self.reschedule(session, booking, slot_id, now)

    def is_late_cancel(self, booking: Booking, now: datetime) -> bool:
        return booking.slot.starts_at - now < self.rules.cancel_cutoff

    async def cancel(
        self, session: AsyncSession, booking: Booking, by: str, now: datetime, reason: str | None = None
    ) -> bool:
        """Cancel an upcoming booking (by "teacher" or "psychologist"); False when it is not upcoming."""
        if not booking.upcoming:
            return False
        booking.cancelled_by, booking.cancel_reason = by, reason or None
        booking.late_cancel = by == "teacher" and self.is_late_cancel(booking, now)
        await repo.release(session, booking, CANCELLED)
        await self._publish(session, booking, BookingChange.CANCELLED)
        return True

    async def mark(self, session: AsyncSession, booking: Booking, state: str, now: datetime) -> bool:
        """The psychologist's marks: confirm an upcoming booking; attended / no-show once it has started."""
        if state == CONFIRMED and booking.state == BOOKED:
            booking.state = CONFIRMED
        elif (
            state in (ATTENDED, NO_SHOW)
            and booking.state in UPCOMING_STATES
            and booking.slot.starts_at <= now
        ):
            booking.state = state
        else:
            return False
        await session.flush()
        await self._publish(session, booking, _MARKS[state])
        return True

    async def cancel_all_for_teacher(
        self, session: AsyncSession, teacher: User, now: datetime
    ) -> list[Booking]:
        """Cancels the teacher's upcoming bookings (before their data is erased); returns them."""
        return [
            booking
            for booking in await self.upcoming(session, teacher, now)
            if await self.cancel(session, booking, "teacher", now)
        ]

    async def cancel_all_of(
        self, session: AsyncSession, bookings: list[Booking], now: datetime
    ) -> list[Booking]:
        """A psychologist's bookings ahead, cancelled by them (a deactivation); those that were upcoming."""
        return [booking for booking in bookings if await self.cancel(session, booking, "psychologist", now)]

    # --- waiting for a time to open --------------------------------------------------------------------

    async def wait_for(self, session: AsyncSession, teacher: User, filters: Filters) -> None:
        """Tell this teacher, once, when a time with these filters opens."""
        await repo.add_wait(session, teacher.id, filters)

    async def match_waits(self, session: AsyncSession, now: datetime) -> list[tuple[BookingWait, Slot]]:
        """Waits that a free time now answers; each free time goes to one teacher, the longest
        waiting first (several told of one time would race for it). A wait older than the booking
        horizon is dropped."""
        given: set[int] = set()
        matched = []
        oldest = now - timedelta(days=self.rules.horizon_days)
        for wait in await repo.waits(session):
            if wait.created_at < oldest:  # asked longer ago than times are published ahead: let go
                await repo.remove_wait(session, wait)
                continue
            free = [
                s for s in await self.free_slots(session, repo.wait_filters(wait), now) if s.id not in given
            ]
            if free:
                given.add(free[0].id)
                matched.append((wait, free[0]))
        return matched
