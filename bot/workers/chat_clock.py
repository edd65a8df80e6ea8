"""The chat clock: live chats open at their start and close at their end plus a grace period.

A date job per edge for punctuality, and a sweep every minute as a safety net (a chat committed
after its job ran, a replica that missed it). Pending chats are rescheduled from the database at
start, so a restart loses none. Transitions are conditional UPDATEs (bot/views/chat.py), so
whichever job or replica comes first acts and the others do nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiogram import Bot
from aiogram.utils.i18n import I18n
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import event, inspect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.events import BookingChange, BookingChanged
from bot.views.chat import close_chat, closes_at, open_chat
from storage.models import ChatSession
from storage.models.base import utcnow
from storage.repo import chat as repo

SWEEP_SECONDS = 60


class ChatClock:
    def __init__(
        self,
        bot: Bot,
        sessions: async_sessionmaker[AsyncSession],
        scheduler: AsyncIOScheduler,
        i18n: I18n,
        settings: Settings,
    ) -> None:
        self.bot, self.sessions, self.scheduler, self.i18n, self.settings = (
            bot,
            sessions,
            scheduler,
            i18n,
            settings,
        )

    async def start(self) -> None:
        async with self.sessions() as session:
            for chat in await repo.pending(session):
                self.schedule(chat)
        self.scheduler.add_job(
            self.sweep, "interval", seconds=SWEEP_SECONDS, id="chat-sweep", replace_existing=True
        )

    async def stop(self) -> None:
        """Its jobs go with the app's scheduler."""

    def schedule(self, chat: ChatSession) -> None:
        if chat.status == "planned":
            self._at(f"chat-open-{chat.id}", chat.starts_at, self.open, chat.id)
        self._at(f"chat-close-{chat.id}", closes_at(chat, self.settings), self.close, chat.id)

    def schedule_once_committed(self, session: AsyncSession, chat: ChatSession) -> None:
        """Its jobs start when the caller's transaction commits: a chat starting now must not be
        looked for before it exists (it would wait for the sweep), nor one rolled back ever opened."""

        def committed(_session: Any) -> None:
            state = inspect(chat)
            if state.persistent and not state.expired_attributes:  # a rollback expires it
                self.schedule(chat)

        event.listen(session.sync_session, "after_commit", committed, once=True)

    def _at(self, job_id: str, when: datetime, action: Callable[..., Any], *args: Any) -> None:
        # misfire_grace_time=None: a job late for any reason still runs rather than being dropped.
        self.scheduler.add_job(
            action,
            "date",
            run_date=max(when, utcnow()),
            args=args,
            id=job_id,
            replace_existing=True,
            misfire_grace_time=None,
        )

    async def open(self, chat_id: int) -> None:
        async with self.sessions() as session:
            await open_chat(session, self.bot, self.i18n, self.settings, chat_id)

    async def close(self, chat_id: int) -> None:
        async with self.sessions() as session:
            await close_chat(session, self.bot, self.i18n, self.settings, chat_id)

    def close_now(self, chat_id: int) -> None:
        self._at(f"chat-close-{chat_id}", utcnow(), self.close, chat_id)

    async def sweep(self) -> None:
        now = utcnow()
        async with self.sessions() as session:
            chats = await repo.pending(session)
        for chat in chats:
            if closes_at(chat, self.settings) <= now:
                await self.close(chat.id)
            elif chat.status == "planned" and chat.starts_at <= now:
                await self.open(chat.id)

    # --- bookings in the "chat" format -----------------------------------------------------------------------

    async def follow(self, changed: BookingChanged) -> None:
        """Subscribed to BookingChanged (bot/app.py): a "chat" booking gets its chat in the booking's
        own transaction, so a rolled-back booking leaves no chat behind."""
        session, booking, change = changed.session, changed.booking, changed.change
        if change is BookingChange.RESCHEDULED and booking.previous_id:
            await self.drop_for_booking(session, booking.previous_id)
        if change is BookingChange.CANCELLED:
            await self.drop_for_booking(session, booking.id)
        if change in (BookingChange.BOOKED, BookingChange.RESCHEDULED) and booking.slot.format == "chat":
            await self.plan_for_booking(
                session,
                booking_id=booking.id,
                teacher_id=booking.teacher_id,
                psychologist_id=booking.slot.psychologist.user_id,
                starts_at=booking.slot.starts_at,
                ends_at=booking.slot.ends_at,
            )

    async def plan_for_booking(
        self,
        session: AsyncSession,
        *,
        booking_id: int,
        teacher_id: int,
        psychologist_id: int,
        starts_at: datetime,
        ends_at: datetime,
    ) -> ChatSession:
        """The chat that opens at the booking's start and closes at its end. Idempotent per booking
        (a retry or a reschedule updates the same planned chat)."""
        chat = await repo.upsert_for_booking(
            session, booking_id, teacher_id, psychologist_id, starts_at, ends_at
        )
        self.schedule_once_committed(session, chat)
        return chat

    async def drop_for_booking(self, session: AsyncSession, booking_id: int) -> None:
        """A cancelled or moved booking: its planned chat is called off silently in the caller's
        transaction (the booking flow tells people); an open one closes now, both sides told."""
        chat = await repo.for_booking(session, booking_id)
        if chat is None:
            return
        if chat.status == "planned":
            await repo.mark_closed(session, chat.id)
        elif chat.status == "open":
            self.close_now(chat.id)
