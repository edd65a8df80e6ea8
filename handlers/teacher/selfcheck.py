"""Self-check questionnaires (Menu "check"): one question per screen, results with their
meaning and next steps, history with a chart, and the safety screen.

An unfinished questionnaire is a draft row (storage.repo.selfcheck), not FSM state: every
menu screen clears the FSM, and a questionnaire must resume after any detour or restart.
Each answer button carries its item position; an answer counts only when it is for the
question the draft is on, so a double tap or an old message never counts twice. While a question
is on screen the FSM holds only a marker (`Answering`, the instrument's key): a stray text or
sticker then gets the same question again, with a one-line hint, and the teacher stays in it.
"""

from __future__ import annotations

import asyncio
import html
import logging
import math
from datetime import datetime
from functools import lru_cache

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.chat_action import ChatActionSender
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.content import lines
from bot.content.exercises import catalogue
from bot.content.instruments import Instrument, Item, Lang, Result, Scale, language, load_instruments
from bot.content.library import library
from bot.services.safety import Signal
from bot.telegram import callbacks as cb
from bot.telegram.keyboards import KeyboardBuilder, button, nav_row, urgent_row, with_nav
from bot.telegram.ui import show
from bot.views import dates
from bot.views import safety as safety_screens
from bot.views.charts import render_history_chart
from handlers.common.fallback import unexpected_input
from storage.models import Booking, SelfCheckDraft, SelfCheckResult, User
from storage.models.base import utcnow
from storage.repo import booking as bookings
from storage.repo import selfcheck as repo
from storage.repo.staff import deactivated

log = logging.getLogger(__name__)

Sc = cb.SelfCheck
Action = cb.SelfCheckAction
LIST = Sc(action=Action.LIST)
SECONDS_PER_ITEM = 12  # a calm pace on a phone, for the "about N min" estimate
HISTORY_LINES = 10  # dated lines in the history text; the chart shows all
HISTORY_BUTTONS = 5  # newest results that can be opened in full


class Answering(StatesGroup):
    question = State()  # data: inst


@lru_cache(maxsize=1)
def instruments() -> dict[str, Instrument]:
    return load_instruments()


def lang_of(i18n: I18n) -> Lang:
    return language(i18n.current_locale)


def stored_result(row: SelfCheckResult) -> Result:
    """Scores and bands from the stored answers: the database keeps data, the instrument its meaning."""
    return instruments()[row.instrument].score(row.data["answers"])


def esc(text: str) -> str:
    return html.escape(text, quote=False)


def title(instrument: Instrument, lang: Lang) -> str:
    return esc(f"{instrument.name(lang)} ({instrument.abbreviation})")


def minutes(instrument: Instrument) -> int:
    return max(1, math.ceil(len(instrument.items) * SECONDS_PER_ITEM / 60))


def number(value: float) -> str:
    """12 -> "12", 62.5 -> "62,5": the decimal comma of both languages."""
    value = round(float(value), 3)
    return str(int(value)) if value.is_integer() else f"{value:g}".replace(".", ",")


def change(current: float, previous: float) -> str:
    delta = round(float(current) - float(previous), 3)
    if delta == 0:
        return "±0"
    return ("+" if delta > 0 else "−") + number(abs(delta))


def local_date(moment: datetime, settings: Settings) -> str:
    """When a result was had: with the time, so that two of one day are told apart."""
    return dates.stamp(moment, settings.tz)


def stem(instrument: Instrument, lang: Lang) -> str:
    """The question stem ("How often over the last 2 weeks...") is the intro's last paragraph."""
    paragraphs = [p.strip() for p in instrument.intro(lang).split("\n\n") if p.strip()]
    return paragraphs[-1] if len(paragraphs) > 1 else ""


# -- screens -----------------------------------------------------------------------------


async def show_list(query: CallbackQuery, session: AsyncSession, user: User, lang: Lang) -> None:
    drafts = await repo.drafts(session, user.id)
    paragraphs, builder = [_("selfcheck-list")], KeyboardBuilder()
    for key, instrument in instruments().items():
        line = _("selfcheck-list-line").format(
            title=title(instrument, lang), count=len(instrument.items), minutes=minutes(instrument)
        )
        mark = ""
        if key in drafts:
            line += " " + _("selfcheck-list-paused").format(
                n=drafts[key].position + 1, total=len(instrument.items)
            )
            mark = "▶️ "
        paragraphs.append(line)
        builder.button(text=mark + title(instrument, lang), callback_data=Sc(action=Action.OPEN, inst=key))
    if await repo.counts(session, user.id):
        builder.button(text=_("selfcheck-delete"), callback_data=Sc(action=Action.DELETE))
    builder.adjust(1)
    await show(query, "\n\n".join(paragraphs), with_nav(builder))


