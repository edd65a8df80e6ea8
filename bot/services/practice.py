"""A psychologist's practice: the rules of private notes, continuity by the teacher's consent, the
intake before a first session, duty coverage and the caseload. Plain Python on storage.

Notes are their author's alone: every function here that reads or writes one takes the author and
finds the booking or group session only if it is theirs (a psychologist's own booking, a group
they facilitate). Nothing here lists notes for anyone else, and nothing exports them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import groups as group_rules
from bot.services.text import truncate_utf16
from storage.models import Booking, DutyHours, GroupSession, User
from storage.models.practice import INTAKE_TEXT_LIMIT, NEXT_STEP_LIMIT, NOTE_TEXT_LIMIT
from storage.repo import booking as booking_repo
from storage.repo import chat as chat_repo
from storage.repo import groups as groups_repo
from storage.repo import practice as repo

# Topics a note or an intake may tick (codes; their names are `practice-topic-<code>`).
TOPICS = ("stress", "burnout", "anxiety", "mood", "conflict", "family", "grief", "sleep")
TEXT, NEXT = "t", "n"  # a note's free-text fields
LIMITS = {TEXT: NOTE_TEXT_LIMIT, NEXT: NEXT_STEP_LIMIT}
URGENCIES = (0, 1, 2)  # can wait · soon · very urgent (the safety screen)
URGENT = 2
MARK_WINDOW = timedelta(days=14)  # sessions this recent still wait for attended / no-show
DUTY_DAY = (6, 24)  # the hours a duty window may cover (handlers/psychologist/duty.HOURS)


def empty_note() -> dict[str, Any]:
    return {TEXT: "", "k": [], NEXT: ""}


def with_text(body: dict[str, Any] | None, field_name: str, text: str) -> dict[str, Any]:
    """The note with one free-text field set (cut to its limit); unknown fields are refused."""
    if field_name not in LIMITS:
        raise ValueError(field_name)
    return (body or empty_note()) | {field_name: truncate_utf16(text.strip(), LIMITS[field_name])}


def toggled(codes: list[str], code: str) -> list[str]:
    """A topic ticked or unticked; codes kept in TOPICS order, unknown ones ignored."""
    if code not in TOPICS:
        return list(codes)
    chosen = set(codes) ^ {code}
    return [topic for topic in TOPICS if topic in chosen]


async def own_booking(session: AsyncSession, author: User, booking_id: int) -> Booking | None:
    """The booking, if `author` is its psychologist; None for anyone else (another psychologist, staff)."""
    if author.role != "psychologist":
        return None
    profile = await booking_repo.profile_of(session, author.id)
    if profile is None:
        return None
    return await booking_repo.psychologist_booking(session, profile, booking_id)


async def own_group(session: AsyncSession, author: User, group_id: int) -> GroupSession | None:
    if author.role != "psychologist":
        return None
    return await repo.facilitated(session, author.id, group_id)


async def booking_note(session: AsyncSession, author: User, booking: Booking) -> dict[str, Any]:
    note = await repo.booking_note(session, author.id, booking.id)
    return note.body if note is not None else empty_note()


async def group_note(session: AsyncSession, author: User, group: GroupSession) -> dict[str, Any]:
    note = await repo.group_note(session, author.id, group.id)
    return note.body if note is not None else empty_note()


async def save_booking_note(
    session: AsyncSession, author: User, booking: Booking, body: dict[str, Any]
) -> None:
    await repo.save_note(session, author.id, body, booking_id=booking.id)


async def save_group_note(
    session: AsyncSession, author: User, group: GroupSession, body: dict[str, Any]
) -> None:
    await repo.save_note(session, author.id, body, group_id=group.id)


# ── continuity ───────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Earlier:
    booking: Booking
    note: dict[str, Any] | None  # the author's own note on it, if they wrote one
    shared: list[str]  # instruments of the self-check results the teacher shared for it


async def history(session: AsyncSession, author: User, booking: Booking) -> list[Earlier] | None:
    """The teacher's earlier sessions with this psychologist, the psychologist's own notes on them
    and the results the teacher chose to share for them, when the teacher allowed it; None when not (the psychologist then sees nothing of them)."""
    if not await repo.allows(session, booking.teacher_id, booking.slot.psychologist):
        return None
    earlier = await repo.earlier_sessions(session, booking)
    notes = await repo.booking_notes(session, author.id, [b.id for b in earlier])
    shared = await repo.shared_results(session, [b.id for b in earlier])
    return [Earlier(b, notes.get(b.id), shared.get(b.id, [])) for b in earlier]


# ── intake ───────────────────────────────────────────────────────────────────


def intake_answers(topics: list[str], text: str, language: str, urgency: int, before: bool) -> dict[str, Any]:
    return {
        "k": [topic for topic in TOPICS if topic in topics],
        "t": truncate_utf16(text.strip(), INTAKE_TEXT_LIMIT),
        "l": language if language in ("kk", "ru") else "",
        "u": urgency if urgency in URGENCIES else 0,
        "b": before,
    }


def is_urgent(answers: dict[str, Any] | None) -> bool:
    return answers is not None and answers.get("u") == URGENT


async def may_take_intake(session: AsyncSession, teacher: User, booking_id: int) -> Booking | None:
    """The teacher's own upcoming booking that is their first with its psychologist, or None."""
    booking = await booking_repo.teacher_booking(session, teacher.id, booking_id)
    if booking is None or not booking.upcoming or not await repo.first_with(session, booking):
        return None
    return booking


