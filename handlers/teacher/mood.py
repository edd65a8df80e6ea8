"""Mood check-in: one tap on a 1-5 scale with words, an optional encrypted note, a 30-day
chart, and a gentle offer of a consultation and Urgent help after three hard days."""

from __future__ import annotations

import asyncio

from aiogram import Bot, F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.chat_action import ChatActionSender
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.telegram import callbacks as cb
from bot.telegram.keyboards import KeyboardBuilder, button, urgent_row, with_nav
from bot.telegram.ui import show, too_long
from bot.views.charts import render_history_chart
from bot.views.mood import SCORES, score_buttons
from storage.models import User
from storage.models.relax import MOOD_NOTE_LIMIT
from storage.repo import relax as repo

HISTORY_DAYS = 30
BACK = cb.Menu(item=cb.Section.RELAX)
Action = cb.MoodAction


class MoodStates(StatesGroup):
    note = State()  # a check-in was saved; a typed message becomes its note


def ask_screen() -> tuple[str, InlineKeyboardMarkup]:
    builder = KeyboardBuilder()
    score_buttons(builder)
    builder.button(text=_("mood-chart"), callback_data=cb.Mood(action=Action.CHART))
    builder.adjust(1)
    return _("mood-ask"), with_nav(builder, BACK)


def after_keyboard(*, skip: bool = False, low: bool = False) -> InlineKeyboardMarkup:
    builder = KeyboardBuilder()
    if skip:
        builder.button(text=_("mood-skip-note"), callback_data=cb.Mood(action=Action.SKIP))
    builder.button(text=_("mood-chart"), callback_data=cb.Mood(action=Action.CHART))
    builder.adjust(1)
    if low:
        builder.row(button(_("menu-book"), cb.Menu(item=cb.Section.BOOK)))
        builder.row(*urgent_row())
    return with_nav(builder, BACK)


async def ask(query: CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    await show(query, *ask_screen())


async def score(
    query: CallbackQuery,
    callback_data: cb.Mood,
    session: AsyncSession,
    user: User,
    state: FSMContext,
    settings: Settings,
) -> None:
    value = callback_data.value
    if value is None or value not in SCORES:
        await show(query, *ask_screen())
        return
    entry = await repo.add_mood(session, user.id, value)
    await state.set_state(MoodStates.note)
    await state.update_data(entry=entry.id)
    text = _("mood-saved").format(word=_(f"mood-score-{value}")) + "\n\n" + _("mood-note-ask")
    low = await repo.low_streak(session, user.id, settings.tz)
    if low:
        text += "\n\n" + _("mood-low-streak")
    await show(query, text, after_keyboard(skip=True, low=low))


async def note(message: Message, session: AsyncSession, user: User, state: FSMContext) -> None:
    if await too_long(message, message.text or "", MOOD_NOTE_LIMIT, after_keyboard(skip=True)):
        return
    entry_id = (await state.get_data()).get("entry")
    await state.clear()
    saved = isinstance(entry_id, int) and await repo.set_mood_note(
        session, user.id, entry_id, message.text or ""
    )
    await message.answer(_("mood-note-saved" if saved else "mood-note-lost"), reply_markup=after_keyboard())


async def not_a_note(message: Message) -> None:
    await message.answer(_("mood-note-text-only"), reply_markup=after_keyboard(skip=True))


async def skip(query: CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    await show(query, _("mood-thanks"), after_keyboard())


async def chart(
    query: CallbackQuery,
    session: AsyncSession,
    user: User,
    bot: Bot,
    state: FSMContext,
    settings: Settings,
) -> None:
    await state.clear()
    history = await repo.mood_history(session, user.id, HISTORY_DAYS)
    builder = KeyboardBuilder()
    builder.button(text=_("mood-open"), callback_data=cb.Mood(action=Action.ASK))
    markup = with_nav(builder, BACK)
    if not history:
        await show(query, _("mood-chart-empty"), markup)
        return
    points = [(created.astimezone(settings.tz), float(value)) for created, value in history]
    # Drawing takes tens of milliseconds: a worker thread keeps other users' taps quick.
    async with ChatActionSender.upload_photo(chat_id=query.from_user.id, bot=bot):
        png = await asyncio.to_thread(
            render_history_chart,
            title=_("mood-chart-title"),
            points=points,
            y_range=(1, 5),
            thresholds=[],
            y_label=_("mood-chart-axis"),
        )
    await bot.send_photo(
        query.from_user.id,
        BufferedInputFile(png, "mood.png"),
        caption=_("mood-chart-caption").format(count=len(points)),
        reply_markup=markup,
    )


def create_router() -> Router:
    router = Router(name="mood")
    press = router.callback_query.register
    press(ask, cb.Mood.filter(F.action == Action.ASK))
    press(ask, cb.Menu.filter(F.item == cb.Section.MOOD))
    press(score, cb.Mood.filter(F.action == Action.SCORE))
    press(skip, cb.Mood.filter(F.action == Action.SKIP))
    press(chart, cb.Mood.filter(F.action == Action.CHART))
    router.message.register(note, StateFilter(MoodStates.note), F.text)
    router.message.register(not_a_note, StateFilter(MoodStates.note))
    return router