async def show_instrument(
    query: CallbackQuery, session: AsyncSession, user: User, instrument: Instrument, lang: Lang
) -> None:
    draft = await repo.draft(session, user.id, instrument.key)
    done = (await repo.counts(session, user.id)).get(instrument.key, 0)
    builder = KeyboardBuilder()
    if draft is not None and draft.position > 0:
        total = len(instrument.items)
        builder.button(
            text=_("selfcheck-continue").format(n=draft.position + 1, total=total),
            callback_data=Sc(action=Action.RESUME, inst=instrument.key),
        )
        builder.button(
            text=_("selfcheck-restart"), callback_data=Sc(action=Action.BEGIN, inst=instrument.key)
        )
    else:
        builder.button(text=_("selfcheck-begin"), callback_data=Sc(action=Action.BEGIN, inst=instrument.key))
    if done:
        builder.button(
            text=_("selfcheck-history-button").format(count=done),
            callback_data=Sc(action=Action.HISTORY, inst=instrument.key),
        )
    builder.adjust(1)
    text = _("selfcheck-about").format(
        title=title(instrument, lang),
        intro=esc(instrument.intro(lang)),
        minutes=minutes(instrument),
        count=len(instrument.items),
        translation=esc(instrument.translation(lang)),
    )
    await show(query, text, with_nav(builder, LIST))


async def show_question(
    query: CallbackQuery, instrument: Instrument, draft: SelfCheckDraft, lang: Lang
) -> None:
    given = repo.answers(draft).get(instrument.items[draft.position].key)
    await show(query, *question_screen(instrument.key, draft.position, given, lang))


@lru_cache(maxsize=1024)
def question_screen(
    key: str, position: int, given: int | None, lang: Lang
) -> tuple[str, InlineKeyboardMarkup]:
    """The same for everyone at this question with this answer ticked: built once per language."""
    instrument = instruments()[key]
    item = instrument.items[position]
    builder = KeyboardBuilder()
    for option in instrument.options_for(item):
        mark = "✓ " if option.value == given else ""
        builder.button(
            text=mark + option.label(lang),
            callback_data=Sc(action=Action.ANSWER, inst=instrument.key, n=position, v=option.value),
        )
    builder.adjust(1)
    parts = [
        _("selfcheck-question").format(
            title=title(instrument, lang), n=position + 1, total=len(instrument.items)
        )
    ]
    if stem(instrument, lang):
        parts.append(f"<i>{esc(stem(instrument, lang))}</i>")
    parts.append(f"<b>{esc(item.text(lang))}</b>")
    return "\n\n".join(parts), with_nav(builder, Sc(action=Action.BACK, inst=instrument.key, n=position))


def next_steps(result: Result, lang: Lang) -> list[InlineKeyboardButton]:
    """The result's recommendations as buttons; booking and a relaxation exercise always among them."""
    steps = list(result.recommendations)
    steps += [key for key in ("booking", "exercise:") if not any(s.startswith(key) for s in steps)]
    buttons, exercise_shown = [], False
    for step in steps:
        if step == "booking":
            buttons.append(button(_("menu-book"), cb.Menu(item=cb.Section.BOOK)))
        elif step == "groups":
            buttons.append(button(_("menu-groups"), cb.Menu(item=cb.Section.GROUPS)))
        elif step.startswith("exercise:") and not exercise_shown:
            exercise_shown = True
            exercise = catalogue().get(step.removeprefix("exercise:"))
            if exercise is None:
                buttons.append(button(_("menu-relax"), cb.Menu(item=cb.Section.RELAX)))
            else:  # straight to the fitting exercise's card in Relaxation
                buttons.append(
                    button(
                        _("selfcheck-exercise").format(title=exercise.title[lang]),
                        cb.Relax(action=cb.RelaxAction.CARD, value=exercise.id),
                    )
                )
    return buttons


