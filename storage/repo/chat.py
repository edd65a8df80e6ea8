"""Queries for anonymous chats and questions. Only ids, times and states: content is relayed, never stored.

State changes that two people (or two replicas) may race for are conditional UPDATEs:
the one whose UPDATE changed a row won, everyone else sees rowcount 0.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, SQLColumnExpression, delete, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.cache import MISSING, caches_of, read_through, recall
from storage.db import changed
from storage.models import AnonQuestion, ChatSession, User
from storage.models.base import utcnow

# --- chat sessions ---------------------------------------------------------------------------------------------


async def create_session(
    session: AsyncSession,
    teacher_id: int,
    psychologist_id: int,
    starts_at: datetime,
    ends_at: datetime,
    *,
    booking_id: int | None = None,
    question_id: int | None = None,
) -> ChatSession:
    chat = ChatSession(
        teacher_id=teacher_id,
        psychologist_id=psychologist_id,
        starts_at=starts_at,
        ends_at=ends_at,
        booking_id=booking_id,
        question_id=question_id,
        status="planned",
    )
    session.add(chat)
    await session.flush()
    return chat


async def for_booking(session: AsyncSession, booking_id: int) -> ChatSession | None:
    return await session.scalar(select(ChatSession).where(ChatSession.booking_id == booking_id))


async def upsert_for_booking(
    session: AsyncSession,
    booking_id: int,
    teacher_id: int,
    psychologist_id: int,
    starts_at: datetime,
    ends_at: datetime,
) -> ChatSession:
    """One chat per booking: a repeated call (a retry, a reschedule) updates the times of a planned chat."""
    chat = await for_booking(session, booking_id)
    if chat is None:
        return await create_session(
            session, teacher_id, psychologist_id, starts_at, ends_at, booking_id=booking_id
        )
    if chat.status == "planned":
        chat.starts_at, chat.ends_at, chat.psychologist_id = starts_at, ends_at, psychologist_id
        await session.flush()
    return chat


async def get_session(session: AsyncSession, chat_id: int) -> ChatSession | None:
    return await session.get(ChatSession, chat_id)


def open_chat_of(user_id: int | SQLColumnExpression[int]) -> Select[ChatSession]:
    """The open chat this user takes part in (the newest, should two ever overlap)."""
    return (
        select(ChatSession)
        .where(
            ChatSession.status == "open",
            or_(ChatSession.teacher_id == user_id, ChatSession.psychologist_id == user_id),
        )
        .order_by(ChatSession.starts_at.desc(), ChatSession.id.desc())
        .limit(1)
    )


async def active_for(session: AsyncSession, user_id: int) -> ChatSession | None:
    """The open chat this user takes part in. Asked on every menu press and message, so answered
    from the cache (SQLite) or this update's first read when either knows (None: no chat)."""
    cache = caches_of(session).open_chats
    known = recall(session, cache, user_id)
    if known is None:
        return None
    if known is not MISSING:
        chat = await session.get(ChatSession, known)
        if chat is not None and chat.status == "open":
            return chat
    generation = cache.generation
    chat = await session.scalar(open_chat_of(user_id))
    read_through(session.sync_session, cache, user_id, chat.id if chat else None, generation)
    return chat


async def next_or_recent_for(
    session: AsyncSession, user_id: int, now: datetime, window: timedelta
) -> ChatSession | None:
    """A chat starting within `window`, or one that closed within it: worth a word when a message arrives outside."""
    return await session.scalar(
        select(ChatSession)
        .where(
            or_(ChatSession.teacher_id == user_id, ChatSession.psychologist_id == user_id),
            or_(
                (ChatSession.status == "planned") & (ChatSession.starts_at <= now + window),
                (ChatSession.status == "closed") & (ChatSession.closed_at >= now - window),
            ),
        )
        .order_by(ChatSession.starts_at.desc())
        .limit(1)
    )


async def psychologist_busy(session: AsyncSession, psychologist_id: int) -> bool:
    found = await session.scalar(
        select(ChatSession.id)
        .where(ChatSession.psychologist_id == psychologist_id, ChatSession.status == "open")
        .limit(1)
    )
    return found is not None


async def mark_open(session: AsyncSession, chat_id: int) -> bool:
    """planned -> open, once."""
    result = await changed(
        session,
        update(ChatSession)
        .where(ChatSession.id == chat_id, ChatSession.status == "planned")
        .values(status="open"),
    )
    return result == 1


async def set_away(session: AsyncSession, chat: ChatSession, user_id: int, away: bool) -> None:
    """One side left the chat for the menu (away) or came back to it."""
    column = "teacher_away" if user_id == chat.teacher_id else "psychologist_away"
    setattr(chat, column, away)
    await session.flush()


async def mark_closed(
    session: AsyncSession,
    chat_id: int,
    now: datetime | None = None,
    *,
    was: tuple[str, ...] = ("planned", "open"),
) -> bool:
    """planned or open (or only those in `was`) -> closed, once: on time, by either side, or a cancelled booking."""
    result = await changed(
        session,
        update(ChatSession)
        .where(ChatSession.id == chat_id, ChatSession.status.in_(was))
        .values(status="closed", closed_at=now or utcnow()),
    )
    return result == 1


async def end_all_of(
    session: AsyncSession, psychologist_id: int, now: datetime | None = None
) -> list[tuple[ChatSession, str]]:
    """Close every planned or open chat of this psychologist; returns each with the state it was in."""
    ended = []
    for chat in list(
        await session.scalars(
            select(ChatSession).where(
                ChatSession.psychologist_id == psychologist_id,
                ChatSession.status.in_(("planned", "open")),
            )
        )
    ):
        was = chat.status
        if await mark_closed(session, chat.id, now, was=(was,)):
            ended.append((chat, was))
    return ended


