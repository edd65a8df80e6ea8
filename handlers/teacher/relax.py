"""Relaxation: exercises by category, a guided mode in one edited message, favourites and
a private journal for the drawing and the evening reflection."""

from __future__ import annotations

import functools
import html

from aiogram import Bot, Dispatcher, F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import ConfigError, Settings
from bot.content.exercises import CATEGORIES, ContentError, Exercise, Frame, catalogue
from bot.services.text import truncate_utf16
from bot.telegram import callbacks as cb
from bot.telegram.keyboards import KeyboardBuilder, urgent_row, with_nav
from bot.telegram.ui import show, too_long
from bot.views import dates
from bot.workers.guided import GuidedSessions, GuidedView, Reason, Screen
from handlers.teacher.guided import setup_guided
from storage.models import User
from storage.models.base import utcnow
from storage.models.relax import JOURNAL_TEXT_LIMIT
from storage.repo import relax as repo

Action = cb.RelaxAction
From = cb.RelaxFrom
MENU = cb.Menu(item=cb.Section.RELAX)
JOURNAL = cb.Relax(action=Action.JOURNAL)
CONTROLS = (Action.PAUSE, Action.RESUME, Action.STOP)
JOURNAL_SHOWN = 10
JOURNAL_TEXT_SHOWN = 300  # UTF-16 code units of each reflection on the journal screen


class RelaxStates(StatesGroup):
    journal = State()  # waiting for a drawing's photo or a few lines


def check_content() -> None:
    """Called at start: a broken catalogue stops the bot before any teacher meets it."""
    try:
        catalogue()
    except ContentError as error:
        raise ConfigError(str(error)) from None


def setup(dispatcher: Dispatcher, settings: Settings) -> GuidedSessions:
    return setup_guided(dispatcher, settings, is_control)


def is_control(query: CallbackQuery) -> bool:
    """Pause, Resume or Stop: the presses that act on a running session."""
    try:
        pressed = cb.Relax.unpack(query.data or "")
    except (TypeError, ValueError):  # another feature's button
        return False
    return pressed.action in CONTROLS


# ── screens ─────────────────────────────────────────────────────────────────


def card_button(exercise: Exercise, origin: cb.RelaxFrom) -> cb.Relax:
    return cb.Relax(action=Action.CARD, value=exercise.id, o=origin)


def press(action: cb.RelaxAction, exercise: Exercise, origin: cb.RelaxFrom) -> cb.Relax:
    """A press on an exercise's card (or its guided run) that keeps where the card was opened from."""
    return cb.Relax(action=action, value=exercise.id, o=origin)


def card_back(exercise: Exercise, origin: cb.RelaxFrom) -> cb.CallbackData:
    """Back from a card: to the screen it was opened from."""
    if origin is From.MENU:
        return MENU
    if origin is From.FAVOURITES:
        return cb.Relax(action=Action.FAVOURITES)
    return cb.Relax(action=Action.CATEGORY, value=exercise.category)


def relax_menu(lang: str, today: Exercise) -> Screen:
    builder = KeyboardBuilder()
    builder.button(
        text=_("relax-today").format(title=today.title[lang]),
        callback_data=card_button(today, From.MENU),
    )
    for category in CATEGORIES:
        builder.button(
            text=_("relax-cat-" + category), callback_data=cb.Relax(action=Action.CATEGORY, value=category)
        )
    builder.button(text=_("relax-favourites"), callback_data=cb.Relax(action=Action.FAVOURITES))
    builder.button(text=_("relax-journal"), callback_data=JOURNAL)
    builder.button(text=_("mood-open"), callback_data=cb.Mood(action=cb.MoodAction.ASK))
    builder.button(text=_("library-open"), callback_data=cb.Library(a=cb.LibraryAction.LIST))
    builder.adjust(1, 2, 2, 1, 2, 1, 1)
    return _("relax-title"), with_nav(builder)


def exercise_list(lang: str, exercises: list[Exercise], title: str, origin: cb.RelaxFrom) -> Screen:
    builder = KeyboardBuilder()
    for exercise in exercises:
        label = _("relax-item").format(title=exercise.title[lang], minutes=exercise.minutes)
        builder.button(text=label, callback_data=card_button(exercise, origin))
    builder.adjust(1)
    return title, with_nav(builder, MENU)