def result_text(
    instrument: Instrument,
    result: Result,
    created_at: datetime,
    settings: Settings,
    lang: Lang,
    *,
    for_staff: bool = False,
) -> str:
    parts = [
        _("selfcheck-result-title").format(
            title=title(instrument, lang), date=local_date(created_at, settings)
        )
    ]
    for scale in result.scales.values():
        headline = _("selfcheck-result-scale").format(
            scale=esc(scale.name(lang)),
            score=number(scale.score),
            max=number(scale.max),
            band=esc(scale.band_label(lang)),
        )
        parts.append(f"{headline}\n{esc(scale.band_meaning(lang))}")
    if for_staff:
        if result.safety:
            parts.append(_("selfcheck-shared-alert"))
    else:
        parts.append(
            _("selfcheck-result-firm")
            if result.max_severity >= 3 or result.safety
            else _("selfcheck-result-note")
        )
    return "\n\n".join(parts)


def result_button(row: SelfCheckResult) -> cb.SelfCheck:
    return Sc(action=Action.RESULT, inst=row.instrument, n=row.id)


async def show_result(
    query: CallbackQuery,
    session: AsyncSession,
    user: User,
    row: SelfCheckResult,
    settings: Settings,
    lang: Lang,
    back: CallbackData = LIST,
) -> None:
    instrument = instruments()[row.instrument]
    result = stored_result(row)
    builder = KeyboardBuilder()
    for step in next_steps(result, lang):
        builder.row(step)
    if library().for_instrument(row.instrument):  # what may help now: readings by the questionnaire's topic
        builder.row(
            button(_("library-may-help"), cb.Library(a=cb.LibraryAction.HELP, i=row.instrument, n=row.id))
        )
    if await bookings.upcoming_for_teacher(session, user.id, utcnow()):
        builder.row(button(_("selfcheck-share"), Sc(action=Action.SHARE, inst=row.instrument, n=row.id)))
    builder.row(button(_("selfcheck-history-button-short"), Sc(action=Action.HISTORY, inst=row.instrument)))
    builder.row(*urgent_row())
    await show(
        query, result_text(instrument, result, row.created_at, settings, lang), with_nav(builder, back)
    )


def safety_markup(go_on: InlineKeyboardButton) -> InlineKeyboardMarkup:
    builder = KeyboardBuilder()
    builder.row(safety_screens.earliest_button())
    builder.row(button(_("safety-handoff-button"), cb.Safe(a=cb.SafeAction.HANDOFF)))
    builder.row(button(_("safety-plan-button"), cb.Safe(a=cb.SafeAction.PLAN)))
    builder.row(go_on)
    builder.row(*nav_row())
    return builder.as_markup()


async def show_safety(
    query: CallbackQuery, settings: Settings, intro: str, go_on: InlineKeyboardButton
) -> None:
    # Shown in place of the next question or the result, so nothing continues before it.
    text = f"{intro}\n\n{lines.text(settings.support.crisis_lines)}\n\n{_('urgent-outro')}"
    await show(query, text, safety_markup(go_on))


def history_lines(rows: list[SelfCheckResult], settings: Settings, lang: Lang) -> list[str]:
    """One dated line per result: every score, and its change since the result before."""
    results = [stored_result(row) for row in rows]
    dated = []
    for row, result, before in zip(rows, results, [None, *results[:-1]], strict=True):
        scores = []
        for key, scored in result.scales.items():
            text = f"{esc(scored.name(lang))} {number(scored.score)}"
            previous = before.scales.get(key) if before else None
            if previous is not None:
                text += f" ({change(scored.score, previous.score)})"
            scores.append(text)
        dated.append(f"{local_date(row.created_at, settings)} — " + "; ".join(scores))
    return dated


