"""Group-session rules for teachers: which sessions can still be joined, who sees who comes, what a
rating may be. Seats themselves (places, the waitlist, offers) are decided under a lock in
storage/repo/groups.py."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import TypeGuard
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.periods import SETTLE
from storage.models import GroupSession, User
from storage.repo import groups, staff

SCORES = range(1, 6)
# How long after a session ends its attendance may be reported or corrected: until its month's
# statistics settle (bot/services/periods.py), after which no published figure would move.
ATTENDANCE_WINDOW = SETTLE


def joinable(group: GroupSession | None, now: datetime) -> TypeGuard[GroupSession]:
    """Still open and not begun: what a press on one session (view, join, leave, accept) needs."""
    return group is not None and group.status == "open" and group.starts_at > now


def month_of(now: datetime, tz: ZoneInfo, ahead: int) -> tuple[date, datetime, datetime]:
    """The local calendar month `ahead` months after now's (0: this one): its first day, and the
    moments it starts and ends at (the end is the next month's start)."""
    today = now.astimezone(tz).date()

    def first(months: int) -> date:
        index = today.month - 1 + months
        return date(today.year + index // 12, index % 12 + 1, 1)

    start, after = first(ahead), first(ahead + 1)
    return start, datetime.combine(start, time(), tz), datetime.combine(after, time(), tz)


def leads(group: GroupSession, user: User) -> bool:
    """Only the facilitator sees who comes, and not once deactivated."""
    return group.facilitator_id == user.id and not staff.deactivated(user)


def ends_at(group: GroupSession) -> datetime:
    return group.starts_at + timedelta(minutes=group.duration_min)


def reportable(group: GroupSession | None, now: datetime) -> TypeGuard[GroupSession]:
    """Open and ended within ATTENDANCE_WINDOW: how many came may be told (or corrected)."""
    return (
        group is not None
        and group.status == "open"
        and ends_at(group) <= now < ends_at(group) + ATTENDANCE_WINDOW
    )


def led_since(now: datetime) -> datetime:
    """The earliest start of a session still on its facilitator's list (one ended longer ago than
    ATTENDANCE_WINDOW is filtered out by `still_led`)."""
    return now - ATTENDANCE_WINDOW - timedelta(days=1)


def still_led(group: GroupSession, now: datetime) -> bool:
    """On its facilitator's list: ahead, under way, or ended and its attendance still reportable."""
    return now < ends_at(group) + ATTENDANCE_WINDOW


async def report_attendance(session: AsyncSession, group: GroupSession, count: int, now: datetime) -> bool:
    """How many came, from 0 to those enrolled; False when it may not be told (any more)."""
    if not reportable(group, now) or not 0 <= count <= await groups.enrolled(session, group.id):
        return False
    group.attended = count
    await session.flush()
    return True


async def rate(session: AsyncSession, group_id: int, user_id: int, score: int) -> bool:
    """A score from a teacher who was enrolled and asked for it; False when rating is closed."""
    if score not in SCORES or not await groups.can_rate(session, group_id, user_id):
        return False
    await groups.rate(session, group_id, user_id, score)
    return True
