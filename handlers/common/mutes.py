"""Muting a pseudonym's questions: a psychologist, on a question's notice, mutes the teacher for
one of [limits] mute_hours (their new questions wait in the queue without a notice; a question with
a crisis phrase is still announced); a coordinator lists the region's mutes in force (/mutes, or
the button on the coordinator's home) and lifts them."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services import limits
from bot.telegram import callbacks as cb
from bot.telegram.filters import staff_only
from bot.telegram.keyboards import KeyboardBuilder, with_nav
from bot.telegram.ui import show
from bot.views import dates
from handlers.coordinator.home import HOME, region_limit
from storage.models import User
from storage.models.base import utcnow
from storage.repo import limits as repo

A = cb.MuteAction


def period(hours: int) -> str:
    """A mute's length as people say it: whole days in days."""
    if hours % 24 == 0:
        return _("mute-days").format(days=hours // 24)
    return _("mute-hours").format(hours=hours)


async def mute(
    query: CallbackQuery,
    callback_data: cb.Mute,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    user: User,
    settings: Settings,
) -> None:
    done = await limits.mute(session, callback_data.id, user, callback_data.hours, settings.limits, utcnow())
    text = _("mute-done").format(period=period(callback_data.hours)) if done else _("ask-not-available")
    callback_answer.text, callback_answer.show_alert = text, True


async def mutes(
    event: Message | CallbackQuery, session: AsyncSession, user: User, role: str, settings: Settings
) -> None:
    found = await repo.active_mutes(session, region_limit(user, role), utcnow())
    builder = KeyboardBuilder()
    for row, teacher in found:
        until = dates.moment(row.until, settings.tz)
        label = _("mute-lift").format(code=teacher.pseudonym, until=until)
        builder.button(text=label, callback_data=cb.Mute(a=A.LIFT, id=row.id))
    builder.adjust(1)
    await show(event, _("mutes-title") if found else _("mutes-none"), with_nav(builder, HOME))


async def lift(
    query: CallbackQuery,
    callback_data: cb.Mute,
    session: AsyncSession,
    user: User,
    role: str,
    settings: Settings,
) -> None:
    await repo.lift(session, callback_data.id, region_limit(user, role))
    await mutes(query, session, user, role, settings)


def create_router() -> Router:
    router = Router(name="mutes")
    psychologists = staff_only(Router(name="mutes-psychologist"), "psychologist")
    psychologists.callback_query.register(mute, cb.Mute.filter(F.a == A.SET))
    coordinators = staff_only(Router(name="mutes-coordinator"), "coordinator")
    coordinators.message.register(mutes, Command("mutes"))
    coordinators.callback_query.register(mutes, cb.Mute.filter(F.a == A.LIST))
    coordinators.callback_query.register(lift, cb.Mute.filter(F.a == A.LIFT))
    router.include_routers(psychologists, coordinators)
    return router