def history_keyboard(
    instrument: Instrument, rows: list[SelfCheckResult], settings: Settings, lang: Lang
) -> InlineKeyboardMarkup:
    """A chart per scale, then the newest results to open in full."""
    builder = KeyboardBuilder()
    for index, scale in enumerate(instrument.scales):
        label = (
            _("selfcheck-chart")
            if len(instrument.scales) == 1
            else _("selfcheck-chart-scale").format(scale=esc(scale.name(lang)))
        )
        builder.row(button(label, Sc(action=Action.CHART, inst=instrument.key, n=index)))
    opened = [
        button(
            f"🗓 {local_date(row.created_at, settings)}",
            Sc(action=Action.RESULT, inst=instrument.key, n=row.id, v=1),
        )
        for row in rows[-HISTORY_BUTTONS:]
    ]
    for start in range(0, len(opened), 3):
        builder.row(*opened[start : start + 3])
    return with_nav(builder, Sc(action=Action.OPEN, inst=instrument.key))


async def show_history(
    query: CallbackQuery,
    session: AsyncSession,
    user: User,
    instrument: Instrument,
    settings: Settings,
    lang: Lang,
) -> None:
    rows = await repo.history(session, user.id, instrument.key)
    if not rows:
        builder = KeyboardBuilder()
        builder.button(text=_("selfcheck-begin"), callback_data=Sc(action=Action.BEGIN, inst=instrument.key))
        await show(
            query,
            _("selfcheck-history-empty").format(title=title(instrument, lang)),
            with_nav(builder, Sc(action=Action.OPEN, inst=instrument.key)),
        )
        return
    dated = history_lines(rows, settings, lang)
    text = _("selfcheck-history").format(
        title=title(instrument, lang), lines="\n".join(dated[-HISTORY_LINES:])
    )
    if len(dated) > HISTORY_LINES:
        text += "\n\n" + _("selfcheck-history-more").format(shown=HISTORY_LINES, total=len(dated))
    await show(query, text, history_keyboard(instrument, rows, settings, lang))


async def scale_points(
    session: AsyncSession, user: User, instrument: Instrument, scale: Scale, settings: Settings
) -> list[tuple[datetime, float]]:
    """(local time, score) of every result that scored `scale`."""
    points = []
    for row in await repo.history(session, user.id, instrument.key):
        scored = stored_result(row).scales.get(scale.key)
        if scored is not None:
            points.append((row.created_at.astimezone(settings.tz), float(scored.score)))
    return points


def chart_title(instrument: Instrument, scale: Scale, lang: Lang) -> str:
    text = f"{instrument.name(lang)} ({instrument.abbreviation})"
    return f"{text} — {scale.name(lang)}" if len(instrument.scales) > 1 else text


# -- the questionnaire ---------------------------------------------------------------------


def safety_intro(instrument: Instrument, result: Result) -> str:
    by_answer = any(rule.item for rule in instrument.safety if rule.key in result.safety_rules)
    return _("selfcheck-safety-answer") if by_answer else _("selfcheck-safety-score")


async def show_finished(
    query: CallbackQuery,
    session: AsyncSession,
    row: SelfCheckResult,
    user: User,
    settings: Settings,
    lang: Lang,
) -> None:
    """The screen that follows the last answer: the safety screen first when it is due, then the result."""
    if row.data.get("safety_screen"):
        instrument = instruments()[row.instrument]
        go_on = button(_("selfcheck-safety-result"), result_button(row))
        await show_safety(query, settings, safety_intro(instrument, stored_result(row)), go_on)
    else:
        await show_result(query, session, user, row, settings, lang)


async def record(
    query: CallbackQuery,
    session: AsyncSession,
    user: User,
    instrument: Instrument,
    draft: SelfCheckDraft,
    item: Item,
    value: int,
    settings: Settings,
    lang: Lang,
) -> None:
    """Count the answer, then show the next question, the safety screen, or the result."""
    alerted_before = bool(draft.data.get("alerted"))
    alarm = instrument.safety_triggered_by(item.key, value)
    repo.record_answer(draft, item.key, value, draft.position + 1, alerted=alarm)
    if draft.position < len(instrument.items):
        if alarm:
            go_on = button(_("selfcheck-safety-continue"), Sc(action=Action.RESUME, inst=instrument.key))
            await show_safety(query, settings, _("selfcheck-safety-answer"), go_on)
        else:
            await show_question(query, instrument, draft, lang)
        return
    result = instrument.score(repo.answers(draft))
    # Not twice: a safety screen already shown mid-questionnaire is not repeated for the same rule.
    safety_screen = alarm or (result.safety and not alerted_before)
    row = await repo.finish(session, draft, safety_screen=safety_screen)
    await show_finished(query, session, row, user, settings, lang)


