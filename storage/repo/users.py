"""Queries about users. Handlers call these; they never write SQL themselves."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg
from sqlalchemy import ColumnElement, Select, bindparam, delete, literal, select, update
from sqlalchemy.engine import Dialect
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
class FirstRows:
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


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # the bound parameters, in the order the SQL numbers them
    defaults: dict[str, Any]
    processors: tuple[Callable[[Any], Any] | None, ...]  # per column: how SQLAlchemy reads it


GIVEN = ("user_index", "fsm_key", "instrument")  # the statement's own parameters (the rest are constants)


@functools.cache
def _compiled(dialect: Dialect, with_state: bool, with_draft: bool) -> _Compiled:
    query = _first_read_query(with_state, with_draft)
    compiled = query.compile(dialect=dialect)
    return _Compiled(
        sql=str(compiled),
        names=tuple(compiled.positiontup or ()),
        defaults=dict(compiled.construct_params(dict.fromkeys(GIVEN))),
        processors=tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in query.selected_columns
        ),
    )


async def first_read(
    engine: AsyncEngine, user_index: str, fsm_key: str | None, instrument: str | None = None
) -> FirstRows:
    """The user, their conversation state, the draft of `instrument` and their open chat in one
    statement, on PostgreSQL. `engine` runs it outside any transaction (an AUTOCOMMIT engine:
    PostgreSQL would take a BEGIN and a COMMIT for it, two more round trips; one statement sees
    one committed moment either way). Compiled once and sent by asyncpg itself, its columns read
    by SQLAlchemy's own result processors (decryption included): measured side by side, the
    statement took 0.31 ms of CPU through SQLAlchemy's execution, 0.02 ms this way (before
    decryption); a PostgreSQL menu press went from 1.40 to 1.09 ms (bench/README.md)."""
    compiled = _compiled(engine.dialect, fsm_key is not None, instrument is not None)
    given = compiled.defaults | {"user_index": user_index, "fsm_key": fsm_key, "instrument": instrument}
    async with engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None, "an open connection of the pool"
        try:
            record = await driver.fetchrow(compiled.sql, *(given[name] for name in compiled.names))
            row = [
                read(value) if read else value
                for read, value in zip(compiled.processors, record, strict=True)
            ]
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
            # Said again through SQLAlchemy: a broken connection is then invalidated (the pool drops
            # it) and the error is SQLAlchemy's, which the error handler knows as an outage.
            query = _first_read_query(fsm_key is not None, instrument is not None)
            row = list((await connection.execute(query, given)).one())
    values = iter(row)

    def part(entity: type, read: bool) -> tuple | None:
        taken = tuple(next(values) for _ in column_keys(entity)) if read else ()
        return taken if taken and taken[0] is not None else None

    user, state, draft = (
        part(User, True),
        part(FsmRecord, fsm_key is not None),
        part(SelfCheckDraft, instrument is not None),
    )
    return FirstRows(user=user, state=state, draft=draft, open_chat=next(values))
