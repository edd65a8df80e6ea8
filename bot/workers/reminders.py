"""The reminder worker: the reminders table is the truth, APScheduler only the clock.

Per replica there is one worker with two APScheduler jobs that send: a wake-up at the earliest
pending reminder (moved whenever this process schedules an earlier one, see `committed`) and
a periodic poll (`[reminders] poll_seconds`) that finds reminders other replicas scheduled and
claims left behind by a replica that died. Both only poke one drain task. Planning jobs (the
nightly purge; the `Plan`s bot/app.py adds: the agenda, group reminders, retention) only write rows. No job has a misfire grace limit, so a late one still runs instead of being
dropped (APScheduler's default grace is 1 s). On start the poll runs
at once: whatever came due while the bot was down is sent now, or recorded as missed when its
`expires_at` (the session's start) has passed. Nothing is kept in memory per reminder, so a start
with 100,000 pending reminders costs one indexed query (bench/bench_reminders.py).

Exactly once, step by step:
1. claim: one conditional UPDATE (SKIP LOCKED on PostgreSQL) gives due rows to this worker for a
   lease (`lease_seconds`), committed at once. Two replicas never claim the same row.
2. send: in one transaction per chunk (up to `concurrency` reminders, of distinct users) the
   rows are re-read FOR UPDATE (PostgreSQL) and must still be pending and ours, the texts are
   rendered in the recipients' languages, the messages sent side by side through bot.delivery,
   and the rows marked sent in that same transaction, which then commits.
   A cancel or reschedule committed before step 2 is seen and nothing is sent; one arriving
   during the send waits for the row lock and then finds it sent. (SQLite has no row locks: there
   the re-check and the send are milliseconds apart, and that is the only gap.)
3. The one at-least-once window: the process dies (or loses the database) after the request
   reached Telegram and before the commit. The claim then expires and another worker sends the
   reminder again. A network timeout that hid a successful send is the same window. At most
   `concurrency` reminders are in it at any moment (tests/test_reminders.py kills a replica with
   SIGKILL and counts; bench/bench_kills.py measures about one copy per kill over 20 kills). Losing a reminder needs nothing like that: a crash anywhere else leaves
   a pending row that is claimed again when the lease ends.

Failures: 429 and 5xx are retried inside bot.delivery; if they persist the reminder is released
for a later try (`retry_seconds`, doubled) and after `max_attempts` tries recorded as dead. A
user who blocked the bot is marked inactive and all their pending reminders are recorded as dead
in the same transaction (no retries). Every end is a status in the table: nothing is lost without
a record. A user's reminders go in order: after one is given back for a later try, the rest of
that user's round are given back untried to the same time (the copy of an answer waits for its title).

Kinds: each reminder kind has a renderer (given by bot/app.py) that turns the row into text and
buttons (and, for a file such as the .ics, a document with the text as its caption; for a copied
message, such as a psychologist's answer, the chat and message to copy), or returns
None when the reminder no longer makes sense (it is then cancelled). Notices (bot/workers/notices.py)
are reminders due at once, written in the transaction of the change they tell about.

Time: the worker reads "now" from its `clock` (the wall clock; a test moves it ahead instead of
waiting out a 120 s flood wait). When an update's handling wrote reminders due now, the round that
sends them is a follow-up of that update (bot/telegram/followups.py): tests wait for it, not for silence.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from aiogram import Bot
from aiogram.client.default import Default
from aiogram.methods import CopyMessage, SendDocument, SendMessage
from aiogram.types import BufferedInputFile, InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from bot.config import RemindersConfig
from bot.services.accounts import record_blocked
from bot.telegram import delivery, followups
from bot.telegram.delivery import Outcome, Policy
from bot.telegram.keyboards import nav_row
from storage.models import Reminder, User
from storage.models.base import utcnow
from storage.models.reminders import CANCELLED, DEAD, SENT
from storage.repo import reminders as repo

log = logging.getLogger("demeu.reminders")


@dataclass
class _Progress:
    """How far a chunk's transaction got: whether its sends began, and which Telegram took."""

    sending: bool = False
    accepted: list[int] = field(default_factory=list)


