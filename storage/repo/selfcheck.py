"""Queries about self-check drafts and results, and the results shown to a booking's psychologist.
Answers and scores are only ever in the encrypted `data` column; SQL filters on user, instrument
and time alone."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from enum import Enum

from sqlalchemy import Text, delete, func, select, type_coerce, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.cache import cached_row, caches_of
from storage.db import changed
from storage.models import Booking, SelfCheckDraft, SelfCheckResult, User
from storage.models.booking import SHARED_LIMIT


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


# -- results shown to the psychologist of a booking ------------------------------------------------
# They are the booking's sealed `shared` list, never a row of their own: every booking holds one
# token of the same size, so nothing in the database says whether a teacher shared anything.


class Shared(Enum):
    SENT = "sent"  # recorded now: the caller sends it
    ALREADY = "already"  # this booking's psychologist has it: nothing is sent again
    FULL = "full"  # the booking holds SHARED_LIMIT results already


async def shared_for(session: AsyncSession, booking_ids: Sequence[int]) -> dict[int, list[int]]:
    """The result ids shown to each of these bookings' psychologists, in the order shared."""
    if not booking_ids:
        return {}
    rows = await session.execute(select(Booking.id, Booking.shared).where(Booking.id.in_(booking_ids)))
    return {booking_id: ids or [] for booking_id, ids in rows}


async def _update_shared(
    session: AsyncSession, booking_id: int, change: Callable[[list[int]], list[int] | None]
) -> None:
    """Apply `change` to the booking's list, atomically: the UPDATE is conditional on the token it
    read (a compare-and-swap), so of two presses at once one writes and the other reads again and
    sees what the first wrote, on SQLite as on PostgreSQL, whose UPDATE waits for the first to
    commit and re-checks the condition. `change` returns None to leave the list as it is (a
    booking that does not exist is left alone too)."""
    raw = type_coerce(Booking.shared, Text)  # the stored token itself, to compare
    while True:
        read = (
            await session.execute(select(raw, Booking.shared).where(Booking.id == booking_id))
        ).one_or_none()
        if read is None:
            return
        token, current = read
        wanted = change(list(current or []))
        if wanted is None:
            return
        swapped = await changed(
            session,
            update(Booking)
            .where(Booking.id == booking_id, raw.is_not_distinct_from(token))
            .values(shared=wanted)
            .execution_options(synchronize_session=False),
        )
        if swapped:
            return


async def share(session: AsyncSession, result_id: int, booking_id: int) -> Shared:
    """Record that this result goes to this booking's psychologist, once."""
    outcome = Shared.ALREADY  # also when the booking is gone: nothing to send

    def add(ids: list[int]) -> list[int] | None:
        nonlocal outcome  # the last read decides: a swap lost to a concurrent press reads again
        if result_id in ids:
            outcome = Shared.ALREADY
            return None
        if len(ids) >= SHARED_LIMIT:
            outcome = Shared.FULL
            return None
        outcome = Shared.SENT
        return [*ids, result_id]

    await _update_shared(session, booking_id, add)
    return outcome


async def unshare(session: AsyncSession, result_id: int, booking_id: int) -> None:
    """The result did not reach the psychologist after all: it may be sent again."""
    await _update_shared(
        session, booking_id, lambda ids: [n for n in ids if n != result_id] if result_id in ids else None
    )


async def erase(session: AsyncSession, user: User) -> None:
    # Explicit, not only the foreign-key cascade: a database without enforced keys loses nothing less.
    await delete_all(session, user.id)
