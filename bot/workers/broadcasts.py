"""The broadcast worker: sends coordinators' announcements at a steady rate, durably.

- Rate: one aiolimiter bucket of size 1 refilled `rate` times a second. A bucket as large as
  the rate would allow a burst of `rate` on top of the steady flow, which Telegram's sliding
  one-second window counts as a flood.
- Durable: recipients are claimed from the database a few at a time (see storage.repo.broadcasts);
  each result is written as soon as Telegram answers. A stopped worker hands back what it claimed
  but did not send; rows of a worker that died are taken over after `claim_lease_seconds`.
- At least once, in one window: a worker killed after Telegram accepted a message and before its
  row was recorded (milliseconds per send) leaves that row claimed, and the replica that takes it
  over sends it again; so do network timeouts that hid a delivered message. bench/bench_kills.py
  measures about one copy per kill over 20 kills; nothing is lost.
- Replicas: every worker claims through the database, so two processes share one broadcast
  without sending anyone a second copy; one of them edits the progress message per interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import timedelta

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiolimiter import AsyncLimiter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.telegram import callbacks as cb
from bot.telegram import delivery
from bot.telegram.keyboards import KeyboardBuilder
from storage.models import Broadcast
from storage.models.base import utcnow
from storage.repo import broadcasts as repo

log = logging.getLogger("demeu.broadcasts")
STOP_GRACE = 10.0  # seconds in-flight sends may take to finish when the app stops


def announcement(i18n: I18n, broadcast: Broadcast, language: str) -> tuple[str, InlineKeyboardMarkup | None]:
    """Exactly what a teacher receives; the coordinator's preview uses this same function."""
    with i18n.context(), i18n.use_locale(language):
        text = (broadcast.text_kk if language == "kk" else broadcast.text_ru) + "\n\n" + _("bc-footer")
        if broadcast.session_id is None:
            return text, None
        builder = KeyboardBuilder()
        builder.button(text=_("bc-enroll"), callback_data=cb.Group(a="open", s=broadcast.session_id))
        return text, builder.as_markup()


def progress_markup(broadcast_id: int, status: str) -> InlineKeyboardMarkup:
    builder = KeyboardBuilder()
    if status == "sending":
        builder.button(text=_("bc-pause"), callback_data=cb.Coord(a="pause", i=broadcast_id))
    if status == "paused":
        builder.button(text=_("bc-resume"), callback_data=cb.Coord(a="resume", i=broadcast_id))
    if status in ("sending", "paused"):
        builder.button(text=_("bc-cancel"), callback_data=cb.Coord(a="stop", i=broadcast_id))
    builder.button(text=_("bc-refresh"), callback_data=cb.Coord(a="prog", i=broadcast_id))
    # A new main menu below rather than this message turned into it: the worker keeps editing this one.
    builder.button(text=_("nav-main"), callback_data=cb.Coord(a="menu"))
    builder.adjust(2, 1, 1)
    return builder.as_markup()


def progress_text(broadcast: Broadcast, counts: dict[str, int], rate: float, minimum: int) -> str:
    sent = counts.get("sent", 0)
    failed = counts.get("failed", 0) + counts.get("blocked", 0)
    skipped = counts.get("skipped", 0)
    left = counts.get("pending", 0) + counts.get("claimed", 0)
    key = {
        "done": "bc-progress-done",
        "cancelled": "bc-progress-cancelled",
        "paused": "bc-progress-paused",
    }.get(broadcast.status, "bc-progress")
    numbers: dict[str, int | str] = {
        "total": broadcast.total,
        "sent": sent,
        "failed": failed,
        "skipped": skipped,
        "left": left,
    }
    if 0 < broadcast.total < minimum:
        # As in the preview: a small audience's count, or who of it blocked the bot, is not shown.
        numbers = dict.fromkeys(numbers, _("co-fewer").format(minimum=minimum))
    return _(key).format(**numbers, seconds=int(left / rate) + 1)