class Ended(NamedTuple):
    """A claimed reminder with no message to send: how it ends, and why."""

    status: str
    why: str


@dataclass(frozen=True)
class Rendered:
    """The message; with a `document` the text is its caption; with `copy` (chat id, message id)
    that message is copied instead (the text is then unused). `protect_content` None: the bot's default."""

    text: str
    markup: InlineKeyboardMarkup | None = None
    document: BufferedInputFile | None = None
    protect_content: bool | None = None
    copy: tuple[int, int] | None = None


# Called with the recipient's locale active and the bot's time zone (for times shown to people);
# None means "no longer relevant": the reminder is then cancelled.
Renderer = Callable[[AsyncSession, Reminder, User, ZoneInfo], Awaitable[Rendered | None]]
MESSAGE = "message"


def main_menu_markup() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[nav_row()])


async def render_message(session: AsyncSession, reminder: Reminder, user: User, tz: ZoneInfo) -> Rendered:
    """A catalogue text with arguments: params {"text": "<msgid>", "args": {...}}."""
    params = reminder.params or {}
    return Rendered(_(params["text"]).format(**params.get("args", {})), main_menu_markup())


@dataclass(frozen=True)
class Plan:
    """A feature's planning job (the agenda, group reminders, retention): it only writes rows."""

    name: str
    trigger: BaseTrigger
    run: Callable[[], Coroutine[Any, Any, Any]]
    at_start: bool = False  # also once at start: what came due while the bot was down is planned now


# Due now, for the follow-ups of the update that scheduled it: notices written after another are
# due a few milliseconds later (their order), and a fast update commits within them.
DUE_NOW = timedelta(seconds=1)


