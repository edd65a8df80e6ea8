"""The teacher's side of a psychologist's practice: the optional intake before a first session
(after booking: topics, own words, language, how urgent, been before), and Settings → Earlier
sessions, where the teacher lets a psychologist see their earlier sessions with them (default off).

An intake's answers are kept sealed for the booked psychologist only; "very urgent" raises the
safety screen for the teacher at once and marks the booking on the psychologist's screens.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services import practice
from bot.services.safety import Kind, Signal
from bot.services.text import truncate_utf16
from bot.telegram import callbacks as cb
from bot.telegram.callbacks import Carry, CarryAction, Intake, IntakeAction
from bot.telegram.keyboards import KeyboardBuilder, with_nav
from bot.telegram.ui import show
from bot.views import safety as screens
from bot.views.booking import esc
from handlers.common.safety import SafetyTally
from storage.models import User
from storage.models.practice import INTAKE_TEXT_LIMIT
from storage.repo import practice as repo

A = IntakeAction
MINE = cb.Menu(item=cb.Section.MINE)
SETTINGS = cb.Menu(item=cb.Section.SETTINGS)


class IntakeFlow(StatesGroup):
    text = State()  # data: intake (the booking id), k, t, l, u


def closed(callback_answer: CallbackAnswer) -> None:
    callback_answer.text, callback_answer.show_alert = _("practice-intake-closed"), True


async def open_intake(
    state: FSMContext, callback_data: Intake, callback_answer: CallbackAnswer
) -> dict | None:
    """The answers so far of the intake this screen belongs to; None, said in an alert, for a
    screen of an intake no longer open (finished, another one begun, the conversation reset)."""
    data = await state.get_data()
    if data.get("intake") != callback_data.id:
        closed(callback_answer)
        return None
    return data


async def show_topics(event: CallbackQuery, booking_id: int, chosen: list[str]) -> None:
    builder = KeyboardBuilder()
    for code in practice.TOPICS:
        mark = "✓ " if code in chosen else ""
        builder.button(
            text=mark + _("practice-topic-" + code), callback_data=Intake(a=A.TOPIC, id=booking_id, v=code)
        )
    builder.button(text=_("practice-intake-next"), callback_data=Intake(a=A.TEXT, id=booking_id))
    builder.adjust(*([2] * (len(practice.TOPICS) // 2)), 1)
    await show(event, _("practice-intake-topics"), with_nav(builder, MINE))


async def start(
    query: CallbackQuery,
    callback_data: Intake,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    user: User,
    state: FSMContext,
) -> None:
    booking = await practice.may_take_intake(session, user, callback_data.id)
    if booking is None:
        closed(callback_answer)
        return
    await state.set_state(None)
    await state.set_data({"intake": booking.id, "k": []})
    await show_topics(query, booking.id, [])


async def topic(
    query: CallbackQuery, callback_data: Intake, callback_answer: CallbackAnswer, state: FSMContext
) -> None:
    if (data := await open_intake(state, callback_data, callback_answer)) is None:
        return
    data["k"] = practice.toggled(data.get("k", []), callback_data.v)
    await state.set_data(data)
    await show_topics(query, callback_data.id, data["k"])


def language_keyboard(booking_id: int) -> KeyboardBuilder:
    builder = KeyboardBuilder()
    for code in ("kk", "ru"):
        builder.button(text=_("bk-lang-" + code), callback_data=Intake(a=A.LANGUAGE, id=booking_id, v=code))
    builder.button(
        text=_("practice-intake-any-language"), callback_data=Intake(a=A.LANGUAGE, id=booking_id, v="any")
    )
    builder.adjust(2, 1)
    return builder


async def ask_text(
    query: CallbackQuery, callback_data: Intake, callback_answer: CallbackAnswer, state: FSMContext
) -> None:
    """In their own words (optional: a language button goes on without them)."""
    if await open_intake(state, callback_data, callback_answer) is None:
        return
    await state.set_state(IntakeFlow.text)
    text = _("practice-intake-text").format(limit=INTAKE_TEXT_LIMIT)
    await show(query, text, with_nav(language_keyboard(callback_data.id), MINE))


async def got_text(message: Message, state: FSMContext, safety_signal: Signal | None = None) -> None:
    data = await state.get_data()
    data["t"] = truncate_utf16((message.text or "").strip(), INTAKE_TEXT_LIMIT)
    # The safety screen came first (HelpFirstMiddleware); the psychologist sees the booking marked.
    data["c"] = data.get("c") or (safety_signal is not None and safety_signal.kind is Kind.CRISIS)
    await state.set_data(data)
    text = _("practice-intake-text-kept").format(text=esc(data["t"]))
    await show(message, text, with_nav(language_keyboard(data.get("intake", 0)), MINE))


async def language(
    query: CallbackQuery, callback_data: Intake, callback_answer: CallbackAnswer, state: FSMContext
) -> None:
    if (data := await open_intake(state, callback_data, callback_answer)) is None:
        return
    await state.set_state(None)
    await state.set_data(data | {"l": "" if callback_data.v == "any" else callback_data.v})
    builder = KeyboardBuilder()
    for level in practice.URGENCIES:
        builder.button(
            text=_(f"practice-urgency-{level}"),
            callback_data=Intake(a=A.URGENCY, id=callback_data.id, v=str(level)),
        )
    builder.adjust(1)
    await show(query, _("practice-intake-urgency"), with_nav(builder, MINE))


async def urgency(
    query: CallbackQuery, callback_data: Intake, callback_answer: CallbackAnswer, state: FSMContext
) -> None:
    if (data := await open_intake(state, callback_data, callback_answer)) is None:
        return
    await state.set_data(data | {"u": int(callback_data.v) if callback_data.v.isdigit() else 0})
    builder = KeyboardBuilder()
    builder.button(text=_("practice-yes"), callback_data=Intake(a=A.BEFORE, id=callback_data.id, v="y"))
    builder.button(text=_("practice-no"), callback_data=Intake(a=A.BEFORE, id=callback_data.id, v="n"))
    await show(query, _("practice-intake-before"), with_nav(builder, MINE))


async def before(
    query: CallbackQuery,
    callback_data: Intake,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    user: User,
    settings: Settings,
    state: FSMContext,
    safety_tally: SafetyTally,
) -> None:
    data = await state.get_data()
    await state.clear()
    booking = await practice.may_take_intake(session, user, callback_data.id)
    if booking is None or data.get("intake") != callback_data.id:
        closed(callback_answer)
        return
    urgency = practice.URGENT if data.get("c") else data.get("u", 0)
    answers = practice.intake_answers(
        data.get("k", []), data.get("t", ""), data.get("l", ""), urgency, callback_data.v == "y"
    )
    await repo.save_intake(session, booking.id, answers)
    if practice.is_urgent(answers):  # help first: the safety screen, and the booking is marked
        safety_tally.add("safety screen (intake)")
        text, markup = screens.alarm(settings)
        await show(query, _("practice-intake-saved") + "\n\n" + text, markup)
        return
    await show(query, _("practice-intake-saved"), with_nav(KeyboardBuilder(), MINE))


# --- Settings → earlier sessions --------------------------------------------------------------------------


async def show_carry(query: CallbackQuery, session: AsyncSession, user: User) -> None:
    builder = KeyboardBuilder()
    for profile in await repo.psychologists_of(session, user.id):
        allowed = await repo.allows(session, user.id, profile)
        label = _("practice-carry-on" if allowed else "practice-carry-off").format(
            name=esc(profile.display_name)
        )
        builder.button(text=label, callback_data=Carry(a=CarryAction.SET, id=profile.id, on=not allowed))
    builder.adjust(1)
    await show(query, _("practice-carry-title"), with_nav(builder, SETTINGS))


async def carry(query: CallbackQuery, session: AsyncSession, user: User) -> None:
    await show_carry(query, session, user)


async def set_carry(query: CallbackQuery, callback_data: Carry, session: AsyncSession, user: User) -> None:
    """Only a psychologist the teacher has met can be allowed (a forged id changes nothing)."""
    met = {profile.id: profile for profile in await repo.psychologists_of(session, user.id)}
    if callback_data.id in met:
        await repo.set_allowed(session, user.id, met[callback_data.id], callback_data.on)
    await show_carry(query, session, user)


def create_router() -> Router:
    router = Router(name="practice-teacher")
    press = router.callback_query.register
    press(start, Intake.filter(F.a == A.START))
    press(topic, Intake.filter(F.a == A.TOPIC))
    press(ask_text, Intake.filter(F.a == A.TEXT))
    router.message.register(got_text, StateFilter(IntakeFlow.text), F.text)
    press(language, Intake.filter(F.a == A.LANGUAGE))
    press(urgency, Intake.filter(F.a == A.URGENCY))
    press(before, Intake.filter(F.a == A.BEFORE))
    press(carry, Carry.filter(F.a == CarryAction.LIST))
    press(set_carry, Carry.filter(F.a == CarryAction.SET))
    return router
