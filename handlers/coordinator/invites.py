"""Admin tools inside the bot: one-time invite links for psychologists and coordinators."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.types import CallbackQuery
from aiogram.utils.deep_linking import create_start_link
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.content.regions import regions
from bot.telegram import callbacks as cb
from bot.telegram.filters import staff_only
from bot.telegram.keyboards import KeyboardBuilder, with_nav
from bot.telegram.ui import show
from storage.models import User
from storage.repo import invites, users

STAFF_ROLES = ("psychologist", "coordinator")
Action = cb.AdminAction
HOME = cb.Admin(action=Action.HOME)


async def admin_menu(query: CallbackQuery) -> None:
    builder = KeyboardBuilder()
    for role in STAFF_ROLES:
        builder.button(
            text=_("admin-invite-" + role), callback_data=cb.Admin(action=Action.REGION, role=role)
        )
    builder.adjust(1)
    await show(query, _("admin-title"), with_nav(builder))


async def invite_region(query: CallbackQuery, callback_data: cb.Admin, user: User) -> None:
    builder = KeyboardBuilder()
    builder.button(
        text=_("admin-region-any"), callback_data=cb.Admin(action=Action.MAKE, role=callback_data.role)
    )
    for region in regions().values():
        builder.button(
            text=region.name(user.language),
            callback_data=cb.Admin(action=Action.MAKE, role=callback_data.role, region=region.code),
        )
    builder.adjust(1, 2)
    await show(query, _("admin-choose-region"), with_nav(builder, HOME))


async def make_invite(
    query: CallbackQuery,
    callback_data: cb.Admin,
    session: AsyncSession,
    user: User,
    settings: Settings,
    bot: Bot,
) -> None:
    role, region = callback_data.role, callback_data.region
    if role not in STAFF_ROLES or (region and region not in regions()):
        return await admin_menu(query)
    payload = await invites.create(session, role, region or None, settings.invites.validity)
    await users.audit(session, user.pseudonym, "invite_created:" + role, "invite")
    link = await create_start_link(bot, payload)
    text = _("admin-invite-ready").format(link=link, hours=settings.invites.valid_hours)
    # Not protected: the link is there to be copied or forwarded to the colleague invited.
    await show(query, text, with_nav(KeyboardBuilder(), HOME), protect=False)


def create_router() -> Router:
    router = staff_only(Router(name="staff"))
    press = router.callback_query.register
    press(admin_menu, cb.Menu.filter(F.item == cb.Section.ADMIN))
    press(admin_menu, cb.Admin.filter(F.action == Action.HOME))
    press(invite_region, cb.Admin.filter(F.action == Action.REGION))
    press(make_invite, cb.Admin.filter(F.action == Action.MAKE))
    return router