# -- sharing one result with the psychologist of one booking ---------------------------------


async def shareable(session: AsyncSession, user: User) -> list[Booking]:
    """The upcoming bookings whose psychologist may be shown something (a result, a drawing): a
    psychologist deactivated since the booking (one under way is not cancelled) receives nothing."""
    return [
        b
        for b in await bookings.upcoming_for_teacher(session, user.id, utcnow())
        if not deactivated(b.slot.psychologist.user)
    ]


def booking_label(booking: Booking, settings: Settings) -> str:
    return f"{dates.moment(booking.slot.starts_at, settings.tz)} · {booking.slot.psychologist.display_name}"


async def show_share(
    query: CallbackQuery,
    session: AsyncSession,
    user: User,
    row: SelfCheckResult,
    settings: Settings,
) -> None:
    upcoming = await shareable(session, user)
    done = await repo.shared_for(session, [booking.id for booking in upcoming])
    builder = KeyboardBuilder()
    for booking in upcoming:
        mark = "✓ " if row.id in done.get(booking.id, []) else ""
        share_to = Sc(action=Action.SHARE_TO, inst=row.instrument, n=row.id, v=booking.id)
        builder.row(button(mark + booking_label(booking, settings), share_to))
    text = _("selfcheck-share-explain") if upcoming else _("selfcheck-share-none")
    await show(query, text, with_nav(builder, result_button(row)))


def shared_text(user: User, row: SelfCheckResult, booking: Booking, settings: Settings, i18n: I18n) -> str:
    """The result as its psychologist reads it, in their language."""
    staff = booking.slot.psychologist.user
    staff_lang = language(staff.language)
    with i18n.use_locale(staff_lang):
        return _("selfcheck-shared-psy").format(
            code=user.pseudonym,
            when=dates.moment(booking.slot.starts_at, settings.tz),
            result=result_text(
                instruments()[row.instrument],
                stored_result(row),
                row.created_at,
                settings,
                staff_lang,
                for_staff=True,
            ),
        )


async def share_result(
    query: CallbackQuery,
    bot: Bot,
    session: AsyncSession,
    user: User,
    row: SelfCheckResult,
    booking_id: int,
    settings: Settings,
    i18n: I18n,
) -> None:
    booking = await bookings.teacher_booking(session, user.id, booking_id)
    if booking is None or not booking.upcoming or deactivated(booking.slot.psychologist.user):
        await show_share(query, session, user, row, settings)
        return
    back = with_nav(KeyboardBuilder(), result_button(row))
    psychologist = booking.slot.psychologist
    shared = await repo.share(session, row.id, booking.id)
    if shared is repo.Shared.FULL:
        await show(query, _("selfcheck-share-full"), back)
        return
    if shared is repo.Shared.SENT:  # ALREADY: a repeated tap, so nothing is sent again
        # Published before the message goes out: a crash after sending must not let a retry send it twice.
        await session.commit()
        try:
            await bot.send_message(
                psychologist.user.telegram_chat_id, shared_text(user, row, booking, settings, i18n)
            )
        except TelegramAPIError as error:
            log.warning("self-check share to a psychologist failed (%s)", type(error).__name__)
            await repo.unshare(session, row.id, booking.id)
            await show(query, _("selfcheck-share-failed"), back)
            return
    await show(query, _("selfcheck-shared").format(name=esc(psychologist.display_name)), back)


# -- handlers -------------------------------------------------------------------------------


async def menu(
    query: CallbackQuery, session: AsyncSession, user: User, i18n: I18n, state: FSMContext
) -> None:
    await state.clear()
    await show_list(query, session, user, lang_of(i18n))


async def back_to_list(query: CallbackQuery, session: AsyncSession, user: User, i18n: I18n) -> None:
    await show_list(query, session, user, lang_of(i18n))


async def pressed(
    session: AsyncSession, user: User, callback_data: Sc
) -> tuple[Instrument, SelfCheckDraft | None]:
    """The instrument pressed on and the teacher's unfinished run of it, if any."""
    instrument = instruments()[callback_data.inst]
    return instrument, await repo.draft(session, user.id, instrument.key)


async def open_instrument(
    query: CallbackQuery, callback_data: Sc, session: AsyncSession, user: User, i18n: I18n
) -> None:
    await show_instrument(query, session, user, instruments()[callback_data.inst], lang_of(i18n))