async def pending(session: AsyncSession) -> list[ChatSession]:
    """Chats still to open or close: rescheduled at start so a restart loses none."""
    return list(await session.scalars(select(ChatSession).where(ChatSession.status.in_(("planned", "open")))))


async def rate(session: AsyncSession, chat_id: int, teacher_id: int, value: int) -> bool:
    result = await changed(
        session,
        update(ChatSession)
        .where(
            ChatSession.id == chat_id, ChatSession.teacher_id == teacher_id, ChatSession.status == "closed"
        )
        .values(rating=value),
    )
    return result == 1


# --- anonymous questions ---------------------------------------------------------------------------------------


async def ask(session: AsyncSession, teacher: User, message_id: int, urgent: bool) -> AnonQuestion:
    question = AnonQuestion(
        teacher_id=teacher.id, region=teacher.region, message_id=message_id, urgent=urgent
    )
    session.add(question)
    await session.flush()
    return question


async def get_question(session: AsyncSession, question_id: int) -> AnonQuestion | None:
    return await session.get(AnonQuestion, question_id)


async def take(session: AsyncSession, question_id: int, psychologist: User) -> bool:
    """open -> taken by this psychologist, if it is one they may see (a forged press on another
    region's question takes nothing). Exactly one of any number of simultaneous presses wins."""
    result = await changed(
        session,
        update(AnonQuestion)
        .where(AnonQuestion.id == question_id, AnonQuestion.status == "open", visible_to(psychologist.region))
        .values(status="taken", psychologist_id=psychologist.id, taken_at=utcnow()),
    )
    return result == 1


async def mark_answered(session: AsyncSession, question: AnonQuestion, reply_until: datetime) -> None:
    question.status, question.reply_until = "answered", reply_until
    await session.flush()


async def mark_urgent(session: AsyncSession, question_id: int) -> None:
    await session.execute(update(AnonQuestion).where(AnonQuestion.id == question_id).values(urgent=True))


# Psychologists who hear of questions and may take them.
SERVING = (User.role == "psychologist", User.active.is_(True), User.consent_at.is_not(None))


def visible_to(region: str | None) -> ColumnElement[bool]:
    """The questions a psychologist of `region` may see and take: those psychologists_for tells
    them of (their region's, unassigned ones, and those of a region nobody serves); every
    question for a psychologist serving every region."""
    if not region:
        return true()
    served = (
        select(User.id)
        .where(*SERVING, or_(User.region == AnonQuestion.region, User.region.is_(None)))
        .exists()
    )
    return or_(AnonQuestion.region == region, AnonQuestion.region.is_(None), ~served)


async def open_questions(session: AsyncSession, region: str | None, limit: int = 10) -> list[AnonQuestion]:
    """Untaken questions for a psychologist of `region`: urgent first, then oldest first."""
    query = select(AnonQuestion).where(AnonQuestion.status == "open", visible_to(region))
    # Urgency is encrypted: the queue is ordered here, after decryption (an open queue is short).
    waiting = list(await session.scalars(query.order_by(AnonQuestion.created_at, AnonQuestion.id)))
    return sorted(waiting, key=lambda question: not question.urgent)[:limit]


async def psychologists_for(session: AsyncSession, region: str | None) -> list[User]:
    """Who hears about a new question: the region's psychologists and those serving every region;
    if the region has none, every psychologist (a question is never left with nobody to see it)."""
    base = select(User).where(*SERVING)
    local = (
        list(await session.scalars(base.where(or_(User.region == region, User.region.is_(None)))))
        if region
        else []
    )
    return local or list(await session.scalars(base))


async def release_taken(session: AsyncSession, psychologist_id: int) -> list[AnonQuestion]:
    """Questions this psychologist took but did not answer go back to the queue; returns them."""
    taken = list(
        await session.scalars(
            select(AnonQuestion).where(
                AnonQuestion.psychologist_id == psychologist_id,
                AnonQuestion.status == "taken",
            )
        )
    )
    for question in taken:
        question.status, question.psychologist_id, question.taken_at = "open", None, None
    await session.flush()
    return taken


# --- erasing ---------------------------------------------------------------------------------------------------


async def erase_user(session: AsyncSession, user: User) -> list[User]:
    """Delete the user's chats and questions; questions they took but did not answer go back to the queue.
    Returns the other side of each chat that was open, to be told it ended."""
    open_chats = list(
        await session.scalars(
            select(ChatSession).where(
                ChatSession.status == "open",
                or_(ChatSession.teacher_id == user.id, ChatSession.psychologist_id == user.id),
            )
        )
    )
    others = []
    for chat in open_chats:
        other_id = chat.psychologist_id if chat.teacher_id == user.id else chat.teacher_id
        other = await session.get(User, other_id)
        if other is not None and other.active:
            others.append(other)
    await session.execute(
        delete(ChatSession).where(
            or_(ChatSession.teacher_id == user.id, ChatSession.psychologist_id == user.id)
        )
    )
    await session.execute(delete(AnonQuestion).where(AnonQuestion.teacher_id == user.id))
    await release_taken(session, user.id)
    await session.execute(
        update(AnonQuestion).where(AnonQuestion.psychologist_id == user.id).values(psychologist_id=None)
    )
    return others
