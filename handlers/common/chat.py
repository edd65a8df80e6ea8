"""Anonymous live chat between a teacher and a psychologist, inside the bot.

While a chat session is open, whatever either side sends reaches the other as a copy made by
the bot (copyMessage, protected from forwarding): no "forwarded from", no name, no username,
no profile. The bot stores nothing of it, but the copies stay in both Telegram chats until each
side deletes them there (the teacher is told so); the sender's message gets a 👌 reaction once delivered.
A session opens at its start time and closes at its end plus a grace period (bot/workers/chat_clock.py), or
earlier when either side ends it; the teacher of a chat grown out of a question is then asked whether it
helped (a booked one is rated with stars, as every booking, by bot/workers/booking_reminders.py). Opening the menu or
a command takes a side out of the chat (ChatPresence): nothing they type is relayed until they
press "Back to the chat", and the menu and any message typed there say so.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from aiogram import BaseMiddleware, Bot, F, Router
from aiogram.enums import ContentType
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.filters import Command, Filter, StateFilter
from aiogram.types import CallbackQuery, Message, ReactionTypeEmoji, TelegramObject
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services.accounts import record_blocked
from bot.services.safety import Kind, Signal
from bot.telegram import callbacks as cb
from bot.telegram.keyboards import KeyboardBuilder, with_nav
from bot.telegram.ui import show
from bot.views.chat import (
    back_to_chat,
    chat_keyboard,
    close_chat,
    local_time,
    opened_text,
    psychologist_name,
    send_to,
)
from storage.models import ChatSession, User
from storage.models.base import utcnow
from storage.repo import chat as repo

# Contact cards and locations would reveal a phone number or a place: never relayed.
NOT_RELAYED = {ContentType.CONTACT, ContentType.LOCATION, ContentType.VENUE}
DELIVERED = ReactionTypeEmoji(emoji="👌")
# A message sent this close to a planned chat, or after one ended, is explained rather than ignored.
NEARBY = timedelta(hours=2)


class InOpenChat(Filter):
    """Matches messages from a participant of an open chat and hands the handler `chat_session`;
    `away`: only while they are in the chat (False), only while they are in the menu (True), either (None)."""

    def __init__(self, away: bool | None = False) -> None:
        self.away = away

    async def __call__(
        self, message: Message, session: AsyncSession, user: User | None = None
    ) -> bool | dict[str, Any]:
        if user is None or not user.consented:
            return False
        chat = await repo.active_for(session, user.id)
        if chat is None or (self.away is not None and chat.away(user.id) != self.away):
            return False
        return {"chat_session": chat}


def leaves_chat(event: Message | CallbackQuery) -> bool:
    """A command (but /end) or a main-menu press: the user turned from the chat to the bot."""
    if isinstance(event, Message):
        text = event.text or ""
        return text.startswith("/") and not text.startswith("/end")
    return (event.data or "").startswith(cb.Menu.__prefix__ + ":")


class ChatPresence(BaseMiddleware):
    """Registered on messages and presses (bot/app.py): a participant of an open chat who opens the
    menu or sends a command is out of the chat until they press "Back to the chat"; their next
    messages are not relayed (a question about the menu must not reach the psychologist). The
    main menu then says so, with the way back (`left_chat`), and so does any message typed there."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user: User | None = data.get("user")
        if isinstance(event, Message | CallbackQuery) and user is not None and leaves_chat(event):
            chat = await repo.active_for(data["session"], user.id)
            if chat is not None:  # every main menu opened meanwhile says so, not only the first
                if not chat.away(user.id):
                    await repo.set_away(data["session"], chat, user.id, True)
                data["left_chat"] = chat
        return await handler(event, data)


async def not_sent(message: Message, chat_session: ChatSession) -> None:
    """Typed while in the menu: kept from the other side, and the way back."""
    await message.answer(_("sess-chat-not-sent"), reply_markup=back_to_chat(chat_session.id).as_markup())


class NearChat(Filter):
    """A chat of this user that opens soon or ended a moment ago."""

    async def __call__(
        self, message: Message, session: AsyncSession, user: User | None = None
    ) -> bool | dict[str, Any]:
        if user is None or not user.consented:
            return False
        chat = await repo.next_or_recent_for(session, user.id, utcnow(), NEARBY)
        return {"chat_session": chat} if chat is not None else False


async def _deliver(
    message: Message, bot: Bot, session: AsyncSession, user: User, chat: ChatSession
) -> User | str:
    """The other side, reached by the bot's copy of the message; otherwise what went wrong (a locale key)."""
    if message.content_type in NOT_RELAYED:
        return "chat-not-relayed-private"
    other = await session.get(User, chat.psychologist_id if user.id == chat.teacher_id else chat.teacher_id)
    if other is None or not other.active:
        return "chat-other-gone"
    try:
        await bot.copy_message(
            other.telegram_chat_id, message.chat.id, message.message_id, protect_content=True
        )
    except TelegramForbiddenError:  # the other side blocked the bot
        await record_blocked(session, other.id)
        return "chat-other-gone"
    except TelegramBadRequest:
        return "chat-not-relayed"
    return other


