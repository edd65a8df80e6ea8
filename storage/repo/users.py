"""Queries about users. Handlers call these; they never write SQL themselves."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, delete, literal, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from storage import crypto
from storage.cache import cached_row, caches_of, column_keys
from storage.models import AuditEntry, ChatSession, FsmRecord, SelfCheckDraft, User
from storage.models.base import utcnow
from storage.repo.chat import open_chat_of


async def by_telegram_id(session: AsyncSession, telegram_user_id: int) -> User | None:
    """From the app's cache when it holds them (no round trip): read for every update."""
    index = crypto.active().user_index(telegram_user_id)
    return await cached_row(
        session, caches_of(session).users, index, User, lambda: select(User).where(User.tg_index == index)
    )


async def create(session: AsyncSession, telegram_user_id: int, language: str) -> User:
    """A new user with a unique pseudonym; the row holds no Telegram identity in plain."""
    index = crypto.active().user_index(telegram_user_id)
    for attempt in range(16):
        user = User(
            tg_index=index,
            chat_id=str(telegram_user_id),
            pseudonym=crypto.pseudonym_for(index, attempt),
            language=language,
            last_seen_on=utcnow().date(),
        )
        taken = await session.scalar(select(User.id).where(User.pseudonym == user.pseudonym))
        if taken is None:
            session.add(user)
            await session.flush()
            return user
    raise RuntimeError("could not find a free pseudonym")


async def mark_seen(session: AsyncSession, user: User, today: date) -> None:
    if user.last_seen_on != today:
        user.last_seen_on = today
    if not user.active:
        user.active = True  # they unblocked the bot and wrote again: reminders and news resume


async def mark_inactive(session: AsyncSession, user_id: int) -> None:
    await session.execute(update(User).where(User.id == user_id).values(active=False))


async def delete_user(session: AsyncSession, user: User, fsm_keys: list[str]) -> None:
    """The user's row (what references it cascades) and their conversation state."""
    await session.execute(delete(FsmRecord).where(FsmRecord.key.in_(fsm_keys)))
    await session.delete(user)
    await session.flush()


async def audit(
    session: AsyncSession,
    actor: str,
    action: str,
    target_type: str | None = None,
    target_id: int | None = None,
) -> None:
    session.add(AuditEntry(actor=actor, action=action, target_type=target_type, target_id=target_id))


@dataclass(frozen=True)
class FirstRead:
    """What an update needs before its handler, as column values (storage.cache.column_keys order)."""

    user: tuple | None
    state: tuple | None  # the FsmRecord, when the state is kept in the database and exists
    draft: tuple | None  # the unfinished questionnaire a self-check press answers
    open_chat: int | None


USER_ID = column_keys(User).index("id")


@functools.cache
def _first_read_query(with_state: bool, with_draft: bool) -> Select[Any]:
    """Built once (SQLAlchemy then also compiles it once): a statement per press is measurable."""
    open_chat = open_chat_of(User.id).with_only_columns(ChatSession.id).scalar_subquery()
    one = select(literal(1).label("one")).subquery("one")
    joined: list[tuple[type[Any], ColumnElement[bool]]] = [(User, User.tg_index == bindparam("user_index"))]
    if with_state:
        joined.append((FsmRecord, FsmRecord.key == bindparam("fsm_key")))
    if with_draft:
        on_draft = (SelfCheckDraft.user_id == User.id) & (
            SelfCheckDraft.instrument == bindparam("instrument")
        )
        joined.append((SelfCheckDraft, on_draft))
    columns = [getattr(entity, key) for entity, _ in joined for key in column_keys(entity)]
    query = select(*columns, open_chat).select_from(one)
    for entity, on in joined:
        query = query.outerjoin(entity, on)
    return query


async def first_read(
    engine: AsyncEngine, user_index: str, fsm_key: str | None, instrument: str | None = None
) -> FirstRead:
    """The user, their conversation state, the draft of `instrument` and their open chat in one
    statement. `engine` runs it outside any transaction (an AUTOCOMMIT engine: PostgreSQL would
    take a BEGIN and a COMMIT for it, two more round trips; one statement sees one committed
    moment either way)."""
    query = _first_read_query(fsm_key is not None, instrument is not None)
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                query, {"user_index": user_index, "fsm_key": fsm_key, "instrument": instrument}
            )
        ).one()
    values = iter(row)

    def part(entity: type, read: bool) -> tuple | None:
        taken = tuple(next(values) for _ in column_keys(entity)) if read else ()
        return taken if taken and taken[0] is not None else None

    user, state, draft = (
        part(User, True),
        part(FsmRecord, fsm_key is not None),
        part(SelfCheckDraft, instrument is not None),
    )
    return FirstRead(user=user, state=state, draft=draft, open_chat=next(values))
