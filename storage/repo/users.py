"""Queries about users. Handlers call these; they never write SQL themselves."""

from __future__ import annotations

from datetime import date

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import crypto
from storage.cache import cached_row, caches_of
from storage.models import AuditEntry, FsmRecord, User
from storage.models.base import utcnow


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
