"""Queries for safety plans, duty and crisis hand-offs."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import crypto
from storage.models import AnonQuestion, DutyHours, PsychologistProfile, SafetyPlan, User
from storage.models.safety import PLAN_STEPS

# ── safety plans ────────────────────────────────────────────────────────────


def plan_owner(user_id: int) -> str:
    """Whose plan a row is, as only the keys can tell."""
    return crypto.active().blind_index("safety-plan", user_id)


async def plan(session: AsyncSession, user_id: int) -> SafetyPlan | None:
    return await session.get(SafetyPlan, plan_owner(user_id))


async def save_step(session: AsyncSession, user_id: int, number: int, text: str | None) -> SafetyPlan:
    if not 1 <= number <= PLAN_STEPS:
        raise ValueError(number)
    row = await plan(session, user_id)
    if row is None:
        row = SafetyPlan(owner=plan_owner(user_id), **{f"step{n}": None for n in range(1, PLAN_STEPS + 1)})
        session.add(row)
    row.set_step(number, text)
    await session.flush()
    return row


async def delete_plan(session: AsyncSession, user_id: int) -> None:
    await session.execute(delete(SafetyPlan).where(SafetyPlan.owner == plan_owner(user_id)))


# ── duty ────────────────────────────────────────────────────────────────────


async def duty_hours(session: AsyncSession, profile_id: int) -> list[DutyHours]:
    rows = await session.scalars(
        select(DutyHours)
        .where(DutyHours.profile_id == profile_id)
        .order_by(DutyHours.weekday, DutyHours.start_min)
    )
    return list(rows)


async def add_duty_hours(
    session: AsyncSession, profile_id: int, weekday: int, start_min: int, end_min: int
) -> bool:
    """A weekly window; False if it overlaps one the psychologist already has that day."""
    if not (0 <= weekday <= 6 and 0 <= start_min < end_min <= 24 * 60):
        raise ValueError((weekday, start_min, end_min))
    if any(
        row.weekday == weekday and row.start_min < end_min and start_min < row.end_min
        for row in await duty_hours(session, profile_id)
    ):
        return False
    session.add(DutyHours(profile_id=profile_id, weekday=weekday, start_min=start_min, end_min=end_min))
    await session.flush()
    return True


async def remove_duty_hours(session: AsyncSession, profile_id: int, hours_id: int) -> None:
    await session.execute(
        delete(DutyHours).where(DutyHours.id == hours_id, DutyHours.profile_id == profile_id)
    )


def on_duty(profile: PsychologistProfile, hours: list[DutyHours], now: datetime, tz: tzinfo) -> bool:
    if profile.on_duty_until is not None and profile.on_duty_until > now:
        return True
    local = now.astimezone(tz)
    minute = local.hour * 60 + local.minute
    return any(row.weekday == local.weekday() and row.start_min <= minute < row.end_min for row in hours)


async def on_duty_for(session: AsyncSession, region: str | None, now: datetime, tz: tzinfo) -> list[User]:
    """Psychologists on duty now who serve this region (or every region), who can be reached."""
    query = (
        select(User, PsychologistProfile)
        .join(PsychologistProfile, PsychologistProfile.user_id == User.id)
        .where(User.role == "psychologist", User.active.is_(True), User.consent_at.is_not(None))
    )
    if region:
        query = query.where(or_(User.region == region, User.region.is_(None)))
    candidates = (await session.execute(query)).all()
    windows: dict[int, list[DutyHours]] = {}
    if candidates:
        ids = [profile.id for _user, profile in candidates]
        for row in await session.scalars(select(DutyHours).where(DutyHours.profile_id.in_(ids))):
            windows.setdefault(row.profile_id, []).append(row)
    return [user for user, profile in candidates if on_duty(profile, windows.get(profile.id, []), now, tz)]


def duty_until(now: datetime, hours: float) -> datetime:
    return now + timedelta(hours=hours)


# ── crisis hand-offs ────────────────────────────────────────────────────────


async def open_handoff(session: AsyncSession, teacher: User) -> AnonQuestion | None:
    """The teacher's waiting hand-off, if any (asked twice: one request, not two)."""
    waiting = await session.scalars(
        select(AnonQuestion).where(AnonQuestion.teacher_id == teacher.id, AnonQuestion.status == "open")
    )
    return next((question for question in waiting if question.handoff), None)


async def create_handoff(session: AsyncSession, teacher: User, message_id: int) -> AnonQuestion:
    """A hand-off is an urgent question whose message (the safety screen's, in the teacher's chat)
    is never copied: at rest it looks like any other question."""
    question = AnonQuestion(
        teacher_id=teacher.id, region=teacher.region, message_id=message_id, urgent=True, handoff=True
    )
    session.add(question)
    await session.flush()
    return question
