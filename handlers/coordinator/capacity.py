"""The capacity view (Coordinator → Capacity): per format, this month's searches that found no
free time and how soon the others found one, who waits to be told of a time, and the hours
published and booked in the next 14 days (bot/services/capacity.py); a regional coordinator sees
their region only."""

from __future__ import annotations

import html

from aiogram import Router
from aiogram.types import CallbackQuery
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services import capacity
from bot.services.anonymity import HIDDEN
from bot.telegram.callbacks import Capacity
from bot.telegram.keyboards import KeyboardBuilder, with_nav
from bot.telegram.ui import show
from bot.views.statistics import area_name, fit, local_number, wait_text
from handlers.coordinator.home import HOME, region_limit
from storage.models import User
from storage.models.base import utcnow


def capacity_text(view: capacity.Capacity, language: str, minimum: int) -> str:
    blocks = [_("co-cap-title").format(region=html.escape(area_name(view.region, language)))]
    for row in view.formats:
        blocks.append(
            _("co-cap-format").format(
                format=_("bk-format-" + row.format),
                searches=row.searches,
                none=row.none,
                median=wait_text(row.median),
                waiting=row.waiting,
                published=local_number(row.published, language),
                booked=local_number(row.booked, language),
                share=row.booked_share,
                days=capacity.AHEAD.days,
            )
        )
    blocks.append(_("co-cap-groups").format(value=view.group_waitlisted))
    blocks.append(_("co-cap-note").format(mark=HIDDEN, minimum=minimum, days=capacity.AHEAD.days))
    return fit("\n\n".join(blocks))


async def show_capacity(
    query: CallbackQuery, session: AsyncSession, user: User, role: str, settings: Settings
) -> None:
    minimum = settings.broadcast.min_cell
    view = await capacity.view(session, region_limit(user, role), minimum, utcnow(), settings.tz)
    await show(query, capacity_text(view, user.language, minimum), with_nav(KeyboardBuilder(), HOME))


def register(router: Router) -> None:
    router.callback_query.register(show_capacity, Capacity.filter())
