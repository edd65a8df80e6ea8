"""Reports for the ministry, made in the background: the coordinator's press is answered at once
with a progress message; the report is built from the published statistics, laid out off the event
loop (bot/views/reports.py) and sent as a document, then the progress message says it is done.

A report holds aggregates only, with the statistics screen's small cells hidden: it is sent
unprotected (made to be saved and passed on), like the statistics chart and CSV.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import BufferedInputFile, InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.services import statistics
from bot.services.periods import Period
from bot.telegram import followups
from bot.views import reports as view
from storage.models.base import utcnow

log = logging.getLogger("demeu.reports")


@dataclass(frozen=True)
class Order:
    """One report asked for: where to send it and where the progress is shown."""

    chat_id: int
    progress_message_id: int
    language: str
    period: Period
    region: str | None
    kind: str  # xlsx | pdf
    done_markup: InlineKeyboardMarkup


class ReportMaker:
    def __init__(
        self, bot: Bot, sessions: async_sessionmaker[AsyncSession], i18n: I18n, settings: Settings
    ) -> None:
        self.bot, self.sessions, self.i18n, self.settings = bot, sessions, i18n, settings
        self._running: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Nothing to resume: an order lives as long as the process (the coordinator asks again)."""

    async def stop(self) -> None:
        for task in list(self._running):
            task.cancel()
        for task in list(self._running):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def order(self, order: Order) -> None:
        task = asyncio.create_task(self._make(order), name="report")
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        followups.add(task)  # the coordinator sees it as the answer to the press

    async def _make(self, order: Order) -> None:
        try:
            content, filename, caption, done = await self._document(order)
            await self.bot.send_document(
                order.chat_id,
                BufferedInputFile(content, filename=filename),
                caption=caption,
                protect_content=False,  # aggregates with small cells hidden, made for the ministry
            )
        except Exception:  # the edge of a background task: the coordinator is told, the next try may work
            log.exception("a report could not be made")
            with self.i18n.context(), self.i18n.use_locale(order.language):
                done = _("rep-failed")
        with contextlib.suppress(TelegramAPIError):
            await self.bot.edit_message_text(
                done,
                chat_id=order.chat_id,
                message_id=order.progress_message_id,
                reply_markup=order.done_markup,
            )

    async def _document(self, order: Order) -> tuple[bytes, str, str, str]:
        settings, now = self.settings, utcnow()
        async with self.sessions() as session:
            report = await statistics.build(
                session, order.period, order.region, settings.broadcast.min_cell, settings.tz, now
            )
            await session.commit()  # what was published on the way stays published
        with self.i18n.context(), self.i18n.use_locale(order.language):
            document = view.sections(
                report, order.language, settings.broadcast.min_cell, now.astimezone(settings.tz).date()
            )
            caption = _("rep-caption").format(title=document.title)
            done = _("rep-done")
        content = await asyncio.to_thread(view.render, document, order.kind)
        return content, f"{document.filename}.{order.kind}", caption, done