async def begin(
    query: CallbackQuery,
    callback_data: Sc,
    session: AsyncSession,
    user: User,
    i18n: I18n,
    state: FSMContext,
) -> None:
    instrument, draft = await pressed(session, user, callback_data)
    if draft is None or draft.position > 0:  # a double tap on Start must not restart twice
        draft = await repo.start(session, user.id, instrument.key)
    await enter(state, instrument)
    await show_question(query, instrument, draft, lang_of(i18n))


async def resume(
    query: CallbackQuery,
    callback_data: Sc,
    session: AsyncSession,
    user: User,
    i18n: I18n,
    state: FSMContext,
) -> None:
    instrument, draft = await pressed(session, user, callback_data)
    if draft is None:
        await show_instrument(query, session, user, instrument, lang_of(i18n))
    else:
        await enter(state, instrument)
        await show_question(query, instrument, draft, lang_of(i18n))


async def enter(state: FSMContext, instrument: Instrument) -> None:
    await state.set_state(Answering.question)
    await state.set_data({"inst": instrument.key})


async def stray(
    message: Message,
    session: AsyncSession,
    user: User,
    role: str,
    i18n: I18n,
    state: FSMContext,
    safety_signal: Signal | None = None,
) -> None:
    """Typed text or a sticker while a question is on screen: that question again, one message."""
    key = str((await state.get_data()).get("inst"))
    draft = await repo.draft(session, user.id, key) if key in instruments() else None
    if draft is None or draft.position >= len(instruments()[key].items):
        await state.clear()  # finished meanwhile: the usual hint
        draft = None
    if safety_signal is not None or draft is None:  # or words that need care: their own reply
        await unexpected_input(message, user, role, i18n, safety_signal)
        return
    given = repo.answers(draft).get(instruments()[key].items[draft.position].key)
    text, markup = question_screen(key, draft.position, given, lang_of(i18n))
    await show(message, f"{_('selfcheck-stray')}\n\n{text}", markup)


async def answer(
    query: CallbackQuery, callback_data: Sc, session: AsyncSession, user: User, settings: Settings, i18n: I18n
) -> None:
    lang, position = lang_of(i18n), callback_data.n
    instrument, draft = await pressed(session, user, callback_data)
    if draft is None:
        # Finished already (a double tap on the last answer): the same screen stays.
        latest = await repo.history(session, user.id, instrument.key, limit=1)
        if latest:
            await show_finished(query, session, latest[-1], user, settings, lang)
        else:
            await show_instrument(query, session, user, instrument, lang)
        return
    current = position == draft.position and position < len(instrument.items)
    item = instrument.items[position] if current else None
    if item is None or callback_data.v not in {option.value for option in instrument.options_for(item)}:
        await show_question(query, instrument, draft, lang)  # a stale or repeated tap, or a forged value
        return
    await record(query, session, user, instrument, draft, item, callback_data.v, settings, lang)


async def go_back(
    query: CallbackQuery,
    callback_data: Sc,
    session: AsyncSession,
    user: User,
    i18n: I18n,
    state: FSMContext,
) -> None:
    instrument, draft = await pressed(session, user, callback_data)
    if draft is None or callback_data.n == 0:
        await state.clear()
        await show_instrument(query, session, user, instrument, lang_of(i18n))
        return
    if callback_data.n == draft.position:  # a repeated Back tap must not go back twice
        draft.position -= 1
    await show_question(query, instrument, draft, lang_of(i18n))


async def open_result(
    query: CallbackQuery, callback_data: Sc, session: AsyncSession, user: User, settings: Settings, i18n: I18n
) -> None:
    row = await repo.result(session, user.id, callback_data.n)
    if row is None:  # deleted meanwhile, or not this teacher's
        await show_list(query, session, user, lang_of(i18n))
        return
    back = Sc(action=Action.HISTORY, inst=row.instrument) if callback_data.v else LIST
    await show_result(query, session, user, row, settings, lang_of(i18n), back)


async def choose_booking(
    query: CallbackQuery, callback_data: Sc, session: AsyncSession, user: User, settings: Settings, i18n: I18n
) -> None:
    row = await repo.result(session, user.id, callback_data.n)
    if row is None:
        await show_list(query, session, user, lang_of(i18n))
    else:
        await show_share(query, session, user, row, settings)


