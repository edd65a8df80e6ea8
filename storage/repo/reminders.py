"""Queries about reminders. The table is the truth; these are the only statements that change it.

Exactly once across processes: `claim_due` takes due rows with one conditional UPDATE (on
PostgreSQL its subquery uses FOR UPDATE SKIP LOCKED, so concurrent replicas take disjoint rows
without waiting); the claim is committed before anything is sent, and `finish` only succeeds for
the worker still holding the claim. See bot/reminders.py for the whole protocol.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    Table,
    Update,
    and_,
    bindparam,
    case,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import BindParameter

from storage import crypto
from storage.db import changed, dialect_of
from storage.models import GroupSeat, GroupSession, User
from storage.models.base import utcnow
from storage.models.reminders import CANCELLED, DEAD, MISSED, PENDING, SENT, Reminder

# Session.info key: reminders scheduled in this transaction (the worker is nudged after commit).
CHANGED = "reminders_changed"


def _claim_free(now: Any) -> Any:
    return or_(Reminder.claimed_until.is_(None), Reminder.claimed_until <= now)


@functools.cache
def _upsert(dialect: str) -> Any:
    """The schedule statement, built once per dialect: building it per call (and SQLAlchemy
    compiling each new one) took most of a booking's time, three reminders per booking. On the
    table, not the entity: the ORM would split the rows into one statement per set of columns
    that are not None."""
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(
        cast(Table, Reminder.__table__)
    )
    columns = [c.name for c in Reminder.__table__.columns if c.name not in ("id", "key", "created_at")]
    rearm = {name: insert.excluded[name] for name in columns}
    # Not IN (...): an expanding parameter cannot run as executemany (schedule_all).
    unchanged = and_(
        or_(Reminder.status == PENDING, Reminder.status == SENT), Reminder.due_at == insert.excluded.due_at
    )
    return insert.on_conflict_do_update(index_elements=[Reminder.key], set_=rearm, where=~unchanged)


@dataclass(frozen=True)
class Planned:
    """A reminder to create, or to move to `due_at` if its key exists (see `schedule_all`)."""

    key: str
    user_id: int | None
    due_at: datetime
    kind: str
    params: Any = None
    expires_at: datetime | None = None


async def schedule(
    session: AsyncSession,
    key: str,
    user_id: int | None,
    due_at: datetime,
    kind: str,
    params: Any = None,
    *,
    expires_at: datetime | None = None,
) -> None:
    await schedule_all(session, [Planned(key, user_id, due_at, kind, params, expires_at)])


async def schedule_all(session: AsyncSession, planned: Sequence[Planned]) -> None:
    """Create each reminder, or move it to its `due_at` as a fresh pending one; one statement for all.

    Idempotent: scheduling a reminder that is pending or already sent for this same `due_at`
    changes nothing (not even a claim in flight), so replaying an event, or two replicas planning
    the same reminder, never sends twice; a new time re-arms it (a reschedule)."""
    if not planned:
        return
    now = utcnow()
    values = [
        {
            "key": p.key,
            "user_id": p.user_id,
            "due_at": p.due_at,
            "expires_at": p.expires_at,
            "kind": p.kind,
            "params": p.params,
            "status": PENDING,
            "attempts": 0,
            "claimed_by": None,
            "claimed_until": None,
            "sent_at": None,
            "last_error": None,
            "created_at": now,
            "updated_at": now,
        }
        for p in planned
    ]
    await session.execute(_upsert(dialect_of(session)), values)
    session.info.setdefault(CHANGED, []).extend(p.due_at for p in planned)


SEALED = "sealed"


def sealed_key(name: str, user_id: int) -> str:
    """The key of a user's sealed reminder `name`: only the keys can compute it (for cancelling and erasing)."""
    return f"{SEALED}:{crypto.active().blind_index('reminder:' + name, user_id)}"


async def schedule_sealed(
    session: AsyncSession, name: str, user_id: int, due_at: datetime, params: Any = None
) -> None:
    """A reminder whose existence must not be linked to its recipient (a check-in after a safety
    screen): no user id in clear, a generic kind, the real kind and recipient inside the sealed params."""
    await schedule(
        session, sealed_key(name, user_id), None, due_at, SEALED, {"u": user_id, "k": name, "p": params}
    )


async def cancel_sealed_all(session: AsyncSession, names: Sequence[str], user_id: int) -> None:
    """Delete (not just cancel) a user's sealed reminders: for "delete my data"."""
    await session.execute(
        delete(Reminder).where(Reminder.key.in_([sealed_key(name, user_id) for name in names]))
    )


def recipient(reminder: Reminder) -> int | None:
    return reminder.user_id if reminder.kind != SEALED else (reminder.params or {}).get("u")


def kind_of(reminder: Reminder) -> str:
    return reminder.kind if reminder.kind != SEALED else (reminder.params or {}).get("k", SEALED)


