"""Reports for the ministry, from the statistics screen: the period and region shown there, as XLSX
or PDF, made in the background (bot/workers/reports.py) behind a progress message."""

from __future__ import annotations

import html

from aiogram import F, Router
from aiogram.types import CallbackQuery
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.services import statistics
from bot.telegram import callbacks as cb
from bot.telegram.keyboards import KeyboardBuilder, with_nav
from bot.telegram.ui import show
from bot.views.reports import FORMATS
from bot.views.statistics import area_name, period_name
from bot.workers.reports import Order, ReportMaker
from handlers.coordinator.home import pressed_on, region_limit
from storage.models import User
from storage.models.base import utcnow

Action = cb.ReportAction


def permitted(callback_data: cb.Report, user: User, role: str, settings: Settings):
    """The period and region asked for, as far as this coordinator may see them (as on the screen)."""
    limit = region_limit(user, role)
    return statistics.permitted(callback_data.p, callback_data.r, limit, utcnow(), settings.tz)


async def open_report(
    query: CallbackQuery, callback_data: cb.Report, user: User, role: str, settings: Settings
) -> None:
    period, region = permitted(callback_data, user, role, settings)
    builder = KeyboardBuilder()
    for kind in FORMATS:
        builder.button(
            text=_("rep-make-" + kind),
            callback_data=cb.Report(a=Action.MAKE, p=period.code, r=region or "", f=kind),
        )
    text = _("rep-screen").format(
        period=period_name(period, user.language), region=html.escape(area_name(region, user.language))
    )
    await show(query, text, with_nav(builder, cb.Stat(a=cb.StatAction.SHOW, p=period.code, r=region or "")))


async def make_report(
    query: CallbackQuery,
    callback_data: cb.Report,
    user: User,
    role: str,
    settings: Settings,
    reports: ReportMaker,
) -> None:
    period, region = permitted(callback_data, user, role, settings)
    kind = callback_data.f if callback_data.f in FORMATS else FORMATS[0]
    progress = await pressed_on(query).answer(_("rep-progress").format(kind=kind.upper()))
    back = with_nav(KeyboardBuilder(), cb.Report(a=Action.OPEN, p=period.code, r=region or ""))
    reports.order(Order(query.from_user.id, progress.message_id, user.language, period, region, kind, back))


def register(router: Router) -> None:
    press = router.callback_query.register
    press(open_report, cb.Report.filter(F.a == Action.OPEN))
    press(make_report, cb.Report.filter(F.a == Action.MAKE))