async def share(
    query: CallbackQuery,
    callback_data: Sc,
    bot: Bot,
    session: AsyncSession,
    user: User,
    settings: Settings,
    i18n: I18n,
) -> None:
    row = await repo.result(session, user.id, callback_data.n)
    if row is None:
        await show_list(query, session, user, lang_of(i18n))
    else:
        await share_result(query, bot, session, user, row, callback_data.v, settings, i18n)


async def history(
    query: CallbackQuery, callback_data: Sc, session: AsyncSession, user: User, settings: Settings, i18n: I18n
) -> None:
    await show_history(query, session, user, instruments()[callback_data.inst], settings, lang_of(i18n))


async def chart(
    query: CallbackQuery,
    callback_data: Sc,
    bot: Bot,
    session: AsyncSession,
    user: User,
    settings: Settings,
    i18n: I18n,
) -> None:
    """One scale's scores over time, as a photo."""
    lang, instrument = lang_of(i18n), instruments()[callback_data.inst]
    in_range = 0 <= callback_data.n < len(instrument.scales)
    scale = instrument.scales[callback_data.n] if in_range else None
    points = await scale_points(session, user, instrument, scale, settings) if scale else []
    if scale is None or not points:
        await show_history(query, session, user, instrument, settings, lang)
        return
    title_text = chart_title(instrument, scale, lang)
    # Rendering takes a noticeable fraction of a second: off the event loop, "sending a photo" shown.
    async with ChatActionSender.upload_photo(chat_id=query.from_user.id, bot=bot):
        png = await asyncio.to_thread(
            render_history_chart,
            title=title_text,
            points=points,
            y_range=(scale.min, scale.max),
            thresholds=scale.thresholds(lang),
            y_label=_("selfcheck-chart-axis"),
        )
    await bot.send_photo(
        query.from_user.id,
        BufferedInputFile(png, filename=f"{instrument.key}.png"),
        caption=_("selfcheck-chart-caption").format(title=esc(title_text), count=len(points)),
        reply_markup=with_nav(KeyboardBuilder(), Sc(action=Action.HISTORY, inst=instrument.key)),
    )


async def confirm_delete(query: CallbackQuery, session: AsyncSession, user: User) -> None:
    count = sum((await repo.counts(session, user.id)).values())
    builder = KeyboardBuilder()
    builder.button(text=_("selfcheck-delete-confirm"), callback_data=Sc(action=Action.ERASE))
    await show(query, _("selfcheck-delete-warning").format(count=count), with_nav(builder, LIST))


async def erase(query: CallbackQuery, session: AsyncSession, user: User) -> None:
    await repo.delete_all(session, user.id)
    log.info("self-check results deleted on request")
    builder = KeyboardBuilder()
    builder.button(text=_("selfcheck-back-to-list"), callback_data=LIST)
    await show(query, _("selfcheck-deleted"), with_nav(builder))


def create_router() -> Router:
    instruments()  # validate every instrument file at start, not at a teacher's first tap
    router = Router(name="selfcheck")
    press = router.callback_query.register
    known = F.inst.in_(list(instruments()))
    press(menu, cb.Menu.filter(F.item == cb.Section.CHECK))
    press(back_to_list, Sc.filter(F.action == Action.LIST))
    press(open_instrument, Sc.filter((F.action == Action.OPEN) & known))
    press(begin, Sc.filter((F.action == Action.BEGIN) & known))
    press(resume, Sc.filter((F.action == Action.RESUME) & known))
    press(answer, Sc.filter((F.action == Action.ANSWER) & known))
    press(go_back, Sc.filter((F.action == Action.BACK) & known))
    press(open_result, Sc.filter((F.action == Action.RESULT) & known))
    press(choose_booking, Sc.filter((F.action == Action.SHARE) & known))
    press(share, Sc.filter((F.action == Action.SHARE_TO) & known))
    press(history, Sc.filter((F.action == Action.HISTORY) & known))
    press(chart, Sc.filter((F.action == Action.CHART) & known))
    press(confirm_delete, Sc.filter(F.action == Action.DELETE))
    press(erase, Sc.filter(F.action == Action.ERASE))
    router.message.register(stray, Answering.question)
    return router