class BroadcastWorker:
    def __init__(
        self, bot: Bot, sessions: async_sessionmaker[AsyncSession], i18n: I18n, settings: Settings
    ) -> None:
        self.bot, self.sessions, self.i18n, self.settings = bot, sessions, i18n, settings
        config = settings.broadcast
        self.rate = config.rate
        self.limiter = AsyncLimiter(1, 1 / config.rate)
        self.lease = timedelta(seconds=config.claim_lease_seconds)
        self.batch = max(1, int(config.rate // 5))  # about 0.2 s of sending per claim
        self.token = uuid.uuid4().hex[:16]
        self.sent = 0  # delivered by this worker (benchmarks read it)
        self._task: asyncio.Task | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._inflight: set[asyncio.Task] = set()

    # --- lifecycle -------------------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._task is None or self._task.done():
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name="broadcasts")

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        """Stop claiming, hand back what was claimed, let in-flight sends finish and be recorded."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._inflight:
            _, late = await asyncio.wait(self._inflight, timeout=STOP_GRACE)
            for task in late:  # their rows stay claimed: another worker takes them after the lease
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    # --- the loop --------------------------------------------------------------------------------------------

    async def _run(self) -> None:
        while not self._stopping:
            try:
                async with self.sessions() as session:
                    active = await repo.sending(session)
                for broadcast_id in active:
                    await self._drain(broadcast_id)
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup must not end broadcasting for good
                log.exception("broadcast worker round failed")
                active = []
            if not self._stopping:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), 0.5 if active else 2.0)

    async def _drain(self, broadcast_id: int) -> None:
        """Send this broadcast until it is done, paused, cancelled, or the worker stops."""
        while not self._stopping:
            async with self.sessions() as session:
                broadcast = await repo.get(session, broadcast_id)
                if broadcast is None or broadcast.status != "sending":
                    return
                claimed = await repo.claim(
                    session, broadcast_id, self.token, self.batch, utcnow(), self.lease
                )
                await session.commit()
            if not claimed:
                await self._finish_if_done(broadcast)
                return
            pending = list(claimed)
            try:
                while pending and not self._stopping:
                    row = pending[0]
                    if row.wants:
                        await self.limiter.acquire()
                    pending.pop(0)
                    self._spawn(self._deliver(broadcast, row))
                    await self._bound_inflight()
            finally:  # stopping (or cancelled): nobody is skipped, the rows go back to the queue
                if pending:
                    await asyncio.shield(self._release([row.recipient_id for row in pending]))
            await self._maybe_progress(broadcast_id)

    def _spawn(self, coroutine) -> None:
        task = asyncio.create_task(coroutine)
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _bound_inflight(self) -> None:
        # Slow answers must not pile up unbounded tasks; the limiter already sets the pace.
        while len(self._inflight) >= max(10, int(self.rate * 2)):
            await asyncio.wait(self._inflight, return_when=asyncio.FIRST_COMPLETED)

    async def _release(self, recipient_ids: list[int]) -> None:
        async with self.sessions() as session:
            await repo.release(session, recipient_ids, self.token)
            await session.commit()

    async def _deliver(self, broadcast: Broadcast, row: repo.Claimed) -> None:
        if not row.wants:  # turned announcements off (or blocked us) after the broadcast started
            state = "skipped"
        else:
            text, markup = announcement(self.i18n, broadcast, row.language)
            result = await delivery.send_message(
                self.bot,
                row.chat_id,
                text,
                reply_markup=markup,
                user_id=row.user_id,
                sessions=self.sessions,
                policy=delivery.Policy(max_retry_after=30.0),
            )
            if result.outcome is delivery.Outcome.RETRYABLE:
                later = utcnow() + timedelta(seconds=result.retry_after or 30)
                async with self.sessions() as session:
                    await repo.retry_later(
                        session, row.recipient_id, self.token, later, self.settings.broadcast.max_attempts
                    )
                    await session.commit()
                return
            state = {delivery.Outcome.SENT: "sent", delivery.Outcome.BLOCKED: "blocked"}.get(
                result.outcome, "failed"
            )
            self.sent += result.sent
        async with self.sessions() as session:
            await repo.finish(session, row.recipient_id, self.token, state)
            await session.commit()

    # --- reporting -------------------------------------------------------------------------------------------

    async def _finish_if_done(self, broadcast: Broadcast) -> None:
        if self._inflight:
            await asyncio.wait(self._inflight)
        async with self.sessions() as session:
            finished = await repo.complete_if_done(session, broadcast.id, utcnow())
            await session.commit()
        if finished:
            log.info("broadcast %s finished", broadcast.id)
            await self.show_progress(broadcast.id)

    async def _maybe_progress(self, broadcast_id: int) -> None:
        every = timedelta(seconds=self.settings.broadcast.progress_seconds)
        async with self.sessions() as session:
            due = await repo.progress_due(session, broadcast_id, utcnow(), every)
            await session.commit()
        if due:
            await self.show_progress(broadcast_id)

    async def show_progress(self, broadcast_id: int) -> None:
        """Edit the coordinator's progress message to the current counts."""
        async with self.sessions() as session:
            broadcast = await repo.get(session, broadcast_id)
            counts = await repo.counts(session, broadcast_id)
        if broadcast is None or broadcast.progress_chat is None or broadcast.progress_message_id is None:
            return
        with self.i18n.context(), self.i18n.use_locale(broadcast.progress_language):
            text = progress_text(broadcast, counts, self.rate, self.settings.broadcast.min_cell)
            markup = progress_markup(broadcast.id, broadcast.status)
        try:
            await self.bot.edit_message_text(
                text=text,
                chat_id=int(broadcast.progress_chat),
                message_id=broadcast.progress_message_id,
                reply_markup=markup,
            )
        except TelegramBadRequest as error:
            if "not modified" not in error.message:
                log.info("broadcast %s: progress message not edited", broadcast_id)
        except Exception:  # progress is a courtesy; sending goes on
            log.warning("broadcast %s: progress edit failed", broadcast_id)
