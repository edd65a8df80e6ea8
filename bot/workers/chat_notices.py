"""Chats ended by a psychologist's deactivation: both sides of an open chat are told as when any
chat ends, the teacher of one still to open that it will not (the psychologist hears of the
deactivation itself); chats ended by "delete my data": the other side is told they left. Notices (bot/workers/notices.py): rows written in the deactivation's
transaction, rendered when sent in each person's language; params name the chat only."""

from __future__ import annotations

import uuid
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.events import UserErased
from bot.telegram.keyboards import KeyboardBuilder, with_nav
from bot.views.chat import ended_screen
from bot.workers.notices import PREFIX, notice
from bot.workers.reminders import Rendered, Renderer
from storage.models import ChatSession, Reminder, User
from storage.repo import chat as repo
from storage.repo import reminders


async def ended(session: AsyncSession, chats: list[tuple[ChatSession, str]]) -> None:
    """`chats` as storage.repo.chat.end_all_of returns them: each with the state it was in."""
    planned: list[reminders.Planned] = []
    for chat, was in chats:
        params = {"chat": chat.id}
        if was == "open":
            for person in (chat.teacher_id, chat.psychologist_id):
                planned.append(notice("chat-ended", f"{chat.id}:{person}", person, params))
        else:
            planned.append(notice("chat-off", chat.id, chat.teacher_id, params))
    await reminders.schedule_all(session, planned)


async def erase_user(event: UserErased) -> None:
    """Subscribed to UserErased: their chats go; the other side of each open one is told by a notice
    of the deletion's transaction, keyed by a random token (nothing in it links to who left)."""
    others = await repo.erase_user(event.session, event.user)
    planned = [notice("chat-left", uuid.uuid4().hex, person.id, {}) for person in others]
    await reminders.schedule_all(event.session, planned)


async def _chat(session: AsyncSession, reminder: Reminder) -> tuple[ChatSession, User] | None:
    chat = await repo.get_session(session, reminder.params["chat"])
    teacher = await session.get(User, chat.teacher_id) if chat is not None else None
    return (chat, teacher) if chat is not None and teacher is not None else None


async def render_ended(
    session: AsyncSession, reminder: Reminder, user: User, tz: ZoneInfo
) -> Rendered | None:
    found = await _chat(session, reminder)
    if found is None:  # erased meanwhile
        return None
    chat, teacher = found
    return Rendered(*ended_screen(chat, user, teacher))


async def render_called_off(
    session: AsyncSession, reminder: Reminder, user: User, tz: ZoneInfo
) -> Rendered | None:
    found = await _chat(session, reminder)
    if found is None:
        return None
    time = found[0].starts_at.astimezone(tz).strftime("%H:%M")
    return Rendered(_("chat-called-off").format(time=time), with_nav(KeyboardBuilder()))


async def render_left(session: AsyncSession, reminder: Reminder, user: User, tz: ZoneInfo) -> Rendered:
    return Rendered(_("chat-other-left"), with_nav(KeyboardBuilder()))


RENDERERS: dict[str, Renderer] = {
    PREFIX + "chat-left": render_left,
    PREFIX + "chat-ended": render_ended,
    PREFIX + "chat-off": render_called_off,
}
