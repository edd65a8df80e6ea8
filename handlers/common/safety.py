"""Help first: urgent help, the safety screen, the safety plan, a psychologist on duty, a check-in.

Whatever state a teacher is in, a message with a crisis signal (bot.safety) gets the safety screen
as its first reply (HelpFirstMiddleware, before any handler); the message then goes on to what the
teacher was doing (a note is kept, a question sent), and no "did not understand" follows. Worry
about a student or another person gets its own screen first the same way; distress without a
crisis gets a warm reply where the bot would otherwise not understand (handlers/fallback.py).

The safety screen asks "Are you safe right now?" (after Stanley & Brown's safety planning and
safe-messaging guidance) and leads to the teacher's own safety plan, a psychologist on duty asked
to write now (an anonymous chat, with the teacher's consent; honest when nobody is on duty), the
earliest consultation, and an opt-in check-in the next day. Nothing here names a teacher in the
log: the safety tally counts the screens and answers (which leave no row behind) and reports them
once a day; what leaves a row (a hand-off, a check-in) is not logged at all, since its time would
point to that row.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from aiogram import BaseMiddleware, Bot, F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, TelegramObject
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.content import lines
from bot.events import UserErased
from bot.services import safety, tallies
from bot.services.checkin import checkin_time
from bot.services.questions import answer_handoff
from bot.services.safety import Kind, Signal
from bot.telegram import callbacks as cb
from bot.telegram.callbacks import Safe, SafeAction
from bot.telegram.filters import staff_only
from bot.telegram.keyboards import KeyboardBuilder, button, with_nav
from bot.telegram.ui import show, too_long
from bot.views import safety as screens
from bot.views.booking import privacy_text
from bot.views.chat import open_chat
from bot.workers.chat_clock import ChatClock
from bot.workers.notices import to_psychologists
from bot.workers.reminders import Rendered
from storage.models import AnonQuestion, Reminder, User
from storage.models.base import utcnow
from storage.models.safety import PLAN_STEPS, STEP_LIMIT
from storage.repo import chat as chat_repo
from storage.repo import reminders as reminder_repo
from storage.repo import safety as repo
from storage.repo import selfcheck as selfcheck_repo
from storage.repo import users

log = logging.getLogger(__name__)

CHECKIN = "checkin"  # the sealed reminder's name
RECENT_DRAFT = timedelta(hours=1)  # a questionnaire this fresh is "what the teacher was doing"


class PlanFlow(StatesGroup):
    step = State()  # data: n, the step being written


class SafetyTally:
    """How many safety screens were shown and answered, never to whom: logged once a day."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def add(self, event: str) -> None:
        self.counts[event] += 1

    def flush(self) -> None:
        if self.counts:
            log.info(
                "safety screens today: %s",
                ", ".join(f"{name} {count}" for name, count in sorted(self.counts.items())),
            )
            self.counts.clear()


# -- the first reply ---------------------------------------------------------------------------


async def go_back_button(session: AsyncSession, user: User | None) -> InlineKeyboardButton | None:
    """The way back into an unfinished questionnaire the teacher was just answering."""
    if user is None:
        return None
    draft = await selfcheck_repo.latest_draft(session, user.id, utcnow() - RECENT_DRAFT)
    if draft is None:
        return None
    return button(_("selfcheck-safety-continue"), cb.SelfCheck(action="go", inst=draft.instrument))


class HelpFirstMiddleware(BaseMiddleware):
    """Before any handler: the safety screen (or the worry-for-someone screen) as the first reply
    to a teacher's message with a crisis signal. `safety_signal` goes on to the handlers."""

    def __init__(self, tally: SafetyTally) -> None:
        self.tally = tally

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if isinstance(event, Message):
            await self.screen_first(event, data)
        return await handler(event, data)

    async def screen_first(self, message: Message, data: dict[str, Any]) -> None:
        text = message.text or message.caption
        writing_plan = data.get("raw_state") == PlanFlow.step.state  # their plan speaks of crisis by design
        if not text or text.startswith("/") or data.get("role") != "teacher" or writing_plan:
            return
        signal = data["safety_signal"] = safety.classify(text)
        if signal is not None and signal.kind is not Kind.DISTRESS:
            await self.first_reply(message, data, signal)

    async def first_reply(self, message: Message, data: dict[str, Any], signal: Signal) -> None:
        settings: Settings = data["settings"]
        if signal.kind is Kind.CRISIS:
            self.tally.add("safety screen (message)")
            text, markup = screens.alarm(settings, await go_back_button(data["session"], data.get("user")))
        else:
            self.tally.add("concern screen")
            text, markup = screens.concern(signal.about is safety.About.STUDENT, settings)
        await message.answer(text, reply_markup=markup)
        if signal.kind is Kind.CRISIS:
            await count_event(data["session"], data.get("user"), "crisis", settings)


# -- urgent help and the answers (before consent too) ------------------------------------------


