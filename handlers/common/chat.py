"""Anonymous live chat between a teacher and a psychologist, inside the bot.

While a chat session is open, whatever either side sends reaches the other as a copy made by
the bot (copyMessage, protected from forwarding): no "forwarded from", no name, no username,
no profile. The bot stores nothing of it, but the copies stay in both Telegram chats until each
side deletes them there (the teacher is told so); the sender's message gets a 👌 reaction once delivered.
A session opens at its start time and closes at its end plus a grace period (ChatClock), or
earlier when either side ends it; the teacher is then asked whether it helped.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiogram import Bot, Dispatcher, F, Router
from aiogram.enums import ContentType
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.filters import Command, Filter
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message, ReactionTypeEmoji
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy import event, inspect
from sqlalchemy.ext.asyncio import AsyncSession, async_object_session

from bot.config import Settings
from bot.services.safety import Kind, Signal
from bot.telegram import callbacks as cb
from bot.telegram import delivery
from bot.telegram.keyboards import KeyboardBuilder, urgent_row, with_nav
from bot.telegram.ui import show
from bot.views.booking import privacy_text
from storage.models import ChatSession, User
from storage.models.base import utcnow
from storage.repo import booking as booking_repo
from storage.repo import chat as repo
from storage.repo import users
from storage.repo.booking import BOOKING_CHANGED

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)

# Contact cards and locations would reveal a phone number or a place: never relayed.
NOT_RELAYED = {ContentType.CONTACT, ContentType.LOCATION, ContentType.VENUE}
DELIVERED = [ReactionTypeEmoji(emoji="👌")]
SWEEP_SECONDS = 60
# A message sent this close to a planned chat, or after one ended, is explained rather than ignored.
NEARBY = timedelta(hours=2)

Render = Callable[[], tuple[str, InlineKeyboardMarkup]]


# --- sending outside the current conversation ------------------------------------------------------------------


async def send_to(bot: Bot, i18n: I18n, person: User, render: Render) -> int | None:
    """A new message to someone other than the sender, in their own language; its id, or None if undeliverable."""
    if not person.active:
        return None
    with i18n.context(), i18n.use_locale(person.language):
        text, markup = render()
    # Through bot/delivery: 429 and 5xx are waited out and retried; a blocked bot marks them inactive.
    result = await delivery.send_message(
        bot, person.telegram_chat_id, text, reply_markup=markup, user_id=person.id
    )
    return await delivered(result, person)


async def delivered(result: delivery.Result, person: User) -> Any:
    """What was sent (None if not): a recipient who blocked the bot becomes inactive in the
    transaction that loaded them, committed with the update (delivery.record_blocked: no second
    session waiting on this one's locks)."""
    if result.outcome is delivery.Outcome.BLOCKED:
        session = async_object_session(person)
        if session is not None:
            await delivery.record_blocked(session, person.id)
    if not result.sent:
        log.warning("could not reach %s: %s", person.pseudonym, result.error or result.outcome)
        return None
    return getattr(result.result, "message_id", result.result)


def local_time(moment: datetime, settings: Settings) -> str:
    return moment.astimezone(settings.tz).strftime("%H:%M")


def closes_at(chat: ChatSession, settings: Settings) -> datetime:
    return chat.ends_at + timedelta(minutes=settings.chat.grace_minutes)


# --- screens ---------------------------------------------------------------------------------------------------


def chat_keyboard(chat_id: int, *, enter: bool) -> InlineKeyboardMarkup:
    builder = KeyboardBuilder()
    if enter:
        builder.button(text=_("chat-enter"), callback_data=cb.Chat(action="enter", id=chat_id))
    builder.button(text=_("chat-end"), callback_data=cb.Chat(action="end", id=chat_id))
    builder.row(*urgent_row())
    return builder.as_markup()


async def psychologist_name(session: AsyncSession, chat: ChatSession) -> str | None:
    """The display name from the psychologist's booking profile, if they have one (escaped for HTML)."""
    profile = await booking_repo.profile_of(session, chat.psychologist_id)
    return html.escape(profile.display_name) if profile is not None and profile.display_name else None


def opened_text(
    chat: ChatSession, me: User, teacher: User, settings: Settings, name: str | None = None
) -> str:
    until = local_time(closes_at(chat, settings), settings)
    if me.id == chat.teacher_id:
        privacy = privacy_text("chat")  # the same promise the booking made
        if name:
            return _("chat-open-teacher-named").format(name=name, until=until, privacy=privacy)
        return _("chat-open-teacher").format(until=until, privacy=privacy)
    return _("chat-open-psy").format(code=teacher.pseudonym, until=until)


def ended_screen(chat: ChatSession, me: User, teacher: User) -> tuple[str, InlineKeyboardMarkup]:
    builder = KeyboardBuilder()
    if me.id != chat.teacher_id:
        return _("chat-ended-psy").format(code=teacher.pseudonym), with_nav(builder)
    for value in ("1", "0"):
        builder.button(
            text=_("chat-rate-" + value), callback_data=cb.Chat(action="rate", id=chat.id, value=value)
        )
    builder.adjust(2)
    return _("chat-ended-teacher"), with_nav(builder)


# --- opening and closing ---------------------------------------------------------------------------------------


async def _people(session: AsyncSession, chat: ChatSession) -> tuple[User | None, User | None]:
    return await session.get(User, chat.teacher_id), await session.get(User, chat.psychologist_id)


async def open_chat(session: AsyncSession, bot: Bot, i18n: I18n, settings: Settings, chat_id: int) -> bool:
    """planned -> open (once, whoever gets here first), then both sides are told, with a button to enter."""
    chat = await repo.get_session(session, chat_id)
    if chat is None or chat.status != "planned":
        return False
    if closes_at(chat, settings) <= utcnow():  # over while the bot was down: nothing to open any more
        return await close_chat(session, bot, i18n, settings, chat_id)
    if not await repo.mark_open(session, chat_id):
        return False
    teacher, psychologist = await _people(session, chat)
    name = await psychologist_name(session, chat)
    await session.commit()  # published before anyone is told, so their first message finds it open
    for person in (teacher, psychologist):
        if person is not None:
            await send_to(
                bot,
                i18n,
                person,
                lambda p=person: (
                    opened_text(chat, p, teacher, settings, name),
                    chat_keyboard(chat.id, enter=True),
                ),
            )
    log.info("chat %s opened", chat_id)
    return True


async def close_chat(
    session: AsyncSession,
    bot: Bot,
    i18n: I18n,
    settings: Settings,
    chat_id: int,
    ender: User | None = None,
    event: Message | CallbackQuery | None = None,
) -> bool:
    """open -> closed (once): the ender's screen is `event` (edited in place), the other side gets a message.
    A chat that never opened closes silently: nobody was told it began."""
    if not await repo.mark_closed(session, chat_id, was=("open",)):
        closed = await repo.mark_closed(session, chat_id, was=("planned",))
        await session.commit()
        return closed
    chat = await repo.get_session(session, chat_id)
    teacher, psychologist = await _people(session, chat)
    await session.commit()
    await _tell_ended(bot, i18n, chat, teacher, psychologist, ender, event)
    log.info("chat %s closed by %s", chat_id, "a participant" if ender else "the clock")
    return True


async def _tell_ended(
    bot: Bot,
    i18n: I18n,
    chat: ChatSession,
    teacher: User | None,
    psychologist: User | None,
    ender: User | None = None,
    event: Message | CallbackQuery | None = None,
) -> None:
    for person in (teacher, psychologist):
        if person is None:
            continue
        if event is not None and ender is not None and person.id == ender.id:
            await show(event, *ended_screen(chat, person, teacher))
        else:
            await send_to(bot, i18n, person, lambda p=person: ended_screen(chat, p, teacher))


async def tell_chats_ended(
    session: AsyncSession,
    bot: Bot,
    i18n: I18n,
    settings: Settings,
    ended: list[tuple[ChatSession, str]],
) -> None:
    """After a deactivation committed (storage.repo.staff.deactivate ended the chats): both sides of
    an open chat are told as when any chat ends; the teacher of one still to open, that it will not
    (the psychologist hears of the deactivation itself)."""
    for chat, was in ended:
        teacher, psychologist = await _people(session, chat)
        if was == "open":
            await _tell_ended(bot, i18n, chat, teacher, psychologist)
        elif teacher is not None:
            await send_to(
                bot,
                i18n,
                teacher,
                lambda chat=chat: (
                    _("chat-called-off").format(time=local_time(chat.starts_at, settings)),
                    with_nav(KeyboardBuilder()),
                ),
            )
        log.info("chat %s closed: its psychologist was deactivated", chat.id)


class ChatClock:
    """Opens and closes chats on time: a date job per edge for punctuality, and a sweep every minute
    as a safety net (a chat committed after its job ran, a replica that missed it). Pending chats are
    rescheduled from the database at start, so a restart loses none. Transitions are conditional
    UPDATEs, so whichever job or replica comes first acts and the others do nothing."""

    def __init__(self, app: App) -> None:
        self.app = app

    def start(self, chats: list[ChatSession]) -> None:
        for chat in chats:
            self.schedule(chat)
        self.app.scheduler.add_job(
            self.sweep, "interval", seconds=SWEEP_SECONDS, id="chat-sweep", replace_existing=True
        )

    def schedule(self, chat: ChatSession) -> None:
        if chat.status == "planned":
            self._at(f"chat-open-{chat.id}", chat.starts_at, self.open, chat.id)
        self._at(f"chat-close-{chat.id}", closes_at(chat, self.app.settings), self.close, chat.id)

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
        self.app.scheduler.add_job(
            action,
            "date",
            run_date=max(when, utcnow()),
            args=args,
            id=job_id,
            replace_existing=True,
            misfire_grace_time=None,
        )

    async def open(self, chat_id: int) -> None:
        app = self.app
        async with app.sessions() as session:
            await open_chat(session, app.bot, app.i18n, app.settings, chat_id)

    async def close(self, chat_id: int) -> None:
        app = self.app
        async with app.sessions() as session:
            await close_chat(session, app.bot, app.i18n, app.settings, chat_id)

    def close_now(self, chat_id: int) -> None:
        self._at(f"chat-close-{chat_id}", utcnow(), self.close, chat_id)

    async def sweep(self) -> None:
        now = utcnow()
        async with self.app.sessions() as session:
            chats = await repo.pending(session)
        for chat in chats:
            if closes_at(chat, self.app.settings) <= now:
                await self.close(chat.id)
            elif chat.status == "planned" and chat.starts_at <= now:
                await self.open(chat.id)


# --- the entry point for other features ------------------------------------------------------------------------


async def schedule_booking_chat(
    session: AsyncSession,
    clock: ChatClock,
    *,
    booking_id: int,
    teacher_id: int,
    psychologist_id: int,
    starts_at: datetime,
    ends_at: datetime,
) -> ChatSession:
    """For a booking in the "chat" format: the chat that opens at its start and closes at its end.
    Idempotent per booking (a retry or a reschedule updates the same planned chat)."""
    chat = await repo.upsert_for_booking(session, booking_id, teacher_id, psychologist_id, starts_at, ends_at)
    clock.schedule_once_committed(session, chat)
    return chat


async def drop_booking_chat(session: AsyncSession, clock: ChatClock, booking_id: int) -> None:
    """A cancelled or moved booking: its planned chat is called off silently in the caller's
    transaction (the booking flow tells people); an open one closes now, both sides told."""
    chat = await repo.for_booking(session, booking_id)
    if chat is None:
        return
    if chat.status == "planned":
        await repo.mark_closed(session, chat.id)
    elif chat.status == "open":
        clock.close_now(chat.id)


def booking_hook(clock: ChatClock) -> Callable[[AsyncSession, Any, str], Any]:
    """Follows bookings (storage.repo.booking.BOOKING_CHANGED): a "chat" booking gets its chat,
    in the booking's own transaction, so a rolled-back booking leaves no chat behind."""

    async def on_booking_changed(session: AsyncSession, booking: Any, event: str) -> None:
        if event == "rescheduled" and booking.previous_id:
            await drop_booking_chat(session, clock, booking.previous_id)
        if event == "cancelled":
            await drop_booking_chat(session, clock, booking.id)
        if event in ("booked", "rescheduled") and booking.slot.format == "chat":
            await schedule_booking_chat(
                session,
                clock,
                booking_id=booking.id,
                teacher_id=booking.teacher_id,
                psychologist_id=booking.slot.psychologist.user_id,
                starts_at=booking.slot.starts_at,
                ends_at=booking.slot.ends_at,
            )

    return on_booking_changed


# --- handlers --------------------------------------------------------------------------------------------------


class InOpenChat(Filter):
    """Matches messages from a participant of an open chat and hands the handler `chat_session`."""

    async def __call__(
        self, message: Message, session: AsyncSession, user: User | None = None
    ) -> bool | dict[str, Any]:
        if user is None or not user.consented:
            return False
        chat = await repo.active_for(session, user.id)
        return {"chat_session": chat} if chat is not None else False


class NearChat(Filter):
    """A chat of this user that opens soon or ended a moment ago."""

    async def __call__(
        self, message: Message, session: AsyncSession, user: User | None = None
    ) -> bool | dict[str, Any]:
        if user is None or not user.consented:
            return False
        chat = await repo.next_or_recent_for(session, user.id, utcnow(), NEARBY)
        return {"chat_session": chat} if chat is not None else False


async def _relay(
    message: Message,
    bot: Bot,
    session: AsyncSession,
    user: User,
    chat: ChatSession,
    i18n: I18n,
    signal: Signal | None = None,
) -> None:
    other = await session.get(User, chat.psychologist_id if user.id == chat.teacher_id else chat.teacher_id)
    if message.content_type in NOT_RELAYED:
        await message.answer(_("chat-not-relayed-private"), reply_markup=chat_keyboard(chat.id, enter=False))
        return
    if other is None or not other.active:
        await message.answer(_("chat-other-gone"), reply_markup=chat_keyboard(chat.id, enter=False))
        return
    try:
        await bot.copy_message(
            other.telegram_chat_id, message.chat.id, message.message_id, protect_content=True
        )
    except TelegramForbiddenError:  # the other side blocked the bot
        await users.mark_inactive(session, other.id)
        await message.answer(_("chat-other-gone"), reply_markup=chat_keyboard(chat.id, enter=False))
        return
    except TelegramBadRequest:
        await message.answer(_("chat-not-relayed"), reply_markup=chat_keyboard(chat.id, enter=False))
        return
    await message.react(DELIVERED)
    if user.id == chat.teacher_id and signal is not None and signal.kind is Kind.CRISIS:
        # The teacher saw the safety screen first (HelpFirstMiddleware); the psychologist gets the protocol.
        await send_to(
            bot,
            i18n,
            other,
            lambda: (
                _("chat-crisis-alert").format(code=user.pseudonym) + "\n\n" + _("crisis-protocol"),
                None,
            ),
        )


def create_router() -> Router:
    """Registered BEFORE the other feature routers (see handlers/__init__.py): while a chat is open,
    a participant's messages belong to the conversation, whatever screen or state they left."""
    router = Router(name="chat")

    hooks: list[Callable[..., Any]] = []

    @router.startup()
    async def start_clock(app: App, dispatcher: Dispatcher) -> None:
        clock = ChatClock(app)
        dispatcher["chat_clock"] = clock
        hooks.append(booking_hook(clock))
        BOOKING_CHANGED.append(hooks[-1])
        async with app.sessions() as session:
            clock.start(await repo.pending(session))

    @router.shutdown()
    async def stop_clock() -> None:
        # Jobs go with the app's scheduler; the hook goes here, or a stopped app would still get bookings.
        while hooks:
            hook = hooks.pop()
            if hook in BOOKING_CHANGED:
                BOOKING_CHANGED.remove(hook)

    @router.message(Command("end"), InOpenChat())
    async def end_command(
        message: Message,
        bot: Bot,
        session: AsyncSession,
        user: User,
        chat_session: ChatSession,
        i18n: I18n,
        settings: Settings,
    ) -> None:
        await close_chat(session, bot, i18n, settings, chat_session.id, user, message)

    # Commands go on to their own handlers (/start, /menu, /sos are handled even earlier).
    @router.message(InOpenChat(), ~F.text.startswith("/"))
    async def relay(
        message: Message,
        bot: Bot,
        session: AsyncSession,
        user: User,
        chat_session: ChatSession,
        i18n: I18n,
        safety_signal: Signal | None = None,
    ) -> None:
        await _relay(message, bot, session, user, chat_session, i18n, safety_signal)

    @router.callback_query(cb.Chat.filter(F.action.in_({"enter", "end"})))
    async def enter_or_end(
        query: CallbackQuery,
        callback_data: cb.Chat,
        callback_answer: CallbackAnswer,
        bot: Bot,
        session: AsyncSession,
        user: User,
        i18n: I18n,
        settings: Settings,
    ) -> None:
        chat = await repo.get_session(session, callback_data.id)
        if chat is None or user.id not in (chat.teacher_id, chat.psychologist_id) or chat.status != "open":
            callback_answer.text = _("chat-not-open")
            await show(query, _("chat-not-open"), with_nav(KeyboardBuilder()))
            return
        if callback_data.action == "end":
            await close_chat(session, bot, i18n, settings, chat.id, user, query)
            return
        teacher = await session.get(User, chat.teacher_id)
        name = await psychologist_name(session, chat)
        text = opened_text(chat, user, teacher, settings, name) + "\n\n" + _("chat-inside")
        await show(query, text, chat_keyboard(chat.id, enter=False))

    @router.callback_query(cb.Chat.filter(F.action == "rate"))
    async def rate(query: CallbackQuery, callback_data: cb.Chat, session: AsyncSession, user: User) -> None:
        await repo.rate(session, callback_data.id, user.id, 1 if callback_data.value == "1" else 0)
        await show(query, _("chat-thanks"), with_nav(KeyboardBuilder()))

    return router


def create_outside_router() -> Router:
    """Near the end of the line: a stray message from someone whose chat has not opened yet or has
    just ended gets told so, instead of the generic "I did not understand"."""
    router = Router(name="chat-outside")

    @router.message(~F.text.startswith("/"), NearChat())
    async def outside(message: Message, chat_session: ChatSession, settings: Settings) -> None:
        chat = chat_session
        if chat.status == "planned":
            text = _("chat-not-yet").format(time=local_time(chat.starts_at, settings))
        else:
            text = _("chat-already-ended")
        await message.answer(text, reply_markup=with_nav(KeyboardBuilder()))

    return router


# --- "delete my data" ------------------------------------------------------------------------------------------


async def _erase(session: AsyncSession, user: User) -> list[Callable[[Bot], Any]]:
    others = await repo.erase_user(session, user)
    i18n = I18n.get_current(no_error=True)

    def tell(person: User) -> Callable[[Bot], Any]:
        async def notify(bot: Bot) -> None:
            if i18n is not None:
                await send_to(bot, i18n, person, lambda: (_("chat-other-left"), with_nav(KeyboardBuilder())))

        return notify

    return [tell(person) for person in others]


if _erase not in users.ERASERS:
    users.ERASERS.append(_erase)