def card_text(exercise: Exercise, lang: str) -> str:
    text = _("relax-card").format(
        title=html.escape(exercise.title[lang]), minutes=exercise.minutes, why=html.escape(exercise.why[lang])
    )
    if exercise.note is not None:
        text += "\n\n" + _("relax-card-note").format(note=html.escape(exercise.note[lang]))
    return text


def card_keyboard(
    exercise: Exercise,
    favourite: bool,
    origin: cb.RelaxFrom,
    *,
    again: bool = False,
    keep: bool = False,
) -> InlineKeyboardMarkup:
    builder = KeyboardBuilder()
    builder.button(
        text=_("relax-again" if again else "relax-start"), callback_data=press(Action.START, exercise, origin)
    )
    if keep and (exercise.accepts_photo or exercise.accepts_text):
        label = "relax-keep-photo" if exercise.accepts_photo else "relax-keep-text"
        builder.button(text=_(label), callback_data=press(Action.KEEP, exercise, origin))
    if exercise.template:  # sent by handlers/teacher/drawings.py
        builder.button(
            text=_("relax-template"), callback_data=cb.Relax(action=Action.TEMPLATE, value=exercise.id)
        )
    builder.button(
        text=_("relax-fav-remove" if favourite else "relax-fav-add"),
        callback_data=press(Action.FAVOURITE, exercise, origin),
    )
    builder.adjust(1)
    return with_nav(builder, card_back(exercise, origin))


def card(exercise: Exercise, lang: str, favourite: bool, origin: cb.RelaxFrom, status: str = "") -> Screen:
    text = card_text(exercise, lang)
    return (f"{text}\n\n{status}" if status else text), card_keyboard(exercise, favourite, origin)


@functools.lru_cache(maxsize=256)
def guided_keyboard(exercise_id: str, lang: str, paused: bool, origin: cb.RelaxFrom) -> InlineKeyboardMarkup:
    """The same on every frame, so built once: at hundreds of sessions a markup per tick costs."""
    builder = KeyboardBuilder()
    for action in (Action.RESUME if paused else Action.PAUSE, Action.STOP):
        builder.button(
            text=_("relax-" + action), callback_data=cb.Relax(action=action, value=exercise_id, o=origin)
        )
    builder.row(*urgent_row())
    return builder.as_markup()


def guided_view(exercise: Exercise, lang: str, favourite: bool, origin: cb.RelaxFrom) -> GuidedView:
    def frame(step: Frame, paused: bool) -> Screen:
        text = html.escape(step.text, quote=False)
        markup = guided_keyboard(exercise.id, lang, paused, origin)
        return (f"{text}\n\n{_('relax-paused')}" if paused else text), markup

    def final(reason: Reason) -> Screen | None:
        if reason == "finished":
            text = f"<b>{html.escape(exercise.title[lang])}</b>\n\n{_('relax-finished')}"
            return text, card_keyboard(exercise, favourite, origin, again=True, keep=True)
        return card(exercise, lang, favourite, origin, _("relax-stopped"))

    return GuidedView(frame, final)


# ── handlers ────────────────────────────────────────────────────────────────


def exercise_of_the_day(settings: Settings) -> Exercise:
    return catalogue().exercise_of_the_day(utcnow().astimezone(settings.tz).date())


async def show_menu(query: CallbackQuery, i18n: I18n, settings: Settings) -> None:
    await show(query, *relax_menu(i18n.current_locale, exercise_of_the_day(settings)))


async def show_card(
    query: CallbackQuery,
    session: AsyncSession,
    user: User,
    i18n: I18n,
    settings: Settings,
    pressed: cb.Relax,
    status: str = "",
) -> None:
    """The card of the pressed exercise, its Back to where it was opened from."""
    exercise = catalogue().get(pressed.value)
    if exercise is None:  # a button from an older catalogue
        await show_menu(query, i18n, settings)
        return
    favourite = await repo.is_favourite(session, user.id, exercise.id)
    await show(query, *card(exercise, i18n.current_locale, favourite, pressed.o, status))


def relax_menu_button() -> InlineKeyboardMarkup:
    builder = KeyboardBuilder()
    builder.button(text=_("menu-relax"), callback_data=MENU)
    return with_nav(builder)


async def menu(query: CallbackQuery, i18n: I18n, state: FSMContext, settings: Settings) -> None:
    await state.clear()
    await show_menu(query, i18n, settings)