async def cancel(session: AsyncSession, key: str) -> bool:
    """Cancel a pending reminder; False if there was none (already sent, cancelled or unknown)."""
    result = await changed(
        session,
        update(Reminder)
        .where(Reminder.key == key, Reminder.status == PENDING)
        .values(status=CANCELLED, claimed_by=None, updated_at=utcnow()),
    )
    return result > 0


async def cancel_prefix(session: AsyncSession, prefix: str) -> int:
    """Cancel every pending reminder whose key starts with `prefix` (e.g. "booking:42:")."""
    pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    result = await changed(
        session,
        update(Reminder)
        .where(Reminder.key.like(pattern, escape="\\"), Reminder.status == PENDING)
        .values(status=CANCELLED, claimed_by=None, updated_at=utcnow()),
    )
    return result


async def cancel_for_user(
    session: AsyncSession, user_id: int, kinds: Sequence[str] | None = None, *, error: str | None = None
) -> int:
    """Stop a user's pending reminders: cancelled (they turned these notifications off), or dead
    with `error` (they blocked the bot, so none of them can be delivered)."""
    condition = [Reminder.user_id == user_id, Reminder.status == PENDING]
    if kinds is not None:
        condition.append(Reminder.kind.in_(kinds))
    status = CANCELLED if error is None else DEAD
    result = await changed(
        session,
        update(Reminder)
        .where(*condition)
        .values(status=status, last_error=error, claimed_by=None, updated_at=utcnow())
        .execution_options(synchronize_session=False),
    )
    return result


def _locked_ids(condition: Any, limit: Any = None) -> Any:
    """Ids of matching rows that no other transaction is touching (SKIP LOCKED is PostgreSQL
    only; SQLAlchemy leaves it out on SQLite, whose writers are serialised anyway)."""
    query = select(Reminder.id).where(condition).order_by(Reminder.due_at)
    if limit is not None:
        query = query.limit(limit)
    return query.with_for_update(skip_locked=True)


@functools.cache
def _claim() -> Update:
    """The claim (bound: "now", "worker", "until", "limit"), built once: every commit that
    schedules a reminder wakes the worker for a round. One statement takes the due rows and, among
    them, records those whose `expires_at` passed unsent as missed (a "session in one hour"
    message is worse than none once the session has begun): the rows it returns are both."""
    now: BindParameter[datetime] = bindparam("now")
    # Only due rows are looked at (the (status, due_at) index), so a start with many future
    # reminders reads none of them.
    due = and_(Reminder.status == PENDING, Reminder.due_at <= now, _claim_free(now))
    expired = Reminder.expires_at <= now  # NULL (never expires) is not
    # The conditions are repeated outside the subquery: a row another transaction changed in the
    # meantime is re-checked against them after its lock is released (PostgreSQL's READ COMMITTED).
    return (
        update(Reminder)
        .where(Reminder.id.in_(_locked_ids(due, bindparam("limit", type_=Integer))), due)
        .values(
            status=case((expired, MISSED), else_=Reminder.status),
            claimed_by=case((expired, None), else_=bindparam("worker", type_=Reminder.claimed_by.type)),
            claimed_until=case(
                (expired, Reminder.claimed_until), else_=bindparam("until", type_=Reminder.claimed_until.type)
            ),
            attempts=case((expired, Reminder.attempts), else_=Reminder.attempts + 1),
            updated_at=now,
        )
        .returning(Reminder)
        .execution_options(synchronize_session=False, populate_existing=True)
    )


@dataclass(frozen=True)
class Claim:
    """A claim's pending rows, in order; `full`: it took as many rows as allowed (missed ones
    count), so more may be due."""

    reminders: list[Reminder]
    full: bool


async def claim(
    session: AsyncSession, now: datetime, worker: str, limit: int, lease: timedelta = timedelta(minutes=5)
) -> Claim:
    """Claim up to `limit` due reminders for `worker` until now + `lease`; the caller commits."""
    params = {"now": now, "worker": worker, "until": now + lease, "limit": limit}
    rows = (await session.scalars(_claim(), params)).all()
    pending = sorted(
        (reminder for reminder in rows if reminder.status == PENDING),
        key=lambda reminder: (reminder.due_at, reminder.id),
    )
    return Claim(pending, len(rows) >= limit)


async def claim_due(
    session: AsyncSession, now: datetime, worker: str, limit: int, lease: timedelta = timedelta(minutes=5)
) -> list[Reminder]:
    """The reminders `claim` took for `worker` (those that expired unsent are recorded as missed)."""
    return (await claim(session, now, worker, limit, lease)).reminders


def _still_claimed() -> ColumnElement[bool]:
    """The claimed reminders (bound: "ids", "worker"), unless cancelled, moved or taken over."""
    return and_(
        Reminder.id.in_(bindparam("ids", expanding=True)),
        Reminder.claimed_by == bindparam("worker"),
        Reminder.status == PENDING,
    )


@functools.cache
def _lock_claimed() -> Select[int, User]:
    # Only the reminders' rows are locked; the recipient comes in the same trip.
    query = select(Reminder.id, User).outerjoin(User, User.id == Reminder.user_id).where(_still_claimed())
    return query.with_for_update(of=Reminder)


