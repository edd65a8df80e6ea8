"""The composition root: settings in; the bot, dispatcher, database, services and workers out,
connected by the typed events of bot/events.py (`connect` lists every subscription)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.utils.callback_answer import CallbackAnswerMiddleware
from aiogram.utils.i18n import I18n
from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import ConfigError, Settings
from bot.content import lines
from bot.content.instruments import load_instruments
from bot.content.library import library
from bot.content.referrals import referrals
from bot.content.regions import regions
from bot.events import BookingChanged, Events, UserErased
from bot.services import safety, statistics
from bot.services.accounts import Accounts
from bot.services.bookings import Bookings
from bot.services.keys import build_crypto
from bot.telegram.bot import build_bot
from bot.telegram.dispatch import PressDispatcher
from bot.telegram.fsm import DatabaseStorage, LockedFSM, SealedRedisStorage
from bot.telegram.i18n import UserLanguageMiddleware, build_i18n, catalogue_problems, read_catalogues
from bot.telegram.isolation import ForgetfulEventIsolation
from bot.telegram.middlewares import CommitMiddleware, DatabaseMiddleware, FirstRead, UserMiddleware
from bot.telegram.profile import publish_profile
from bot.telegram.throttle import ThrottleMiddleware
from bot.workers import (
    booking_reminders,
    chat_notices,
    group_reminders,
    groups,
    notices,
    nudges,
    practice,
    retention,
    waitlist,
)
from bot.workers.broadcasts import BroadcastWorker
from bot.workers.chat_clock import ChatClock
from bot.workers.groups import GroupSweeper
from bot.workers.reminders import ReminderWorker, Renderer
from bot.workers.reports import ReportMaker
from handlers import build_routers
from handlers.common import chat as chat_handlers
from handlers.common import questions as question_handlers
from handlers.common import safety as safety_handlers
from handlers.common.safety import HelpFirstMiddleware, SafetyTally
from handlers.coordinator import staff as staff_handlers
from handlers.teacher import relax
from storage import crypto, db
from storage.cache import RowCaches
from storage.models import User
from storage.models.base import utcnow
from storage.repo import practice as practice_repo
from storage.repo import relax as relax_repo
from storage.repo import selfcheck as selfcheck_repo

log = logging.getLogger("demeu")


def check_content(settings: Settings) -> None:
    """Content is data: refuse to start on a broken catalogue rather than fail mid-conversation."""
    catalogues = read_catalogues()
    problems = catalogue_problems(catalogues)
    numbers = list(dict.fromkeys(settings.support.crisis_lines + settings.support.concern_lines))
    problems += [f"support lines: {problem}" for problem in lines.problems(numbers, catalogues)]
    if problems:
        raise ConfigError("locales are incomplete:\n  " + "\n  ".join(problems))
    if problems := library().problems(set(load_instruments())):  # every reading's self-checks exist, and back
        raise ConfigError("\n  ".join(["the self-help library does not fit the self-checks:", *problems]))
    regions()
    referrals()  # every centre and line of a referral has its source
    safety.detector()  # the crisis rules: every example must fire its rule
    relax.check_content()


def build_storage(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> tuple[BaseStorage, BaseEventIsolation]:
    if settings.fsm.storage == "database":
        return DatabaseStorage(sessions), ForgetfulEventIsolation()
    # Keys are blind indexes and values (state and data) encrypted and padded: Redis sees no ids, no text.
    storage = SealedRedisStorage.for_url(settings.fsm.storage)
    return storage, storage.create_isolation()


def build_dispatcher(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], i18n: I18n, **services: Any
) -> Dispatcher:
    """The dispatcher; `services` reach handlers by name (a handler's `bookings: Bookings`)."""
    storage, isolation = build_storage(settings, sessions)
    # FSM registered by hand, after the database session opens: state is then read and written in
    # the update's own transaction (one read, no extra connection) instead of a session of its own;
    # the commit comes inside its per-user lock, so a user's next update sees this one's changes.
    # A press enters only the routers that take it (bot/telegram/dispatch.py).
    dispatcher = PressDispatcher(
        storage=storage,
        events_isolation=isolation,
        disable_fsm=True,
        settings=settings,
        i18n=i18n,  # also for the error handler, when the middleware that sets it failed
        sessions=sessions,
        **services,
    )
    relax.setup(
        dispatcher, settings
    )  # guided-exercise timers, one runner per dispatcher; first: it times updates
    dispatcher.update.outer_middleware(DatabaseMiddleware(sessions))
    # SQLite's row caches answer the first reads in process; replicas share PostgreSQL, so one statement.
    first_read = None if db.is_sqlite(settings.database.url) else FirstRead(sessions, storage)
    dispatcher.fsm = LockedFSM(storage, isolation, first_read)
    dispatcher.update.outer_middleware(dispatcher.fsm)
    dispatcher.update.outer_middleware(CommitMiddleware(sessions))
    dispatcher.update.outer_middleware(UserMiddleware(settings))
    dispatcher.update.outer_middleware(UserLanguageMiddleware(i18n))
    # Help first: a crisis message gets the safety screen before any handler answers it.
    tally = dispatcher["safety_tally"] = SafetyTally()
    dispatcher.message.outer_middleware(HelpFirstMiddleware(tally))
    dispatcher.message.outer_middleware(ThrottleMiddleware(settings.limits.messages_per_second))
    # A participant of a live chat who opens the menu or a command leaves the chat until they come back.
    dispatcher.message.outer_middleware(chat_handlers.ChatPresence())
    dispatcher.callback_query.outer_middleware(chat_handlers.ChatPresence())
    dispatcher.callback_query.middleware(CallbackAnswerMiddleware())
    dispatcher.include_routers(*build_routers())
    return dispatcher


def connect(
    events: Events,
    *,
    bookings: Bookings,
    reminders: ReminderWorker,
    chat_clock: ChatClock,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    """Who follows what: the one place that answers "what happens when a booking is made?"."""
    # A booking's reminders and its chat change in the booking's own transaction.
    events.subscribe(BookingChanged, partial(booking_reminders.follow, config=settings.reminders))
    events.subscribe(BookingChanged, chat_clock.follow)
    # Who is told of it (the durable outbox: rows the reminder worker sends once this commits).
    events.subscribe(BookingChanged, notices.follow)
    # A no-show: the gentle message, through the outbox; a reschedule keeps the intake and the note.
    events.subscribe(BookingChanged, practice.follow)
    # "Delete my data": each feature deletes what it keeps, in the deletion's transaction, before
    # the user's row goes. Bookings first: cancelling them calls off their chats and reminders.
    events.subscribe(UserErased, partial(notices.erase_teacher, bookings=bookings))
    events.subscribe(UserErased, chat_notices.erase_user)
    events.subscribe(UserErased, partial(groups.erase_user, settings=settings))
    events.subscribe(UserErased, safety_handlers.erase_user)
    events.subscribe(UserErased, _rows(relax_repo.erase))
    events.subscribe(UserErased, _rows(selfcheck_repo.erase))
    events.subscribe(UserErased, _rows(practice_repo.erase_teacher))  # notes on their sessions, intakes
    # Reminders scheduled in a transaction wake the worker once it commits.
    db.on_commit(sessions, reminders.committed, reminders.rolled_back)
    if settings.reminders.agenda_time:
        reminders.plan(booking_reminders.agenda_plan(reminders))
    reminders.plan(group_reminders.plan(reminders))
    reminders.plan(retention.plan(reminders))
    # "Tell me when a time opens": matched waits become messages, once.
    reminders.plan(waitlist.plan(reminders, bookings))


def _rows(erase: Callable[[AsyncSession, User], Awaitable[None]]) -> Callable[[UserErased], Awaitable[None]]:
    async def handler(event: UserErased) -> None:
        await erase(event.session, event.user)

    return handler


def renderers(settings: Settings) -> dict[str, Renderer]:
    """Each reminder kind's renderer (bot/workers/reminders.py)."""
    return {
        **booking_reminders.renderers(settings.video, settings.reminders),
        group_reminders.KIND: partial(group_reminders.render_group, video=settings.video),
        **nudges.RENDERERS,
        safety_handlers.CHECKIN: safety_handlers.render_checkin,
        waitlist.KIND: waitlist.render_wait,
        **notices.RENDERERS,
        **practice.RENDERERS,
        **groups.RENDERERS,
        **chat_notices.RENDERERS,
        **question_handlers.RENDERERS,
        **staff_handlers.RENDERERS,
    }


@dataclass
class App:
    settings: Settings
    bot: Bot
    dispatcher: Dispatcher
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    scheduler: AsyncIOScheduler
    i18n: I18n
    events: Events
    bookings: Bookings
    broadcaster: BroadcastWorker
    sweeper: GroupSweeper
    reminders: ReminderWorker
    chat_clock: ChatClock
    reports: ReportMaker
    _closed: bool = field(default=False, init=False)
    _scheduler_stopping: bool = field(default=False, init=False)

    @property
    def workers(self) -> list[Any]:
        """Background loops started with the dispatcher and stopped before the bot session closes."""
        return [self.broadcaster, self.sweeper, self.reminders, self.chat_clock, self.reports]

    @classmethod
    async def create(cls, settings: Settings, *, migrate: bool = True) -> App:
        bot = build_bot(settings)  # first: a missing token is the likeliest mistake
        crypto.install(build_crypto(settings))
        check_content(settings)
        database = settings.database
        engine = db.create_engine(
            database.url, echo=database.echo, pool_size=database.pool_size, max_overflow=database.max_overflow
        )
        if migrate:
            await db.upgrade(engine)
        sessions = db.session_factory(engine, RowCaches.for_database(settings.database.url).session_class())
        i18n = build_i18n(settings.bot.default_language)
        scheduler = AsyncIOScheduler(timezone=settings.tz)
        events = Events()
        bookings = Bookings(settings.booking, events)
        reminders = ReminderWorker(
            bot, sessions, scheduler, i18n, settings.reminders, settings.tz, renderers(settings)
        )
        chat_clock = ChatClock(bot, sessions, scheduler, i18n, settings)
        broadcaster = BroadcastWorker(bot, sessions, i18n, settings)
        reports = ReportMaker(bot, sessions, i18n, settings)
        connect(
            events,
            bookings=bookings,
            reminders=reminders,
            chat_clock=chat_clock,
            sessions=sessions,
            settings=settings,
        )
        dispatcher = build_dispatcher(
            settings,
            sessions,
            i18n,
            bookings=bookings,
            accounts=Accounts(events),
            chat_clock=chat_clock,
            broadcaster=broadcaster,
            reports=reports,
        )
        # Safety screens are counted, never named: their tally reaches the log once a day.
        scheduler.add_job(
            dispatcher["safety_tally"].flush,
            "cron",
            hour=23,
            minute=55,
            id="safety-tally",
            replace_existing=True,
        )
        app = cls(
            settings,
            bot,
            dispatcher,
            engine,
            sessions,
            scheduler,
            i18n,
            events,
            bookings,
            broadcaster,
            GroupSweeper(sessions, settings),
            reminders,
            chat_clock,
            reports,
        )
        dispatcher.startup.register(app._on_startup)
        dispatcher.shutdown.register(app._on_shutdown)
        return app

    async def _on_startup(self) -> None:
        for worker in self.workers:
            await worker.start()
        # Statistics of a closed period are published once; doing it nightly spares the coordinator
        # who looks first a wait of seconds (the first look still publishes what is missing).
        self.scheduler.add_job(
            self.publish_statistics, "cron", hour=4, minute=10, id="stats-publish", replace_existing=True
        )
        if not self.scheduler.running:
            self.scheduler.start()
        await self.publish_profile()

    async def publish_profile(self) -> None:
        """The "/" menu and descriptions; a bot that could not set them still serves its users."""
        try:
            changed = await publish_profile(self.bot, self.i18n, self.settings.bot.default_language)
        except Exception:
            log.exception("setting the bot's commands and descriptions failed")
            return
        if changed:
            log.info("bot profile updated: %s", ", ".join(changed))

    async def publish_statistics(self) -> None:
        try:
            async with self.sessions() as session:
                await statistics.publish_due(
                    session, utcnow(), self.settings.tz, self.settings.broadcast.min_cell
                )
                await session.commit()
        except Exception:  # the next night, or the first look, tries again
            log.exception("publishing statistics failed")

    async def _on_shutdown(self) -> None:
        for worker in self.workers:
            await worker.stop()
        # Once only: the asyncio scheduler stops on the next loop turn, so `running` is still
        # True if shutdown comes twice (the dispatcher's shutdown, then close()).
        if self.scheduler.running and not self._scheduler_stopping:
            self._scheduler_stopping = True
            self.scheduler.shutdown(wait=False)

    async def run_polling(self, *, handle_signals: bool = True) -> None:
        await self.bot.delete_webhook()
        await self.dispatcher.start_polling(
            self.bot,
            handle_signals=handle_signals,
            allowed_updates=self.dispatcher.resolve_used_update_types(),
        )

    def webhook_app(self) -> web.Application:
        from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application

        telegram = self.settings.telegram
        secret = telegram.webhook_secret.get_secret_value() if telegram.webhook_secret else None
        application = web.Application()
        SimpleRequestHandler(dispatcher=self.dispatcher, bot=self.bot, secret_token=secret).register(
            application, path=telegram.webhook_path
        )

        async def healthz(_request: web.Request) -> web.Response:
            healthy = await db.ping(self.engine)
            return web.Response(
                status=200 if healthy else 503, text="ok" if healthy else "database unreachable"
            )

        async def register_webhook(_app: web.Application) -> None:
            if telegram.webhook_url:
                await self.bot.set_webhook(
                    telegram.webhook_url.rstrip("/") + telegram.webhook_path,
                    secret_token=secret,
                    allowed_updates=self.dispatcher.resolve_used_update_types(),
                )

        application.router.add_get("/healthz", healthz)
        application.on_startup.append(register_webhook)
        setup_application(application, self.dispatcher, bot=self.bot)
        return application

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self.dispatcher["guided"].shutdown()  # before the bot session closes: no orphaned timers
        await self._on_shutdown()
        await self.dispatcher.storage.close()
        await self.bot.session.close()
        await self.engine.dispose()
