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


def create_router() -> Router:
    router = staff_only(Router(name="staff"))

    @router.callback_query(cb.Menu.filter(F.item == "admin"))
    @router.callback_query(cb.Admin.filter(F.action == "home"))
    async def admin_menu(query: CallbackQuery) -> None:
        builder = KeyboardBuilder()
        for role in STAFF_ROLES:
            builder.button(text=_("admin-invite-" + role), callback_data=cb.Admin(action="region", role=role))
        builder.adjust(1)
        await show(query, _("admin-title"), with_nav(builder))

    @router.callback_query(cb.Admin.filter(F.action == "region"))
    async def invite_region(query: CallbackQuery, callback_data: cb.Admin, user: User) -> None:
        builder = KeyboardBuilder()
        builder.button(
            text=_("admin-region-any"), callback_data=cb.Admin(action="make", role=callback_data.role)
        )
        for region in regions().values():
            builder.button(
                text=region.name(user.language),
                callback_data=cb.Admin(action="make", role=callback_data.role, region=region.code),
            )
        builder.adjust(1, 2)
        await show(query, _("admin-choose-region"), with_nav(builder, cb.Admin(action="home")))

    @router.callback_query(cb.Admin.filter(F.action == "make"))
    async def make_invite(
        query: CallbackQuery,
        callback_data: cb.Admin,
        session: AsyncSession,
        user: User,
        settings: Settings,
        bot: Bot,
    ) -> None:
        if callback_data.role not in STAFF_ROLES or (
            callback_data.region and callback_data.region not in regions()
        ):
            return await admin_menu(query)
        payload = await invites.create(
            session, callback_data.role, callback_data.region or None, settings.invites.validity
        )
        await users.audit(session, user.pseudonym, "invite_created:" + callback_data.role, "invite")
        link = await create_start_link(bot, payload)
        text = _("admin-invite-ready").format(link=link, hours=settings.invites.valid_hours)
        # Not protected: the link is there to be copied or forwarded to the colleague invited.
        await show(query, text, with_nav(KeyboardBuilder(), cb.Admin(action="home")), protect=False)

    return router
