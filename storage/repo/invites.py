"""One-time staff invites: the link carries a random token, the database only its hash."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import changed
from storage.models import Invite
from storage.models.base import utcnow

PREFIX = "inv_"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create(session: AsyncSession, role: str, region: str | None, validity: timedelta) -> str:
    """Returns the deep-link payload (`inv_` + 32 url-safe characters, within Telegram's 64)."""
    token = secrets.token_urlsafe(24)
    session.add(Invite(token_hash=_hash(token), role=role, region=region, expires_at=utcnow() + validity))
    await session.flush()
    return PREFIX + token


async def redeem(session: AsyncSession, payload: str, user_id: int) -> Invite | None:
    """Marks the invite used by `user_id`; None when unknown, expired or already used.

    A conditional UPDATE, so two people opening the same link at once cannot both win.
    """
    if not payload.startswith(PREFIX):
        return None
    token_hash = _hash(payload.removeprefix(PREFIX))
    now = utcnow()
    result = await changed(
        session,
        update(Invite)
        .where(Invite.token_hash == token_hash, Invite.used_at.is_(None), Invite.expires_at > now)
        .values(used_at=now, used_by=user_id),
    )
    if result != 1:
        return None
    return await session.scalar(select(Invite).where(Invite.token_hash == token_hash))
