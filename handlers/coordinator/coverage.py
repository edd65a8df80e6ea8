"""A coordinator's duty coverage (Coordinator → Duty coverage): the hours of the week in which no
psychologist of their region is on duty. When, never who or what happened on duty."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import CallbackQuery
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.content.regions import region_name
from bot.services import practice
from bot.telegram.callbacks import Coverage
from bot.telegram.keyboards import KeyboardBuilder, with_nav
from bot.telegram.ui import show
from handlers.coordinator.home import HOME, region_limit
from handlers.psychologist.duty import weekday
from storage.models import User


def coverage_text(gaps: dict[int, list[tuple[int, int]]], region: str, language: str) -> str:
    first, last = practice.DUTY_DAY
    lines = [
        _("practice-coverage-day").format(
            day=weekday(day), hours=", ".join(f"{start:02d}–{end:02d}" for start, end in ranges)
        )
        for day, ranges in sorted(gaps.items())
    ]
    hours = sum(end - start for ranges in gaps.values() for start, end in ranges)
    return _("practice-coverage").format(
        region=region,
        first=f"{first:02d}",
        last=f"{last:02d}",
        gaps="\n".join(lines) or _("practice-coverage-full"),
        hours=hours,
        total=7 * (last - first),
    )


async def coverage(query: CallbackQuery, session: AsyncSession, user: User, role: str) -> None:
    region = region_limit(user, role)
    gaps = await practice.coverage(session, region)
    name = region_name(region, user.language) or _("practice-coverage-all-regions")
    await show(query, coverage_text(gaps, name, user.language), with_nav(KeyboardBuilder(), HOME))


def register(router: Router) -> None:
    router.callback_query.register(coverage, Coverage.filter())
