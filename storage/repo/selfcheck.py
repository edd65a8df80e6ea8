"""Queries about self-check drafts and results. Answers and scores are only ever in the
encrypted `data` column; SQL filters on user, instrument and time alone."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.cache import cached_row, caches_of
from storage.db import changed
from storage.models import SelfCheckDraft, SelfCheckResult, SelfCheckShare, User


async def draft(session: AsyncSession, user_id: int, instrument: str) -> SelfCheckDraft | None:
    """The unfinished questionnaire; each answer reads it, so it comes from the app's cache when it can."""
    return await cached_row(
        session,
        caches_of(session).drafts,
        (user_id, instrument),
        SelfCheckDraft,
        lambda: select(SelfCheckDraft).where(
            SelfCheckDraft.user_id == user_id, SelfCheckDraft.instrument == instrument
        ),
    )


async def latest_draft(session: AsyncSession, user_id: int, since: datetime) -> SelfCheckDraft | None:
    """The unfinished questionnaire the teacher answered last, if after `since`."""
    return await session.scalar(
        select(SelfCheckDraft)
        .where(SelfCheckDraft.user_id == user_id, SelfCheckDraft.updated_at >= since)
        .order_by(SelfCheckDraft.updated_at.desc())
        .limit(1)
    )


async def drafts(session: AsyncSession, user_id: int) -> dict[str, SelfCheckDraft]:
    rows = await session.scalars(select(SelfCheckDraft).where(SelfCheckDraft.user_id == user_id))
    return {row.instrument: row for row in rows}


async def start(session: AsyncSession, user_id: int, instrument: str) -> SelfCheckDraft:
    """A fresh draft at the first question, replacing an unfinished one."""
    row = await draft(session, user_id, instrument)
    if row is None:
        row = SelfCheckDraft(user_id=user_id, instrument=instrument)
        session.add(row)
    row.position = 0
    row.data = {"answers": {}, "alerted": False}
    await session.flush()
    return row


def answers(row: SelfCheckDraft) -> dict[str, int]:
    return dict(row.data.get("answers", {}))


def record_answer(
    row: SelfCheckDraft, item_key: str, value: int, position: int, *, alerted: bool = False
) -> None:
    # A new dict, not an in-place change: the encrypted column only notices reassignment.
    row.data = {
        "answers": {**answers(row), item_key: value},
        "alerted": bool(row.data.get("alerted")) or alerted,
    }
    row.position = position


async def finish(
    session: AsyncSession, row: SelfCheckDraft, *, safety_screen: bool = False
) -> SelfCheckResult:
    """Store the answers and drop the draft in one transaction: a result is saved exactly once.
    `safety_screen` records that the safety screen came before the result (shown again on a repeated tap)."""
    data = {"answers": answers(row), "safety_screen": safety_screen}
    saved = SelfCheckResult(user_id=row.user_id, instrument=row.instrument, data=data)
    session.add(saved)
    await session.delete(row)
    await session.flush()
    return saved


async def result(session: AsyncSession, user_id: int, result_id: int) -> SelfCheckResult | None:
    return await session.scalar(
        select(SelfCheckResult).where(SelfCheckResult.id == result_id, SelfCheckResult.user_id == user_id)
    )


async def history(
    session: AsyncSession, user_id: int, instrument: str, limit: int = 100
) -> list[SelfCheckResult]:
    """The newest `limit` results of one instrument, oldest first."""
    rows = await session.scalars(
        select(SelfCheckResult)
        .where(SelfCheckResult.user_id == user_id, SelfCheckResult.instrument == instrument)
        .order_by(SelfCheckResult.created_at.desc(), SelfCheckResult.id.desc())
        .limit(limit)
    )
    return list(reversed(rows.all()))


async def counts(session: AsyncSession, user_id: int) -> dict[str, int]:
    rows = await session.execute(
        select(SelfCheckResult.instrument, func.count())
        .where(SelfCheckResult.user_id == user_id)
        .group_by(SelfCheckResult.instrument)
    )
    return dict(rows.all())


async def delete_all(session: AsyncSession, user_id: int) -> int:
    """Every result and draft of a user; returns how many results went."""
    removed = await changed(session, delete(SelfCheckResult).where(SelfCheckResult.user_id == user_id))
    await session.execute(delete(SelfCheckDraft).where(SelfCheckDraft.user_id == user_id))
    return removed or 0


async def shared_with(session: AsyncSession, result_id: int) -> set[int]:
    """Bookings whose psychologist already received this result."""
    rows = await session.scalars(
        select(SelfCheckShare.booking_id).where(SelfCheckShare.result_id == result_id)
    )
    return set(rows)


async def share(session: AsyncSession, result_id: int, booking_id: int) -> SelfCheckShare | None:
    """Record a share; None when this result already went to this booking's psychologist."""
    if booking_id in await shared_with(session, result_id):
        return None
    row = SelfCheckShare(result_id=result_id, booking_id=booking_id)
    session.add(row)
    await session.flush()
    return row


async def unshare(session: AsyncSession, row: SelfCheckShare) -> None:
    await session.delete(row)
    await session.flush()


async def erase(session: AsyncSession, user: User) -> None:
    # Explicit, not only the foreign-key cascade: a database without enforced keys loses nothing less.
    await delete_all(session, user.id)