@functools.cache
def _finish() -> Update:
    """Built once, as every statement a delivery runs: SQLAlchemy then neither builds nor keys it
    again; on the table, no row of the session is changed by it."""
    return (
        update(cast(Table, Reminder.__table__))
        .where(_still_claimed())
        .values(
            status=bindparam("status"),
            sent_at=bindparam("sent_at"),
            last_error=bindparam("error"),
            updated_at=bindparam("now"),
        )
    )


async def lock_claimed(
    session: AsyncSession, reminder_ids: Sequence[int], worker: str
) -> dict[int, User | None]:
    """Those of the reminders whose claim by the worker holds, each with its recipient's row when
    the reminder names one (a sealed one does not); the reminders' rows locked on PostgreSQL until
    the caller's transaction ends. Those cancelled, moved or taken over since the claim are left
    out. Holding the lock while sending makes a concurrent cancel wait and then see "sent" instead
    of racing the message out. While the claim holds the row is as claimed (a re-arm, a cancel or
    another worker's claim would have ended it), so the claimed reminder is not read again."""
    rows = await session.execute(_lock_claimed(), {"ids": list(reminder_ids), "worker": worker})
    return dict(rows.all())


async def finish_all(
    session: AsyncSession, reminder_ids: Sequence[int], worker: str, status: str, error: str | None = None
) -> int:
    """Record how claimed reminders ended (sent, cancelled, dead), in one statement; how many
    were still the worker's (not cancelled or moved meanwhile, nor taken over after the lease)."""
    if status not in (SENT, CANCELLED, DEAD):
        raise ValueError(status)
    if not reminder_ids:
        return 0
    now = utcnow()
    params = {
        "ids": list(reminder_ids),
        "worker": worker,
        "status": status,
        "sent_at": now if status == SENT else None,
        "error": error,
        "now": now,
    }
    return await changed(session, _finish(), params)


async def finish(
    session: AsyncSession, reminder_id: int, worker: str, status: str, error: str | None = None
) -> bool:
    """Record how a claimed reminder ended. False if the claim was lost: the reminder was
    cancelled or moved meanwhile, or the lease ran out and another worker has it."""
    return await finish_all(session, [reminder_id], worker, status, error) > 0


async def mark_sent(session: AsyncSession, reminder_id: int, worker: str) -> bool:
    return await finish(session, reminder_id, worker, SENT)


async def release(
    session: AsyncSession,
    reminder_id: int,
    worker: str,
    retry_at: datetime,
    error: str,
    *,
    refund: bool = False,
) -> bool:
    """Give a claimed reminder back after a transient failure; nobody takes it before `retry_at`.
    `refund`: it was not tried (held behind the same user's earlier one), so its claim is not counted."""
    attempts = Reminder.attempts - 1 if refund else Reminder.attempts
    result = await changed(
        session,
        update(Reminder)
        .where(Reminder.id == reminder_id, Reminder.claimed_by == worker, Reminder.status == PENDING)
        .values(
            claimed_by=None, claimed_until=retry_at, attempts=attempts, last_error=error, updated_at=utcnow()
        )
        .execution_options(synchronize_session=False),
    )
    return result > 0


@functools.cache
def _next_due() -> Select[datetime]:
    query = select(Reminder.due_at).where(Reminder.status == PENDING, _claim_free(bindparam("now")))
    return query.order_by(Reminder.due_at).limit(1)


async def next_due(session: AsyncSession, now: datetime) -> datetime | None:
    """When the earliest pending reminder nobody holds becomes due (walks the (status, due_at) index)."""
    return await session.scalar(_next_due(), {"now": now})


async def by_key(session: AsyncSession, key: str) -> Reminder | None:
    return await session.scalar(select(Reminder).where(Reminder.key == key))


async def count_by_status(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(select(Reminder.status, func.count()).group_by(Reminder.status))
    return dict(rows.all())


async def purge_finished(session: AsyncSession, before: datetime) -> int:
    """Delete finished reminders last changed before `before` (for the retention job)."""
    result = await changed(
        session, delete(Reminder).where(Reminder.status != PENDING, Reminder.updated_at < before)
    )
    return result


async def group_seats_starting(
    session: AsyncSession, start: datetime, end: datetime
) -> list[tuple[GroupSession, list[GroupSeat]]]:
    """Open group sessions starting in [start, end) with their enrolled seats (reminders plan from these)."""
    rows = await session.execute(
        select(GroupSession, GroupSeat)
        .outerjoin(GroupSeat, and_(GroupSeat.session_id == GroupSession.id, GroupSeat.status == "enrolled"))
        .where(GroupSession.status == "open", GroupSession.starts_at >= start, GroupSession.starts_at < end)
        .order_by(GroupSession.starts_at, GroupSession.id)
    )
    grouped: dict[int, tuple[GroupSession, list[GroupSeat]]] = {}
    for group, seat in rows.all():
        seats = grouped.setdefault(group.id, (group, []))[1]
        if seat is not None:
            seats.append(seat)
    return list(grouped.values())