def crisis_alert(teacher: User) -> tuple[str, None]:
    return _("chat-crisis-alert").format(code=teacher.pseudonym) + "\n\n" + _("crisis-protocol"), None


async def relay(
    message: Message,
    bot: Bot,
    session: AsyncSession,
    user: User,
    chat_session: ChatSession,
    i18n: I18n,
    safety_signal: Signal | None = None,
) -> None:
    other = await _deliver(message, bot, session, user, chat_session)
    if isinstance(other, str):
        await message.answer(_(other), reply_markup=chat_keyboard(chat_session.id, enter=False))
        return
    await message.react([DELIVERED])
    crisis = safety_signal is not None and safety_signal.kind is Kind.CRISIS
    if user.id == chat_session.teacher_id and crisis:
        # The teacher saw the safety screen first (HelpFirstMiddleware); the psychologist gets the protocol.
        await send_to(bot, i18n, other, lambda: crisis_alert(user))


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


async def own_open_chat(
    query: CallbackQuery,
    callback_data: cb.Chat,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    user: User,
) -> ChatSession | None:
    """The chat pressed on, if it is open and this user's; otherwise they are told it is not open."""
    chat = await repo.get_session(session, callback_data.id)
    if chat is not None and user.id in (chat.teacher_id, chat.psychologist_id) and chat.status == "open":
        return chat
    callback_answer.text = _("chat-not-open")
    await show(query, _("chat-not-open"), with_nav(KeyboardBuilder()))
    return None


async def enter(
    query: CallbackQuery,
    callback_data: cb.Chat,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    user: User,
    settings: Settings,
) -> None:
    chat = await own_open_chat(query, callback_data, callback_answer, session, user)
    teacher = await session.get(User, chat.teacher_id) if chat is not None else None
    if chat is None or teacher is None:
        return
    await repo.set_away(session, chat, user.id, False)
    name = await psychologist_name(session, chat)
    text = opened_text(chat, user, teacher, settings, name) + "\n\n" + _("chat-inside")
    await show(query, text, chat_keyboard(chat.id, enter=False))


async def end(
    query: CallbackQuery,
    callback_data: cb.Chat,
    callback_answer: CallbackAnswer,
    bot: Bot,
    session: AsyncSession,
    user: User,
    i18n: I18n,
    settings: Settings,
) -> None:
    chat = await own_open_chat(query, callback_data, callback_answer, session, user)
    if chat is not None:
        await close_chat(session, bot, i18n, settings, chat.id, user, query)


async def rate(query: CallbackQuery, callback_data: cb.Chat, session: AsyncSession, user: User) -> None:
    await repo.rate(session, callback_data.id, user.id, 1 if callback_data.value == "1" else 0)
    await show(query, _("chat-thanks"), with_nav(KeyboardBuilder()))


def create_router() -> Router:
    """Registered BEFORE the other feature routers (see handlers/__init__.py): while a chat is open,
    a participant's messages belong to the conversation, whatever screen or state they left."""
    router = Router(name="chat")
    router.message.register(end_command, Command("end"), InOpenChat(away=None))
    # Commands go on to their own handlers (/start, /menu, /sos are handled even earlier); they
    # take the user out of the chat (ChatPresence).
    router.message.register(relay, InOpenChat(), ~F.text.startswith("/"))
    # In the menu, outside a form: not relayed, and said so (a form's own text goes to the form).
    router.message.register(not_sent, InOpenChat(away=True), StateFilter(None), ~F.text.startswith("/"))
    router.callback_query.register(enter, cb.Chat.filter(F.action == cb.ChatAction.ENTER))
    router.callback_query.register(end, cb.Chat.filter(F.action == cb.ChatAction.END))
    router.callback_query.register(rate, cb.Chat.filter(F.action == cb.ChatAction.RATE))
    return router


async def outside(message: Message, chat_session: ChatSession, settings: Settings) -> None:
    chat = chat_session
    if chat.status == "planned":
        text = _("chat-not-yet").format(time=local_time(chat.starts_at, settings))
    else:
        text = _("chat-already-ended")
    await message.answer(text, reply_markup=with_nav(KeyboardBuilder()))


def create_outside_router() -> Router:
    """Near the end of the line: a stray message from someone whose chat has not opened yet or has
    just ended gets told so, instead of the generic "I did not understand"."""
    router = Router(name="chat-outside")
    router.message.register(outside, ~F.text.startswith("/"), NearChat())
    return router