async def count_event(session: AsyncSession, user: User | None, event: str, settings: Settings) -> None:
    """The month's sealed tally of this safety event in the teacher's region (no row names them),
    after the screen and counted when the update commits (storage/repo/tallies.py): a safety screen
    never waits for the tally's lock, which another teacher's update may hold."""
    await tallies.safety_event(session, user.region if user else None, event, utcnow(), settings.tz)


async def urgent_command(
    message: Message, session: AsyncSession, user: User | None, settings: Settings
) -> None:
    await show(message, *screens.urgent(settings))
    await count_event(session, user, "button", settings)


async def urgent_button(
    query: CallbackQuery, session: AsyncSession, user: User | None, settings: Settings
) -> None:
    await show(query, *screens.urgent(settings))
    await count_event(session, user, "button", settings)


async def safety_answer(
    query: CallbackQuery, callback_data: Safe, settings: Settings, safety_tally: SafetyTally
) -> None:
    safety_tally.add(f"answer {callback_data.a.name.lower()}")
    await show(query, *screens.answered(callback_data.a, settings))


async def concern_screen(query: CallbackQuery, settings: Settings) -> None:
    await show(query, *screens.concern(True, settings))


def create_router() -> Router:
    """Registered before the consent gate: urgent help and the safety answers need no account."""
    router = Router(name="urgent")
    router.message.register(urgent_command, Command("sos"))
    router.callback_query.register(urgent_button, cb.Menu.filter(F.item == cb.Section.SOS))
    router.callback_query.register(
        safety_answer, Safe.filter(F.a.in_({SafeAction.SAFE, SafeAction.UNSURE, SafeAction.DANGER}))
    )
    router.callback_query.register(concern_screen, Safe.filter(F.a == SafeAction.CONCERN))
    return router


# -- the safety plan ---------------------------------------------------------------------------


async def show_plan(
    event: CallbackQuery | Message, session: AsyncSession, user: User, state: FSMContext
) -> None:
    await state.clear()
    await show(event, *screens.plan(await repo.plan(session, user.id)))


async def ask_step(query: CallbackQuery, callback_data: Safe, state: FSMContext) -> None:
    number = callback_data.n
    if not 1 <= number <= PLAN_STEPS:
        return
    await state.set_state(PlanFlow.step)
    await state.update_data(n=number)
    text = _("plan-ask").format(
        n=number, title=_(f"plan-step-{number}"), hint=_(f"plan-hint-{number}"), limit=STEP_LIMIT
    )
    await show(query, text, with_nav(KeyboardBuilder(), Safe(a=SafeAction.PLAN)))


async def save_step(message: Message, session: AsyncSession, user: User, state: FSMContext) -> None:
    text = (message.text or "").strip()
    if await too_long(message, text, STEP_LIMIT, with_nav(KeyboardBuilder(), Safe(a=SafeAction.PLAN))):
        return
    number = (await state.get_data()).get("n", 0)
    if 1 <= number <= PLAN_STEPS:
        await repo.save_step(session, user.id, number, text or None)
    await show_plan(message, session, user, state)


async def step_not_text(message: Message) -> None:
    await message.answer(
        _("plan-text-only"), reply_markup=with_nav(KeyboardBuilder(), Safe(a=SafeAction.PLAN))
    )


async def ask_clear(query: CallbackQuery) -> None:
    builder = KeyboardBuilder()
    builder.button(text=_("plan-clear-yes"), callback_data=Safe(a=SafeAction.CLEARED))
    await show(query, _("plan-clear-confirm"), with_nav(builder, Safe(a=SafeAction.PLAN)))


async def clear_plan(query: CallbackQuery, session: AsyncSession, user: User) -> None:
    await repo.delete_plan(session, user.id)
    builder = KeyboardBuilder()
    builder.button(text=_("safety-plan-button"), callback_data=Safe(a=SafeAction.PLAN))
    await show(query, _("plan-cleared"), with_nav(builder))


# -- a psychologist on duty writes now ---------------------------------------------------------


async def ask_handoff(query: CallbackQuery, session: AsyncSession, user: User, settings: Settings) -> None:
    if await chat_repo.active_for(session, user.id):
        await show(query, _("handoff-in-chat"), with_nav(KeyboardBuilder()))
        return
    if await repo.open_handoff(session, user):
        text = _("handoff-waiting") + "\n\n" + lines.text(settings.support.crisis_lines)
        await show(query, text, with_nav(KeyboardBuilder()))
        return
    builder = KeyboardBuilder()
    builder.button(text=_("handoff-yes"), callback_data=Safe(a=SafeAction.HANDOFF_YES))
    await show(
        query,
        _("handoff-explain").format(privacy=privacy_text("chat")),
        with_nav(builder, cb.Menu(item=cb.Section.SOS)),
    )


def handoff_card(teacher: User, question_id: int) -> tuple[str, InlineKeyboardMarkup]:
    """What the psychologists on duty get: the crisis protocol and a button to take the hand-off."""
    take = KeyboardBuilder()
    take.button(
        text=_("handoff-take").format(code=teacher.pseudonym), callback_data=cb.Handoff(id=question_id)
    )
    return _("handoff-psy").format(code=teacher.pseudonym, protocol=_("crisis-protocol")), with_nav(take)


