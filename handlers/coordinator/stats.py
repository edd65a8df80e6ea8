"""Anonymous statistics for coordinators: one report of a closed period, as a message, a chart
or a CSV file (bot/services/statistics.py counts, bot/views/statistics.py words)."""

from __future__ import annotations

import asyncio
from datetime import datetime

from aiogram import Bot, F, Router
from aiogram.types import BufferedInputFile, CallbackQuery
from aiogram.utils.chat_action import ChatActionSender
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services import periods, statistics
from bot.services.statistics import Report
from bot.telegram import callbacks as cb
from bot.telegram.ui import show
from bot.views import statistics as view
from bot.views.stats_chart import render_stats_chart
from handlers.coordinator.home import HOME, pressed_on, region_limit
from storage.models import User
from storage.models.base import utcnow

Action = cb.StatAction


async def report_for(
    callback_data: cb.Stat, session: AsyncSession, user: User, role: str, settings: Settings, now: datetime
) -> Report:
    """The report the button asks for, as far as this coordinator may see it."""
    limit = region_limit(user, role)
    period, region = statistics.permitted(callback_data.p, callback_data.r, limit, now, settings.tz)
    return await statistics.build(session, period, region, settings.broadcast.min_cell, settings.tz, now)


async def show_report(
    query: CallbackQuery,
    callback_data: cb.Stat,
    session: AsyncSession,
    user: User,
    role: str,
    settings: Settings,
) -> None:
    now = utcnow()
    report = await report_for(callback_data, session, user, role, settings, now)
    offered = periods.offered(now, settings.tz)
    pick_region = region_limit(user, role) is None
    text = view.report_text(report, user.language, settings.broadcast.min_cell)
    await show(query, text, view.report_keyboard(report, offered, user.language, pick_region, HOME))


async def show_details(
    query: CallbackQuery,
    callback_data: cb.Stat,
    session: AsyncSession,
    user: User,
    role: str,
    settings: Settings,
) -> None:
    report = await report_for(callback_data, session, user, role, settings, utcnow())
    section = callback_data.s if callback_data.s in view.SECTIONS else view.SECTIONS[0]
    text = view.report_text(report, user.language, settings.broadcast.min_cell, section)
    await show(query, text, view.details_keyboard(report))


async def choose_region(
    query: CallbackQuery, callback_data: cb.Stat, user: User, role: str, settings: Settings
) -> None:
    limit = region_limit(user, role)
    period, _region = statistics.permitted(callback_data.p, callback_data.r, limit, utcnow(), settings.tz)
    await show(query, _("co-stats-region"), view.region_keyboard(period, user.language))


async def send_chart(
    query: CallbackQuery,
    callback_data: cb.Stat,
    session: AsyncSession,
    user: User,
    role: str,
    settings: Settings,
    bot: Bot,
) -> None:
    report = await report_for(callback_data, session, user, role, settings, utcnow())
    # Drawing takes a noticeable fraction of a second: off the event loop, "sending a photo" shown.
    async with ChatActionSender.upload_photo(chat_id=query.from_user.id, bot=bot):
        png = await asyncio.to_thread(render_stats_chart, *view.chart_input(report, user.language))
    await pressed_on(query).answer_photo(
        BufferedInputFile(png, filename=f"demeu-stats-{report.period.code}.png"),
        caption=view.chart_caption(report, user.language, settings.broadcast.min_cell),
        reply_markup=view.back_to_report(report),
        protect_content=False,  # aggregates with small cells hidden, made for reports
    )


async def send_csv(
    query: CallbackQuery,
    callback_data: cb.Stat,
    session: AsyncSession,
    user: User,
    role: str,
    settings: Settings,
    bot: Bot,
) -> None:
    async with ChatActionSender.upload_document(chat_id=query.from_user.id, bot=bot):
        report = await report_for(callback_data, session, user, role, settings, utcnow())
    document = BufferedInputFile(
        view.report_csv(report, user.language), filename=f"demeu-stats-{report.period.code}.csv"
    )
    await pressed_on(query).answer_document(
        document, caption=view.csv_caption(report, user.language), protect_content=False
    )  # to be saved and used in reports
    await pressed_on(query).answer(_("co-stats-csv-sent"), reply_markup=view.back_to_report(report))


def register(router: Router) -> None:
    press = router.callback_query.register
    press(show_report, cb.Stat.filter(F.a == Action.SHOW))
    press(show_details, cb.Stat.filter(F.a == Action.DETAILS))
    press(choose_region, cb.Stat.filter(F.a == Action.REGION))
    press(send_chart, cb.Stat.filter(F.a == Action.CHART))
    press(send_csv, cb.Stat.filter(F.a == Action.CSV))
