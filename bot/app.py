"""The app factory: settings in, a wired bot, dispatcher, database and scheduler out."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.fsm.storage.memory import SimpleEventIsolation
from aiogram.types import LinkPreviewOptions
from aiogram.utils.callback_answer import CallbackAnswerMiddleware
from aiogram.utils.i18n import I18n
from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import ConfigError, Settings
from bot.content import lines
from bot.content.regions import regions
from bot.services import safety, statistics
from bot.telegram.i18n import UserLanguageMiddleware, build_i18n, catalogue_problems, read_catalogues
from bot.telegram.middlewares import CommitMiddleware, DatabaseMiddleware, UserMiddleware
from bot.workers.broadcasts import BroadcastWorker
from bot.workers.groups import GroupSweeper
from bot.workers.reminders import ReminderWorker
from handlers import build_routers
from handlers.common.safety import HelpFirstMiddleware, SafetyTally
from handlers.teacher import relax
from storage import crypto, db
from storage.cache import RowCaches
from storage.fsm import DatabaseStorage, SealedRedisStorage
from storage.models.base import utcnow

log = logging.getLogger("demeu")


def build_crypto(settings: Settings) -> crypto.Crypto:
    keys = [key.get_secret_value() for key in settings.security.encryption_keys]
    hmac_key = settings.security.hmac_key.get_secret_value() if settings.security.hmac_key else ""
    if not keys and not hmac_key:
        keys, hmac_key = crypto.load_or_create_local_keys(settings.data_dir)
    elif not keys or not hmac_key:
        missing = "security.encryption_keys" if not keys else "security.hmac_key"
        raise ConfigError(
            f"{missing}: set both encryption keys and the HMAC key, or neither (for local keys)"
        )
    try:
        return crypto.Crypto.from_keys(keys, hmac_key)
    except crypto.CryptoKeyError as error:
        raise ConfigError(str(error)) from None


def check_content(settings: Settings) -> None:
    """Content is data: refuse to start on a broken catalogue rather than fail mid-conversation."""
    catalogues = read_catalogues()
    problems = catalogue_problems(catalogues)
    numbers = list(dict.fromkeys(settings.support.crisis_lines + settings.support.concern_lines))
    problems += [f"support lines: {problem}" for problem in lines.problems(numbers, catalogues)]
    if problems:
        raise ConfigError("locales are incomplete:\n  " + "\n  ".join(problems))
    regions()
    safety.detector()  # the crisis rules: every example must fire its rule
    relax.check_content()


def build_storage(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> tuple[BaseStorage, BaseEventIsolation]:
    if settings.fsm.storage == "database":
        return DatabaseStorage(sessions), SimpleEventIsolation()
    # Keys are blind indexes and values (state and data) encrypted and padded: Redis sees no ids, no text.
    storage = SealedRedisStorage.for_url(settings.fsm.storage)
    return storage, storage.create_isolation()


def build_bot(settings: Settings) -> Bot:
    session = None
    if settings.telegram.api_server:
        session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram.api_server))
    # Every message is protected from forwarding and saving: in this chat even "you are booked" says
    # that someone sought help, and an edit keeps the protection of the message it edits, so only
    # a default makes every screen reached by editing safe. Messages made to leave the chat (an .ics
    # file, a staff invite, coordinators' aggregate reports) say protect_content=False.
    return Bot(
        settings.require_token(),
        session=session,
        default=DefaultBotProperties(
            parse_mode=ParseMode.HTML,
            link_preview=LinkPreviewOptions(is_disabled=True),
            protect_content=True,
        ),
    )


def build_dispatcher(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], i18n: I18n
) -> Dispatcher:
    storage, isolation = build_storage(settings, sessions)
    # FSM registered by hand, after the database session opens: state is then read and written in
    # the update's own transaction (one read, no extra connection) instead of a session of its own;
    # the commit comes inside its per-user lock, so a user's next update sees this one's changes.
    dispatcher = Dispatcher(
        storage=storage, events_isolation=isolation, disable_fsm=True, settings=settings, sessions=sessions
    )
    relax.setup(
        dispatcher, settings
    )  # guided-exercise timers, one runner per dispatcher; first: it times updates
    dispatcher.update.outer_middleware(DatabaseMiddleware(sessions))
    dispatcher.update.outer_middleware(dispatcher.fsm)
    dispatcher.update.outer_middleware(CommitMiddleware())
    dispatcher.update.outer_middleware(UserMiddleware(settings))
    dispatcher.update.outer_middleware(UserLanguageMiddleware(i18n))
    # Help first: a crisis message gets the safety screen before any handler answers it.
    tally = dispatcher["safety_tally"] = SafetyTally()
    dispatcher.message.outer_middleware(HelpFirstMiddleware(tally))
    dispatcher.callback_query.middleware(CallbackAnswerMiddleware())
    dispatcher.include_routers(*build_routers())
    return dispatcher


@dataclass
class App:
    settings: Settings
    bot: Bot
    dispatcher: Dispatcher
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    scheduler: AsyncIOScheduler
    i18n: I18n
    _closed: bool = field(default=False, init=False)
    _scheduler_stopping: bool = field(default=False, init=False)
    # Background loops started with the dispatcher and stopped before the bot session closes.
    workers: list = field(default_factory=list, init=False)
    broadcaster: BroadcastWorker | None = field(default=None, init=False)

    @classmethod
    async def create(cls, settings: Settings, *, migrate: bool = True) -> App:
        bot = build_bot(settings)  # first: a missing token is the likeliest mistake
        crypto.install(build_crypto(settings))
        check_content(settings)
        engine = db.create_engine(settings.database.url, echo=settings.database.echo)
        if migrate:
            await db.upgrade(engine)
        sessions = db.session_factory(engine, RowCaches.for_database(settings.database.url))
        i18n = build_i18n(settings.bot.default_language)
        dispatcher = build_dispatcher(settings, sessions, i18n)
        scheduler = AsyncIOScheduler(timezone=settings.tz)
        # Safety screens are counted, never named: their tally reaches the log once a day.
        scheduler.add_job(
            dispatcher["safety_tally"].flush,
            "cron",
            hour=23,
            minute=55,
            id="safety-tally",
            replace_existing=True,
        )
        app = cls(settings, bot, dispatcher, engine, sessions, scheduler, i18n)
        dispatcher["app"] = app
        app.broadcaster = BroadcastWorker(app)
        app.workers += [app.broadcaster, GroupSweeper(app)]
        app.workers.append(ReminderWorker.for_app(app))
        dispatcher.startup.register(app._on_startup)
        dispatcher.shutdown.register(app._on_shutdown)
        return app

    async def _on_startup(self) -> None:
        for worker in self.workers:
            worker.start()
        # Statistics of a closed period are published once; doing it nightly spares the coordinator
        # who looks first a wait of seconds (the first look still publishes what is missing).
        self.scheduler.add_job(
            self.publish_statistics, "cron", hour=4, minute=10, id="stats-publish", replace_existing=True
        )
        if not self.scheduler.running:
            self.scheduler.start()

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