# ── duty coverage ────────────────────────────────────────────────────────────


def uncovered(hours: list[DutyHours], day: tuple[int, int] = DUTY_DAY) -> dict[int, list[tuple[int, int]]]:
    """Per weekday (0 Monday), the whole hours of `day` (start, end) in which nobody is on duty,
    as ranges (start hour, end hour); a window covers an hour if it covers any of it."""
    gaps: dict[int, list[tuple[int, int]]] = {}
    for weekday in range(7):
        windows = [row for row in hours if row.weekday == weekday]
        free = [
            hour
            for hour in range(*day)
            if not any(row.start_min < (hour + 1) * 60 and hour * 60 < row.end_min for row in windows)
        ]
        ranges: list[tuple[int, int]] = []
        for hour in free:
            if ranges and ranges[-1][1] == hour:
                ranges[-1] = (ranges[-1][0], hour + 1)
            else:
                ranges.append((hour, hour + 1))
        if ranges:
            gaps[weekday] = ranges
    return gaps


async def coverage(session: AsyncSession, region: str | None) -> dict[int, list[tuple[int, int]]]:
    """A coordinator's view of their region's duty: when nobody is on duty, never who did what."""
    return uncovered(await repo.region_duty_hours(session, region))


# ── caseload ─────────────────────────────────────────────────────────────────


@dataclass
class Caseload:
    today: list[Booking] = field(default_factory=list)
    week: list[Booking] = field(default_factory=list)
    groups: list[GroupSession] = field(default_factory=list)
    waiting: list[Booking] = field(default_factory=list)  # attended / no-show not said yet
    uncounted: list[GroupSession] = field(default_factory=list)  # led, ended, how many came not told yet
    questions: int = 0
    urgent: set[int] = field(default_factory=set)  # bookings whose intake said "very urgent"


async def uncounted(session: AsyncSession, facilitator: User, now: datetime) -> list[GroupSession]:
    """Group sessions they led whose attendance may still be told and is not, the oldest first."""
    led = await groups_repo.led_by(session, facilitator.id, group_rules.led_since(now))
    return [group for group in led if group.attended is None and group_rules.reportable(group, now)]


async def caseload(session: AsyncSession, psychologist: User, now: datetime, tz: tzinfo) -> Caseload:
    profile = await booking_repo.ensure_profile(session, psychologist)
    local = now.astimezone(tz)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    tomorrow = midnight + timedelta(days=1)
    week_end = midnight + timedelta(days=7 - local.weekday())
    week = await repo.bookings_between(session, profile.id, midnight, week_end)
    answers = await repo.intakes(session, [b.id for b in week])
    return Caseload(
        today=[b for b in week if b.slot.starts_at < tomorrow],
        week=week,
        groups=await repo.groups_between(session, psychologist.id, midnight, week_end),
        waiting=await repo.waiting_for_mark(session, profile.id, now, now - MARK_WINDOW),
        uncounted=await uncounted(session, psychologist, now),
        questions=len(await chat_repo.open_questions(session, psychologist.region, limit=100)),
        urgent={booking_id for booking_id, a in answers.items() if is_urgent(a)},
    )