class ReminderWorker:
    def __init__(
        self,
        bot: Bot,
        sessions: async_sessionmaker[AsyncSession],
        scheduler: AsyncIOScheduler,
        i18n: I18n,
        config: RemindersConfig,
        tz: ZoneInfo,
        renderers: Mapping[str, Renderer],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.bot, self.sessions, self.scheduler, self.i18n, self.config = (
            bot,
            sessions,
            scheduler,
            i18n,
            config,
        )
        self.tz, self.renderers = tz, {MESSAGE: render_message, **renderers}
        self.clock = clock
        self.name = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease = timedelta(seconds=config.lease_seconds)
        # On PostgreSQL a reminder's row stays locked while it is sent (see above), and a handler
        # cancelling that booking waits for it: so short requests, and long flood waits go back
        # to the table (retried later) instead of being slept through here.
        self.policy = Policy(
            base_delay=config.backoff_seconds,
            max_retry_after=min(5.0, config.lease_seconds / 10),
            max_flood_waits=2,
            request_timeout=10,
        )
        self._wake_id = f"reminders-wake-{self.name}"
        self._poll_id = f"reminders-poll-{self.name}"
        self._purge_id = f"reminders-purge-{self.name}"
        self._planned: datetime | None = None
        self._task: asyncio.Task[None] | None = None
        self._again = False
        self._closing = False
        self._plans: list[Plan] = []
        self._retries: set[datetime] = set()  # when reminders this worker released become free
        self._jobs: set[asyncio.Task[Any]] = set()
        self._followups: list[asyncio.Future[None]] = []  # resolved when the next round ends

    def plan(self, plan: Plan) -> None:
        """Run a feature's planning job from start() to stop() (bot/app.py adds them)."""
        self._plans.append(plan)

    def committed(self, session: Session) -> None:
        """After a commit of this app's sessions: if it scheduled reminders, wake up early enough."""
        changed = session.info.pop(repo.CHANGED, None)
        if not changed:
            return
        first = min(changed)
        if first <= self.clock() + DUE_NOW and followups.collecting() and not self._closing:
            future = asyncio.get_running_loop().create_future()
            self._followups.append(future)
            followups.add(future)
        self.wake_at(first)

    @staticmethod
    def rolled_back(session: Session) -> None:
        session.info.pop(repo.CHANGED, None)

    # --- lifecycle -------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Called with the dispatcher's startup (App.workers), before or after the scheduler starts."""
        for plan in self._plans:
            self.scheduler.add_job(
                self.run_job,
                plan.trigger,
                args=[plan.run],
                id=self._plan_id(plan),
                replace_existing=True,
                misfire_grace_time=None,
                coalesce=True,
                max_instances=1,
                **({"next_run_time": utcnow()} if plan.at_start else {}),
            )
        self.scheduler.add_job(
            self.run_job,
            CronTrigger(hour=3, minute=30, timezone=self.tz),
            args=[self.purge],
            id=self._purge_id,
            replace_existing=True,
            misfire_grace_time=None,
            coalesce=True,
        )
        self.scheduler.add_job(
            self._job,
            IntervalTrigger(seconds=self.config.poll_seconds),
            id=self._poll_id,
            replace_existing=True,
            next_run_time=utcnow(),
            misfire_grace_time=None,
            coalesce=True,
            max_instances=1,
        )

    async def stop(self) -> None:
        """Stop planning and wait for the round in flight (its claims are kept; a restart resumes them
        once the lease ends: a message is never cut between Telegram's answer and the commit)."""
        if self._closing:
            return
        self._closing = True
        for job_id in (self._poll_id, self._wake_id, self._purge_id, *map(self._plan_id, self._plans)):
            if self.scheduler.get_job(job_id):
                self.scheduler.remove_job(job_id)
        running = [task for task in (self._task, *self._jobs) if task is not None and not task.done()]
        if running:
            _done, late = await asyncio.wait(running, timeout=10)
            for task in late:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
        self._settle(self._followups)

    def _plan_id(self, plan: Plan) -> str:
        return f"reminders-{plan.name}-{self.name}"

    async def run_job(self, function: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> None:
        """Scheduler jobs of this worker and its plans run through here: stop() waits for them, so
        a shutdown never cuts a plan off mid-transaction (the scheduler would cancel the task)."""
        if self._closing:
            return
        task = asyncio.get_running_loop().create_task(function(*args))
        self._jobs.add(task)
        task.add_done_callback(self._jobs.discard)
        await asyncio.shield(task)

    async def purge(self) -> int:
        """Nightly: delete finished reminders older than `keep_days` (every replica may run it; a
        DELETE twice deletes nothing more)."""
        async with self.sessions() as session:
            deleted = await repo.purge_finished(session, utcnow() - timedelta(days=self.config.keep_days))
            await session.commit()
        log.info("purged %d finished reminders", deleted)
        return deleted

    # --- waking up -------------------------------------------------------------------------------------------

    async def _job(self) -> None:
        self.poke()

    def poke(self) -> None:
        """Start a round now, or one more after the round in flight."""
        if self._closing:
            return
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.get_running_loop().create_task(self._run(), name="reminders")

    async def run_once(self) -> None:
        """One round now, awaited: claim and send what is due, then plan the next wake-up."""
        self.poke()
        if self._task is not None:
            await asyncio.shield(self._task)

    def wake_at(self, when: datetime) -> None:
        """Make sure a round starts by `when` (on the worker's clock; earlier plans stand)."""
        if self._closing or (self._planned is not None and self._planned <= when):
            return
        self._planned = max(when, self.clock() + timedelta(milliseconds=20))
        self.scheduler.add_job(
            self._job,
            DateTrigger(run_date=utcnow() + (self._planned - self.clock())),
            id=self._wake_id,
            replace_existing=True,
            misfire_grace_time=None,
            coalesce=True,
        )

    async def _run(self) -> None:
        while True:
            self._again = False
            waiting, self._followups = self._followups, []
            try:
                await self._drain()
            except Exception:  # the database may be away for a moment; the poll comes back
                log.exception("reminder round failed")
            finally:
                self._settle(waiting)
            if not self._again or self._closing:
                return

    @staticmethod
    def _settle(futures: list[asyncio.Future[None]]) -> None:
        for future in futures:
            if not future.done():
                future.set_result(None)

    async def _drain(self) -> None:
        self._planned = None
        upcoming: datetime | None = None
        claimed_at = self.clock()
        while not self._closing:
            claimed_at = self.clock()
            async with self.sessions() as session:
                claim = await repo.claim(session, claimed_at, self.name, self.config.batch, self.lease)
                if not claim.full:
                    # The next wake-up, read in the claim's transaction: what this round gives back
                    # is remembered (`_retries`), and what is written meanwhile wakes the worker itself.
                    upcoming = await repo.next_due(session, claimed_at)
                await session.commit()
            await self._deliver_all(claim.reminders)
            if not claim.full:
                break
        # Forgotten: what was free again by the last claim, which took it. One given back for a
        # time after that claim is still to come, even if that time passed during the round.
        self._retries = {when for when in self._retries if when > claimed_at}
        candidates = [when for when in (upcoming, min(self._retries, default=None)) if when is not None]
        if candidates:
            self.wake_at(min(candidates))

    # --- delivering --------------------------------------------------------------------------------------

    async def _deliver_all(self, claimed: list[Reminder]) -> None:
        """One user's reminders in order (Telegram allows about one message a second per chat,
        and after a "blocked" the rest are skipped, not tried); users side by side: the first
        reminder of every user, then the second, each in transactions of `concurrency` reminders."""
        by_user: dict[int | None, list[Reminder]] = {}
        for reminder in claimed:
            by_user.setdefault(repo.recipient(reminder), []).append(reminder)
        queues = list(by_user.values())
        size = self.config.concurrency
        while queues and not self._closing:
            wave = [queue[0] for queue in queues]
            retries: dict[int, datetime] = {}
            for start in range(0, len(wave), size):
                retries.update(await self._deliver_chunk(wave[start : start + size]))
            held, rest = [], []
            for queue in queues:
                retry_at = retries.get(queue[0].id)
                if retry_at is not None:  # the rest wait for it: a user reads them in order
                    held.append((queue[1:], retry_at))
                elif len(queue) > 1:
                    rest.append(queue[1:])
            await self._hold(held)
            queues = rest

    async def _hold(self, held: list[tuple[list[Reminder], datetime]]) -> None:
        """Give back users' later reminders of this round, untried (their try is not counted)."""
        if not any(rest for rest, _until in held):
            return
        async with self.sessions() as session:
            for rest, until in held:
                for reminder in rest:
                    await repo.release(session, reminder.id, self.name, until, "held", refund=True)
            await session.commit()

    async def _deliver_chunk(self, chunk: list[Reminder]) -> dict[int, datetime]:
        """Send claimed reminders of distinct users; those given back for a later try, with when.

        When the chunk's transaction fails, what Telegram already took is recorded as sent on its
        own (a reminder is never sent twice because another of its chunk failed), and so when the
        round is cancelled (a shutdown) while a send waits (a flood wait). A failure before any
        send (a renderer's database error) is tried again reminder by reminder, so only the one
        at fault is charged a try."""
        progress = _Progress()
        try:
            retries = await self._deliver_together(chunk, progress)
        except asyncio.CancelledError:
            await asyncio.shield(self._record_sent(progress.accepted))
            raise
        except Exception:  # the database failed the transaction: nothing of it was recorded
            log.exception("reminders %s failed", ", ".join(f"#{reminder.id}" for reminder in chunk))
            if not progress.sending and len(chunk) > 1:
                retries = {}
                for reminder in chunk:
                    retries.update(await self._deliver_chunk([reminder]))
                return retries
            await self._record_sent(progress.accepted)
            retries = {}
            for reminder in chunk:
                if reminder.id in progress.accepted:
                    continue
                retry_at = await self._retry_later(reminder.id, reminder.attempts, "Exception")
                if retry_at is not None:
                    retries[reminder.id] = retry_at
            return retries
        for retry_at in retries.values():
            self._retry_at(retry_at)
        return retries

    async def _record_sent(self, reminder_ids: list[int]) -> None:
        if not reminder_ids:
            return
        try:
            async with self.sessions() as session:
                await repo.finish_all(session, reminder_ids, self.name, SENT)
                await session.commit()
        except Exception:  # the database is away: they are sent again after the lease (at least once)
            log.exception("reminders %s sent but not recorded", ", ".join(f"#{r}" for r in reminder_ids))

    async def _deliver_together(self, chunk: list[Reminder], progress: _Progress) -> dict[int, datetime]:
        """In one transaction: the claims re-checked (the rows locked on PostgreSQL), the messages
        rendered, sent side by side and each recorded; those given back for a later try, with when.
        A failure of one reminder (a renderer's bug, a send timing out) gives it back alone; a
        failure of the database fails the chunk before anything is sent, or unrecorded after."""
        retries: dict[int, datetime] = {}
        async with self.sessions() as session:
            held = await repo.lock_claimed(session, [reminder.id for reminder in chunk], self.name)
            ready: list[tuple[Reminder, User, Rendered]] = []
            ended: list[tuple[Reminder, Ended]] = []
            failed: list[tuple[Reminder, str]] = []
            for reminder in chunk:
                if reminder.id not in held:
                    continue  # cancelled or moved since the claim
                user = held[reminder.id]
                recipient = repo.recipient(reminder)
                if user is None and recipient is not None and reminder.kind == repo.SEALED:
                    user = await session.get(User, recipient)
                try:
                    rendered = await self._render(session, reminder, user)
                except SQLAlchemyError:
                    raise
                except Exception:
                    log.exception("reminder #%s failed", reminder.id)
                    failed.append((reminder, "Exception"))
                    continue
                if isinstance(rendered, Ended):
                    ended.append((reminder, rendered))
                elif user is not None:
                    ready.append((reminder, user, rendered))
            # No `sessions` in the sends: on BLOCKED it is recorded below, in this transaction holding the row lock.
            progress.sending = True
            sends = [
                asyncio.ensure_future(self._send_within_lease(user, rendered)) for _r, user, rendered in ready
            ]
            try:
                results = await asyncio.gather(*sends, return_exceptions=True)
            finally:  # also when cancelled: what Telegram took is known to the caller
                progress.accepted.extend(
                    reminder.id
                    for (reminder, _user, _rendered), send in zip(ready, sends, strict=True)
                    if send.done()
                    and not send.cancelled()
                    and send.exception() is None
                    and send.result().outcome is Outcome.SENT
                )
            sent = []
            for (reminder, user, _rendered), result in zip(ready, results, strict=True):
                if isinstance(result, BaseException):
                    if not isinstance(result, Exception):
                        raise result
                    log.error("reminder #%s failed: %r", reminder.id, result)
                    failed.append((reminder, type(result).__name__))
                    continue
                self._log(reminder, user, result)
                if result.outcome is Outcome.SENT:
                    sent.append(reminder.id)
                elif result.outcome is Outcome.BLOCKED:
                    await repo.finish(session, reminder.id, self.name, DEAD, "blocked")
                    await record_blocked(session, user.id)
                elif result.outcome is Outcome.REJECTED or reminder.attempts >= self.config.max_attempts:
                    await repo.finish(session, reminder.id, self.name, DEAD, result.error)
                else:
                    retries[reminder.id] = self._retry_time(reminder.attempts, result)
                    await repo.release(
                        session, reminder.id, self.name, retries[reminder.id], result.error or ""
                    )
            await repo.finish_all(session, sent, self.name, SENT)
            for reminder, end in ended:
                await repo.finish(session, reminder.id, self.name, end.status, end.why)
            for reminder, error in failed:
                retry_at = await self._give_back(session, reminder.id, reminder.attempts, error)
                if retry_at is not None:
                    retries[reminder.id] = retry_at
            await session.commit()
        return retries

    def _log(self, reminder: Reminder, user: User, result: delivery.Result) -> None:
        if reminder.kind == repo.SEALED:  # nobody named next to it, not even in the log
            log.info("reminder #%s sealed: %s", reminder.id, result.outcome)
        else:
            log.info("reminder #%s %s for %s: %s", reminder.id, reminder.kind, user.pseudonym, result.outcome)

    async def _send_within_lease(self, user: User, rendered: Rendered) -> delivery.Result:
        async with asyncio.timeout(self.lease.total_seconds() * 0.8):
            return await self._send(user, rendered)

    async def _send(self, user: User, rendered: Rendered) -> delivery.Result:
        protect = Default("protect_content") if rendered.protect_content is None else rendered.protect_content
        chat, markup = user.telegram_chat_id, rendered.markup
        method: SendMessage | SendDocument | CopyMessage = SendMessage(
            chat_id=chat, text=rendered.text, reply_markup=markup, protect_content=protect
        )
        if rendered.copy is not None:
            from_chat, message_id = rendered.copy
            method = CopyMessage(
                chat_id=chat,
                from_chat_id=from_chat,
                message_id=message_id,
                reply_markup=markup,
                protect_content=protect,
            )
        if rendered.document is not None:
            method = SendDocument(
                chat_id=chat,
                document=rendered.document,
                caption=rendered.text,
                reply_markup=markup,
                protect_content=protect,
            )
        return await delivery.deliver(self.bot, method, user_id=user.id, policy=self.policy)

    async def _render(self, session: AsyncSession, reminder: Reminder, user: User | None) -> Rendered | Ended:
        """The message, or how the reminder ends without one, for the caller to record after the
        sends: written before them, it would hold SQLite's one write lock while they wait for
        Telegram, and every teacher's press that writes with it."""
        if user is None or not user.active:
            return Ended(DEAD, "inactive")
        render = self.renderers.get(repo.kind_of(reminder))
        if render is None:
            log.error("reminder #%s: no renderer for kind %r", reminder.id, repo.kind_of(reminder))
            return Ended(DEAD, "unknown-kind")
        with self.i18n.context(), self.i18n.use_locale(user.language):
            rendered = await render(session, reminder, user, self.tz)
        return Ended(CANCELLED, "stale") if rendered is None else rendered

    def _retry_time(self, attempts: int, result: delivery.Result | None = None) -> datetime:
        delay = self.config.retry_seconds * 2 ** max(attempts - 1, 0)
        if result is not None and result.retry_after:
            delay = max(delay, result.retry_after)
        return self.clock() + timedelta(seconds=delay)

    def _retry_at(self, when: datetime) -> None:
        """Released rows are invisible to next_due until free again, so this worker remembers them."""
        when += timedelta(milliseconds=10)
        self._retries.add(when)
        self.wake_at(when)

    async def _give_back(
        self, session: AsyncSession, reminder_id: int, attempts: int, error: str
    ) -> datetime | None:
        """A failed try: the reminder released for a later one (when), or dead after `max_attempts`."""
        if attempts >= self.config.max_attempts:
            await repo.finish(session, reminder_id, self.name, DEAD, error)
            return None
        retry_at = self._retry_time(attempts)
        await repo.release(session, reminder_id, self.name, retry_at, error)
        return retry_at

    async def _retry_later(self, reminder_id: int, attempts: int, error: str) -> datetime | None:
        retry_at = None
        try:
            async with self.sessions() as session:
                retry_at = await self._give_back(session, reminder_id, attempts, error)
                await session.commit()
            if retry_at is not None:
                self._retry_at(retry_at)
        except Exception:  # the lease runs out and another round takes it
            log.exception("reminder #%s: could not record the failure", reminder_id)
        return retry_at
