"""What the two sides of a live chat are told, by handlers and by the clock (bot/workers/chat_clock.py):
opening and closing screens, messages to the other side, and the chat's end when a user's data goes.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from aiogram import Bot
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession, async_object_session

from bot.config import Settings
from bot.services.accounts import record_blocked
from bot.telegram import callbacks as cb
from bot.telegram import delivery
from bot.telegram.keyboards import KeyboardBuilder, urgent_row, with_nav
from bot.telegram.ui import show
from bot.views import dates
from bot.views.booking import privacy_text
from storage.models import ChatSession, User
from storage.models.base import utcnow
from storage.repo import booking as booking_repo
from storage.repo import chat as repo

log = logging.getLogger(__name__)

Render = Callable[[], tuple[str, InlineKeyboardMarkup | None]]


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
    transaction that loaded them, committed with the update (record_blocked: no second
    session waiting on this one's locks)."""
    if result.outcome is delivery.Outcome.BLOCKED:
        session = async_object_session(person)
        if session is not None:
            await record_blocked(session, person.id)
    if not result.sent:
        log.warning("could not reach %s: %s", person.pseudonym, result.error or result.outcome)
        return None
    return getattr(result.result, "message_id", result.result)


def local_time(moment: datetime, settings: Settings) -> str:
    return dates.time(moment, settings.tz)


def closes_at(chat: ChatSession, settings: Settings) -> datetime:
    return chat.ends_at + timedelta(minutes=settings.chat.grace_minutes)


# --- screens ---------------------------------------------------------------------------------------------------


def chat_keyboard(chat_id: int, *, enter: bool) -> InlineKeyboardMarkup:
    builder = KeyboardBuilder()
    if enter:
        builder.button(text=_("chat-enter"), callback_data=cb.Chat(action=cb.ChatAction.ENTER, id=chat_id))
    builder.button(text=_("chat-end"), callback_data=cb.Chat(action=cb.ChatAction.END, id=chat_id))
    builder.row(*urgent_row())
    return builder.as_markup()


def back_to_chat(chat_id: int) -> KeyboardBuilder:
    """One tap back into an open chat from the menu (handlers/common/chat.py ChatPresence)."""
    builder = KeyboardBuilder()
    builder.button(text=_("sess-chat-back"), callback_data=cb.Chat(action=cb.ChatAction.ENTER, id=chat_id))
    return builder


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


def _opened_screen(
    chat: ChatSession, me: User, teacher: User, settings: Settings, name: str | None
) -> tuple[str, InlineKeyboardMarkup]:
    return opened_text(chat, me, teacher, settings, name), chat_keyboard(chat.id, enter=True)


def ended_screen(chat: ChatSession, me: User, teacher: User) -> tuple[str, InlineKeyboardMarkup]:
    builder = KeyboardBuilder()
    if me.id != chat.teacher_id:
        return _("chat-ended-psy").format(code=teacher.pseudonym), with_nav(builder)
    if chat.booking_id is not None:
        # One question a session: a booked one is rated with stars once marked attended
        # (bot/workers/booking_reminders.py), the rating statistics count.
        return _("chat-ended-teacher-booked"), with_nav(builder)
    for value in ("1", "0"):
        builder.button(
            text=_("chat-rate-" + value),
            callback_data=cb.Chat(action=cb.ChatAction.RATE, id=chat.id, value=value),
        )
    builder.adjust(2)
    return _("chat-ended-teacher"), with_nav(builder)


# --- opening and closing ---------------------------------------------------------------------------------------


async def _people(session: AsyncSession, chat: ChatSession) -> tuple[User, User]:
    """Both sides: a chat's rows go with either user's ("delete my data" erases them first)."""
    teacher, psychologist = (
        await session.get(User, chat.teacher_id),
        await session.get(User, chat.psychologist_id),
    )
    assert teacher is not None and psychologist is not None, "chats are erased with their users"
    return teacher, psychologist


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
        await send_to(bot, i18n, person, partial(_opened_screen, chat, person, teacher, settings, name))
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
    assert chat is not None, "it was just closed"
    teacher, psychologist = await _people(session, chat)
    await session.commit()
    await _tell_ended(bot, i18n, chat, teacher, psychologist, ender, event)
    log.info("chat %s closed by %s", chat_id, "a participant" if ender else "the clock")
    return True


async def _tell_ended(
    bot: Bot,
    i18n: I18n,
    chat: ChatSession,
    teacher: User,
    psychologist: User,
    ender: User | None = None,
    event: Message | CallbackQuery | None = None,
) -> None:
    for person in (teacher, psychologist):
        if event is not None and ender is not None and person.id == ender.id:
            await show(event, *ended_screen(chat, person, teacher))
        else:
            await send_to(bot, i18n, person, partial(ended_screen, chat, person, teacher))