async def category(query: CallbackQuery, callback_data: cb.Relax, i18n: I18n, settings: Settings) -> None:
    exercises = catalogue().by_category(callback_data.value)
    if not exercises:
        await show_menu(query, i18n, settings)
        return
    title = _("relax-category-title").format(name=_("relax-cat-" + callback_data.value))
    await show(query, *exercise_list(i18n.current_locale, exercises, title, From.CATEGORY))


async def favourites(query: CallbackQuery, session: AsyncSession, user: User, i18n: I18n) -> None:
    chosen = [e for e in map(catalogue().get, await repo.favourites(session, user.id)) if e is not None]
    title = _("relax-favourites-title") if chosen else _("relax-favourites-empty")
    await show(query, *exercise_list(i18n.current_locale, chosen, title, From.FAVOURITES))


async def exercise_card(
    query: CallbackQuery,
    callback_data: cb.Relax,
    session: AsyncSession,
    user: User,
    i18n: I18n,
    settings: Settings,
    state: FSMContext,
) -> None:
    await state.clear()
    await show_card(query, session, user, i18n, settings, callback_data)


async def toggle_favourite(
    query: CallbackQuery,
    callback_data: cb.Relax,
    session: AsyncSession,
    user: User,
    i18n: I18n,
    settings: Settings,
) -> None:
    if catalogue().get(callback_data.value) is not None:
        was = await repo.is_favourite(session, user.id, callback_data.value)
        await repo.set_favourite(session, user.id, callback_data.value, not was)
    await show_card(query, session, user, i18n, settings, callback_data)


async def start_exercise(
    query: CallbackQuery,
    callback_data: cb.Relax,
    session: AsyncSession,
    user: User,
    i18n: I18n,
    settings: Settings,
    bot: Bot,
    guided: GuidedSessions,
    state: FSMContext,
) -> None:
    exercise = catalogue().get(callback_data.value)
    if exercise is None:
        await show_menu(query, i18n, settings)
        return
    await state.clear()
    lang = i18n.current_locale
    favourite = await repo.is_favourite(session, user.id, exercise.id)
    view = guided_view(exercise, lang, favourite, callback_data.o)
    frames = exercise.frames(lang)
    first = view.frame(frames[0], False)
    message = await show(query, *first)  # the card becomes the exercise: one message
    await guided.start(user.id, bot, message, frames, view, i18n, lang, shown=first)


async def control(
    query: CallbackQuery,
    callback_data: cb.Relax,
    session: AsyncSession,
    user: User,
    i18n: I18n,
    settings: Settings,
    guided: GuidedSessions,
) -> None:
    if not guided.on_message(user.id, query.message):
        # The session ended (a restart, or an older message): back to the card, never a dead button.
        await show_card(query, session, user, i18n, settings, callback_data, _("relax-stopped"))
    elif callback_data.action == Action.PAUSE:
        guided.pause(user.id)  # the session redraws its own message
    elif callback_data.action == Action.RESUME:
        guided.resume(user.id)
    else:
        await guided.stop(user.id)


# ── journal ─────────────────────────────────────────────────────────────────


async def keep(
    query: CallbackQuery, callback_data: cb.Relax, state: FSMContext, i18n: I18n, settings: Settings
) -> None:
    exercise = catalogue().get(callback_data.value)
    if exercise is None or not (exercise.accepts_photo or exercise.accepts_text):
        await show_menu(query, i18n, settings)
        return
    await state.set_state(RelaxStates.journal)
    await state.update_data(ex=exercise.id, o=callback_data.o)
    prompt = _("relax-journal-ask-photo" if exercise.accepts_photo else "relax-journal-ask-text")
    await show(query, prompt, with_nav(KeyboardBuilder(), card_button(exercise, callback_data.o)))