async def send_handoff(
    query: CallbackQuery,
    session: AsyncSession,
    user: User,
    settings: Settings,
) -> None:
    crisis_lines = lines.text(settings.support.crisis_lines)
    if await repo.open_handoff(session, user) or await chat_repo.active_for(session, user.id):
        await show(query, _("handoff-waiting") + "\n\n" + crisis_lines, with_nav(KeyboardBuilder()))
        return
    on_duty = await repo.on_duty_for(session, user.region, utcnow(), settings.tz)
    if not on_duty:
        builder = KeyboardBuilder()
        builder.row(screens.earliest_button())
        await show(query, _("handoff-none") + "\n\n" + crisis_lines, with_nav(builder))
        return
    # The safety screen's message: a hand-off's is never copied (storage.repo.safety.create_handoff).
    question = await repo.create_handoff(session, user, query.message.message_id if query.message else 0)
    # Notices committed with the hand-off (sent once it is there for "take" to find).
    ids = [p.id for p in on_duty]
    await reminder_repo.schedule_all(session, to_psychologists(question.id, ids, settings.limits.mute_hours))
    await show(query, _("handoff-sent") + "\n\n" + crisis_lines, with_nav(KeyboardBuilder()))
    await count_event(session, user, "handoff", settings)


async def claim_handoff(session: AsyncSession, question_id: int, user: User) -> AnonQuestion | str:
    """The hand-off, once this psychologist took it; otherwise why not (a locale key)."""
    question = await chat_repo.get_question(session, question_id)
    if question is None or not question.handoff:
        return "handoff-gone"
    if question.status == "open" and await chat_repo.psychologist_busy(session, user.id):
        return "ask-live-busy"
    if not await chat_repo.take(session, question.id, user):
        return "handoff-taken-other"
    return question


async def take_handoff(
    query: CallbackQuery,
    callback_data: cb.Handoff,
    bot: Bot,
    session: AsyncSession,
    user: User,
    settings: Settings,
    i18n: I18n,
    callback_answer: CallbackAnswer,
    chat_clock: ChatClock,
) -> None:
    question = await claim_handoff(session, callback_data.id, user)
    if isinstance(question, str):
        callback_answer.text, callback_answer.show_alert = _(question), True
        return
    chat = await answer_handoff(session, question, user, settings.chat, utcnow())
    await users.audit(session, user.pseudonym, "question_taken", "anon_question", question.id)
    await session.commit()
    await show(query, _("crisis-protocol"), None)
    await open_chat(session, bot, i18n, settings, chat.id)
    chat_clock.schedule(chat)  # its close


# -- the check-in tomorrow ---------------------------------------------------------------------


async def checkin_yes(query: CallbackQuery, session: AsyncSession, user: User, settings: Settings) -> None:
    await reminder_repo.schedule_sealed(
        session, CHECKIN, user.id, checkin_time(settings.support.checkin_hours, utcnow())
    )
    await show(query, _("safety-checkin-set"), with_nav(KeyboardBuilder()))


async def checkin_no(query: CallbackQuery, session: AsyncSession, user: User) -> None:
    await reminder_repo.cancel(session, reminder_repo.sealed_key(CHECKIN, user.id))
    await show(query, _("safety-checkin-off"), with_nav(KeyboardBuilder()))


async def render_checkin(session: AsyncSession, reminder: Reminder, user: User, tz: Any) -> Rendered:
    text, markup = screens.checkin()
    return Rendered(text, markup)


def create_consented_router() -> Router:
    """Behind the consent gate: what keeps something for the teacher (a plan, a request, a check-in)."""
    router = Router(name="safety")
    router.callback_query.register(show_plan, Safe.filter(F.a == SafeAction.PLAN))
    router.callback_query.register(ask_step, Safe.filter(F.a == SafeAction.STEP))
    router.message.register(save_step, StateFilter(PlanFlow.step), F.text)
    router.message.register(step_not_text, StateFilter(PlanFlow.step))
    router.callback_query.register(ask_clear, Safe.filter(F.a == SafeAction.CLEAR))
    router.callback_query.register(clear_plan, Safe.filter(F.a == SafeAction.CLEARED))
    router.callback_query.register(ask_handoff, Safe.filter(F.a == SafeAction.HANDOFF))
    router.callback_query.register(send_handoff, Safe.filter(F.a == SafeAction.HANDOFF_YES))
    router.callback_query.register(checkin_yes, Safe.filter(F.a == SafeAction.CHECKIN_YES))
    router.callback_query.register(checkin_no, Safe.filter(F.a == SafeAction.CHECKIN_NO))
    psychologists = staff_only(Router(name="safety-psychologist"), "psychologist")
    psychologists.callback_query.register(take_handoff, cb.Handoff.filter())
    router.include_router(psychologists)
    return router


# -- "delete my data" --------------------------------------------------------------------------


async def erase_user(event: UserErased) -> None:
    """Subscribed to UserErased: the safety plan and a pending check-in go."""
    await repo.delete_plan(event.session, event.user.id)
    await reminder_repo.cancel_sealed_all(event.session, [CHECKIN], event.user.id)
