"""Broadcasts: audiences, durable per-recipient delivery state, and claims between workers.

A recipient row moves pending -> claimed -> sent | blocked | failed | skipped. A worker claims
rows with a conditional UPDATE (state still pending, or a claim whose lease ran out), so two
replicas never hold the same row; the unique (broadcast, user) pair means one row per teacher.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, insert, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import changed
from storage.models import Broadcast, BroadcastRecipient, GroupSeat, User

AUDIENCE_KINDS = ("all", "region", "lang", "participants", "waitlist")
DONE_STATES = ("sent", "blocked", "failed", "skipped")


def audience_filter(audience: str, region_limit: str | None):
    """Teachers who want announcements and can receive them, narrowed by the audience."""
    kind, _, value = audience.partition("-")
    conditions = [
        User.role == "teacher",
        User.consent_at.is_not(None),
        User.active.is_(True),
        User.announcements.is_(True),
    ]
    if region_limit:  # a coordinator of one region reaches only that region
        conditions.append(User.region == region_limit)
    if kind == "region":
        conditions.append(User.region == value)
    elif kind == "lang":
        conditions.append(User.language == value)
    elif kind in ("participants", "waitlist"):
        statuses = ("enrolled", "offered") if kind == "participants" else ("waitlisted",)
        conditions.append(
            User.id.in_(
                select(GroupSeat.user_id).where(
                    GroupSeat.session_id == int(value or 0), GroupSeat.status.in_(statuses)
                )
            )
        )
    elif kind != "all":
        raise ValueError(f"unknown audience {audience!r}")
    return and_(*conditions)


async def audience_size(session: AsyncSession, audience: str, region_limit: str | None) -> int:
    return (
        await session.scalar(
            select(func.count()).select_from(User).where(audience_filter(audience, region_limit))
        )
        or 0
    )


async def create_draft(
    session: AsyncSession,
    *,
    created_by: int,
    text_kk: str,
    text_ru: str,
    audience: str,
    group_id: int | None,
    language: str,
) -> Broadcast:
    broadcast = Broadcast(
        created_by=created_by,
        text_kk=text_kk,
        text_ru=text_ru,
        audience=audience,
        session_id=group_id,
        progress_language=language,
        status="draft",
    )
    session.add(broadcast)
    await session.flush()
    return broadcast


async def get(session: AsyncSession, broadcast_id: int) -> Broadcast | None:
    return await session.get(Broadcast, broadcast_id)


async def start(
    session: AsyncSession,
    broadcast: Broadcast,
    region_limit: str | None,
    now: datetime,
    progress_chat: int,
    progress_message_id: int,
) -> int | None:
    """Snapshot the audience into recipient rows and mark it sending; None if it was already started."""
    moved = await changed(
        session,
        update(Broadcast)
        .where(Broadcast.id == broadcast.id, Broadcast.status == "draft")
        .values(
            status="sending",
            started_at=now,
            progress_chat=str(progress_chat),
            progress_message_id=progress_message_id,
        )
        .execution_options(synchronize_session=False),
    )
    if moved != 1:
        return None
    audience = select(literal(broadcast.id), User.id, literal("pending"), literal(0)).where(
        audience_filter(broadcast.audience, region_limit)
    )
    await session.execute(
        insert(BroadcastRecipient).from_select(["broadcast_id", "user_id", "state", "attempts"], audience)
    )
    total = (
        await session.scalar(select(func.count()).where(BroadcastRecipient.broadcast_id == broadcast.id)) or 0
    )
    await session.execute(update(Broadcast).where(Broadcast.id == broadcast.id).values(total=total))
    await session.refresh(broadcast)
    return total


@dataclass(frozen=True)
class Claimed:
    recipient_id: int
    user_id: int
    chat_id: int
    language: str
    wants: bool  # still active and still wants announcements at sending time


async def claim(
    session: AsyncSession, broadcast_id: int, token: str, size: int, now: datetime, lease: timedelta
) -> list[Claimed]:
    """Take up to `size` rows for this worker; rows another worker holds are left alone."""
    free = or_(
        and_(
            BroadcastRecipient.state == "pending",
            or_(BroadcastRecipient.not_before.is_(None), BroadcastRecipient.not_before <= now),
        ),
        and_(BroadcastRecipient.state == "claimed", BroadcastRecipient.claimed_at < now - lease),
    )
    candidates = (
        await session.scalars(
            select(BroadcastRecipient.id)
            .where(BroadcastRecipient.broadcast_id == broadcast_id, free)
            .order_by(BroadcastRecipient.id)
            .limit(size)
            .with_for_update(skip_locked=True)  # PostgreSQL; SQLite serializes writers anyway
        )
    ).all()
    if not candidates:
        return []
    await session.execute(
        update(BroadcastRecipient)
        .where(BroadcastRecipient.id.in_(candidates), free)
        .values(state="claimed", claim=token, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    rows = await session.execute(
        select(BroadcastRecipient.id, User.id, User.chat_id, User.language, User.active, User.announcements)
        .join(User, User.id == BroadcastRecipient.user_id)
        .where(
            BroadcastRecipient.id.in_(candidates),
            BroadcastRecipient.claim == token,
            BroadcastRecipient.state == "claimed",
        )
        .order_by(BroadcastRecipient.id)
    )
    return [
        Claimed(rid, uid, int(chat), language, bool(active and wants))
        for rid, uid, chat, language, active, wants in rows.all()
    ]


async def finish(session: AsyncSession, recipient_id: int, token: str, state: str) -> None:
    await session.execute(
        update(BroadcastRecipient)
        .where(BroadcastRecipient.id == recipient_id, BroadcastRecipient.claim == token)
        .values(state=state, claimed_at=None, attempts=BroadcastRecipient.attempts + 1)
        .execution_options(synchronize_session=False)
    )


async def retry_later(
    session: AsyncSession, recipient_id: int, token: str, not_before: datetime, max_attempts: int
) -> None:
    """Telegram kept failing: back to pending after a pause, or failed after too many tries."""
    row = await session.get(BroadcastRecipient, recipient_id)
    if row is None or row.claim != token:
        return
    row.attempts += 1
    row.state = "failed" if row.attempts >= max_attempts else "pending"
    row.claim, row.claimed_at, row.not_before = None, None, not_before


async def release(session: AsyncSession, recipient_ids: list[int], token: str) -> None:
    """Claimed but never sent (the worker is stopping): back to the queue at once."""
    if recipient_ids:
        await session.execute(
            update(BroadcastRecipient)
            .where(
                BroadcastRecipient.id.in_(recipient_ids),
                BroadcastRecipient.claim == token,
                BroadcastRecipient.state == "claimed",
            )
            .values(state="pending", claim=None, claimed_at=None)
            .execution_options(synchronize_session=False)
        )


async def counts(session: AsyncSession, broadcast_id: int) -> dict[str, int]:
    rows = await session.execute(
        select(BroadcastRecipient.state, func.count())
        .where(BroadcastRecipient.broadcast_id == broadcast_id)
        .group_by(BroadcastRecipient.state)
    )
    return dict(rows.all())


async def sending(session: AsyncSession) -> list[int]:
    return list(
        await session.scalars(
            select(Broadcast.id).where(Broadcast.status == "sending").order_by(Broadcast.id)
        )
    )


async def progress_due(session: AsyncSession, broadcast_id: int, now: datetime, every: timedelta) -> bool:
    """True for exactly one worker per interval: it edits the progress message."""
    result = await changed(
        session,
        update(Broadcast)
        .where(
            Broadcast.id == broadcast_id,
            or_(Broadcast.progress_at.is_(None), Broadcast.progress_at <= now - every),
        )
        .values(progress_at=now)
        .execution_options(synchronize_session=False),
    )
    return result == 1


async def complete_if_done(session: AsyncSession, broadcast_id: int, now: datetime) -> bool:
    """Mark it done when no row is left to send; True for the one worker that did (it reports)."""
    left = await session.scalar(
        select(func.count()).where(
            BroadcastRecipient.broadcast_id == broadcast_id,
            BroadcastRecipient.state.in_(("pending", "claimed")),
        )
    )
    if left:
        return False
    result = await changed(
        session,
        update(Broadcast)
        .where(Broadcast.id == broadcast_id, Broadcast.status == "sending")
        .values(status="done", finished_at=now)
        .execution_options(synchronize_session=False),
    )
    return result == 1


async def set_status(
    session: AsyncSession, broadcast_id: int, old: tuple[str, ...], new: str, now: datetime
) -> bool:
    values = {"status": new} | ({"finished_at": now} if new in ("done", "cancelled") else {})
    result = await changed(
        session,
        update(Broadcast)
        .where(Broadcast.id == broadcast_id, Broadcast.status.in_(old))
        .values(**values)
        .execution_options(synchronize_session=False),
    )
    return result == 1


async def statistics(
    session: AsyncSession, since: datetime, until: datetime
) -> dict[str | None, dict[str, int]]:
    """Delivery totals of broadcasts started in the period, by the recipient's region (no
    per-recipient rows leave here)."""
    query = (
        select(User.region, BroadcastRecipient.state, func.count())
        .join(Broadcast, Broadcast.id == BroadcastRecipient.broadcast_id)
        .join(User, User.id == BroadcastRecipient.user_id)
        .where(Broadcast.started_at >= since, Broadcast.started_at < until)
        .group_by(User.region, BroadcastRecipient.state)
    )
    result: dict[str | None, dict[str, int]] = {}
    for region, state, count in (await session.execute(query)).all():
        result.setdefault(region, {})[state] = count
    return result