async def journal_input(message: Message, session: AsyncSession, user: User, state: FSMContext) -> None:
    data = await state.get_data()
    exercise = catalogue().get(data.get("ex", ""))
    if exercise is None:
        await state.clear()
        await message.answer(_("relax-journal-lost"), reply_markup=relax_menu_button())
        return
    back = with_nav(KeyboardBuilder(), card_button(exercise, From(data.get("o", From.CATEGORY))))
    if exercise.accepts_photo and message.photo:
        await repo.add_journal_entry(session, user.id, exercise.id, "photo", message.photo[-1].file_id)
    elif exercise.accepts_text and message.text and not message.text.startswith("/"):
        if await too_long(message, message.text, JOURNAL_TEXT_LIMIT, back):
            return
        await repo.add_journal_entry(session, user.id, exercise.id, "text", message.text)
    else:
        hint = _("relax-journal-wrong-photo" if exercise.accepts_photo else "relax-journal-wrong-text")
        await message.answer(hint, reply_markup=back)
        return
    await state.clear()
    builder = KeyboardBuilder()
    builder.button(text=_("relax-journal"), callback_data=JOURNAL)
    await message.answer(_("relax-journal-saved"), reply_markup=with_nav(builder, MENU))


def entry_date(entry: repo.Journal, settings: Settings) -> str:
    return dates.day(entry.created_at, tz=settings.tz)


def shortened(text: str) -> str:
    """At most JOURNAL_TEXT_SHOWN UTF-16 code units: ten emoji-heavy reflections still fit one message."""
    short = truncate_utf16(text, JOURNAL_TEXT_SHOWN)
    return text if short == text else short + "…"


async def journal(
    query: CallbackQuery, session: AsyncSession, user: User, i18n: I18n, settings: Settings
) -> None:
    """Reflections in full (shortened), drawings as buttons that send the photo."""
    entries = await repo.journal(session, user.id, JOURNAL_SHOWN)
    builder = KeyboardBuilder()
    lines = [_("relax-journal-title") if entries else _("relax-journal-empty")]
    for entry in entries:
        exercise = catalogue().get(entry.exercise_id)
        title = exercise.title[i18n.current_locale] if exercise else ""
        day = entry_date(entry, settings)
        if entry.kind == "photo":
            builder.button(
                text=_("relax-journal-photo").format(date=day, title=title),
                callback_data=cb.Relax(action=Action.PHOTO, value=str(entry.id)),
            )
        else:
            lines.append(f"<b>{day}</b> · {html.escape(title)}\n{html.escape(shortened(entry.content))}")
    builder.adjust(1)
    await show(query, "\n\n".join(lines), with_nav(builder, MENU))


async def journal_photo(
    query: CallbackQuery,
    callback_data: cb.Relax,
    session: AsyncSession,
    user: User,
    i18n: I18n,
    bot: Bot,
    settings: Settings,
) -> None:
    entry_id = callback_data.value
    entry = await repo.journal_entry(session, user.id, int(entry_id)) if entry_id.isdigit() else None
    if entry is None or entry.kind != "photo":
        await show(query, _("relax-journal-empty"), with_nav(KeyboardBuilder(), MENU))
        return
    exercise = catalogue().get(entry.exercise_id)
    caption = _("relax-journal-photo").format(
        date=entry_date(entry, settings),
        title=html.escape(exercise.title[i18n.current_locale]) if exercise else "",
    )
    builder = (
        KeyboardBuilder()
    )  # to the psychologist of a consultation, with consent: handlers/teacher/drawings.py
    builder.button(text=_("drawing-share"), callback_data=cb.Drawing(a=cb.DrawingAction.PICK, e=entry.id))
    markup = with_nav(builder, JOURNAL)
    await bot.send_photo(query.from_user.id, entry.content, caption=caption, reply_markup=markup)


def create_router() -> Router:
    router = Router(name="relax")
    press = router.callback_query.register
    press(menu, cb.Menu.filter(F.item == cb.Section.RELAX))
    press(menu, cb.Relax.filter(F.action == Action.MENU))
    press(category, cb.Relax.filter(F.action == Action.CATEGORY))
    press(favourites, cb.Relax.filter(F.action == Action.FAVOURITES))
    press(exercise_card, cb.Relax.filter(F.action == Action.CARD))
    press(toggle_favourite, cb.Relax.filter(F.action == Action.FAVOURITE))
    press(start_exercise, cb.Relax.filter(F.action == Action.START))
    press(control, cb.Relax.filter(F.action.in_(CONTROLS)))
    press(keep, cb.Relax.filter(F.action == Action.KEEP))
    router.message.register(journal_input, StateFilter(RelaxStates.journal))
    press(journal, cb.Relax.filter(F.action == Action.JOURNAL))
    press(journal_photo, cb.Relax.filter(F.action == Action.PHOTO))
    return router
