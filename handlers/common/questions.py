"""An anonymous question to a psychologist, outside bookings.

The teacher sends one message (text, voice, photo, document); the region's psychologists are
told; exactly one takes it (a conditional UPDATE); the bot copies the question to them and
their answer back (copyMessage: no names, no profiles). The teacher may reply for a while,
and the psychologist may offer a live anonymous chat. The bot stores nothing written: a question
row keeps only the id of the teacher's own message, which is copied when taken; the copies stay
in the Telegram chats until deleted there (the teacher is told so).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from aiogram import Bot, F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.methods import CopyMessage
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services import limits
from bot.services import questions as rules
from bot.services.safety import Signal
from bot.telegram import callbacks as cb
from bot.telegram import delivery
from bot.telegram.filters import staff_only
from bot.telegram.i18n import plural
from bot.telegram.keyboards import KeyboardBuilder, urgent_row, with_nav
from bot.telegram.ui import show
from bot.views.booking import privacy_text
from bot.views.chat import delivered, local_time, open_chat, send_to
from bot.workers.chat_clock import ChatClock
from bot.workers.notices import PREFIX, notice, to_psychologists
from bot.workers.reminders import Rendered, Renderer
from handlers.common.chat import NOT_RELAYED
from handlers.common.mutes import period
from handlers.common.safety import handoff_card
from storage.models import AnonQuestion, Reminder, User
from storage.models.base import utcnow
from storage.repo import chat as repo
from storage.repo import reminders, staff, users
from storage.repo import safety as safety_repo

log = logging.getLogger(__name__)

A = cb.AskAction
# Typed or sent content, not commands and not what would reveal a phone number or a place.
CONTENT = ~F.text.startswith("/") & ~F.content_type.in_(NOT_RELAYED)


class AskStates(StatesGroup):
    question = State()  # a teacher writing their question
    reply = State()  # a teacher replying to the answer; data: q
    answer = State()  # a psychologist writing the answer; data: q


def buttons(*rows: tuple[str, cb.Ask | cb.Chat]) -> InlineKeyboardMarkup:
    builder = KeyboardBuilder()
    for label, data in rows:
        builder.button(text=_(label), callback_data=data)
    builder.adjust(1)
    return with_nav(builder)


def queue_button() -> InlineKeyboardMarkup:
    """The psychologist's way into the queue (for the psychologist's cabinet to reuse)."""
    return buttons(("ask-queue", cb.Ask(action=A.QUEUE)))


def take_keyboard(question: AnonQuestion, mute_hours: Sequence[int]) -> InlineKeyboardMarkup:
    builder = KeyboardBuilder()
    builder.button(text=_("ask-take"), callback_data=cb.Ask(action=A.TAKE, id=question.id))
    builder.button(text=_("ask-queue"), callback_data=cb.Ask(action=A.QUEUE))
    if not question.urgent:  # the safety net is never muted
        for hours in mute_hours:
            mute = cb.Mute(a=cb.MuteAction.SET, id=question.id, hours=hours)
            builder.button(text=_("mute-button").format(period=period(hours)), callback_data=mute)
    builder.adjust(1, 1, len(mute_hours))
    return with_nav(builder)


def psychologist_actions(question_id: int) -> InlineKeyboardMarkup:
    return buttons(
        ("ask-answer", cb.Ask(action=A.ANSWER, id=question_id)),
        ("ask-live", cb.Ask(action=A.LIVE, id=question_id)),
    )


def nav_only() -> InlineKeyboardMarkup:
    return with_nav(KeyboardBuilder())


def question_title(question: AnonQuestion, teacher: User) -> str:
    """The notice of a question, with the language the teacher uses the bot in (the psychologist
    who takes it answers in it); an urgent one carries the crisis protocol card."""
    title = _("ask-question-title").format(number=question.id, code=teacher.pseudonym)
    title += "\n" + _("ask-language-" + teacher.language)
    if not question.urgent:
        return title
    return f"{_('ask-urgent-mark')} {title}\n\n{_('crisis-protocol')}"


def reply_title(question: AnonQuestion, teacher: User) -> str:
    mark = _("ask-urgent-mark") if question.urgent else ""
    return _("ask-reply-title").format(number=question.id, code=teacher.pseudonym, mark=mark)


def live_invitation(question: AnonQuestion, settings: Settings) -> tuple[str, InlineKeyboardMarkup]:
    markup = buttons(
        ("ask-live-accept", cb.Chat(action=cb.ChatAction.ACCEPT, id=question.id)),
        ("ask-live-decline", cb.Chat(action=cb.ChatAction.DECLINE, id=question.id)),
    )
    return _("ask-live-invite").format(minutes=settings.chat.live_minutes), markup


async def copy(bot: Bot, to: User, from_chat: int, message_id: int, markup: InlineKeyboardMarkup) -> bool:
    """The bot's copy of a message in the other person's chat, protected from forwarding."""
    method = CopyMessage(
        chat_id=to.telegram_chat_id,
        from_chat_id=from_chat,
        message_id=message_id,
        reply_markup=markup,
        protect_content=True,
    )
    return await delivered(await delivery.deliver(bot, method, user_id=to.id), to) is not None


async def announce(session: AsyncSession, question: AnonQuestion, settings: Settings) -> int:
    """The psychologists who may take a question are told of it (new, or back in the queue) by
    notices written in this transaction; how many. An urgent one reaches the psychologists on duty
    first; everyone who may take it when nobody is."""
    if await session.get(User, question.teacher_id) is None:  # erased meanwhile: it went with them
        return 0
    on_duty = (
        await safety_repo.on_duty_for(session, question.region, utcnow(), settings.tz)
        if question.urgent
        else []
    )
    psychologists = on_duty or await repo.psychologists_for(session, question.region)
    ids = [p.id for p in psychologists]
    await reminders.schedule_all(session, to_psychologists(question.id, ids, settings.limits.mute_hours))
    return len(psychologists)


# --- notices, rendered when sent in the recipient's language (bot/workers/notices.py) ---------------------


async def render_question(
    session: AsyncSession, reminder: Reminder, user: User, tz: ZoneInfo
) -> Rendered | None:
    """A question (or a crisis hand-off) to take, while it is still in the queue."""
    found = await with_teacher(session, reminder.params["question"])
    if found is None or found[0].status != "open":
        return None
    question, teacher = found
    if question.handoff:
        return Rendered(*handoff_card(teacher, question.id))
    return Rendered(question_title(question, teacher), take_keyboard(question, reminder.params["mute"]))


async def render_taken(
    session: AsyncSession, reminder: Reminder, user: User, tz: ZoneInfo
) -> Rendered | None:
    question = await repo.get_question(session, reminder.params["question"])
    if question is None or question.status == "open":  # put back in the queue meanwhile
        return None
    return Rendered(_("ask-taken-teacher"), nav_only())


async def render_answer_title(
    session: AsyncSession, reminder: Reminder, user: User, tz: ZoneInfo
) -> Rendered | None:
    if await repo.get_question(session, reminder.params["question"]) is None:
        return None
    return Rendered(_("ask-answer-title"))


async def render_answer(
    session: AsyncSession, reminder: Reminder, user: User, tz: ZoneInfo
) -> Rendered | None:
    """The bot's copy of the psychologist's answer, protected, with the way to reply."""
    question = await repo.get_question(session, reminder.params["question"])
    psychologist = await session.get(User, question.psychologist_id) if question else None
    if question is None or psychologist is None:
        return None
    markup = buttons(("ask-reply", cb.Ask(action=A.REPLY, id=question.id)))
    copied = (psychologist.telegram_chat_id, reminder.params["message"])
    return Rendered("", markup, protect_content=True, copy=copied)


RENDERERS: dict[str, Renderer] = {
    PREFIX + "ask": render_question,
    PREFIX + "ask-taken": render_taken,
    PREFIX + "ask-answer-title": render_answer_title,
    PREFIX + "ask-answer": render_answer,
}


def alert(callback_answer: CallbackAnswer, key: str) -> None:
    callback_answer.text, callback_answer.show_alert = _(key), True


async def with_teacher(session: AsyncSession, question_id: int) -> tuple[AnonQuestion, User] | None:
    question = await repo.get_question(session, question_id)
    teacher = await session.get(User, question.teacher_id) if question is not None else None
    return (question, teacher) if question is not None and teacher is not None else None


async def answered_by(
    session: AsyncSession, question_id: int, psychologist: User
) -> tuple[AnonQuestion, User] | None:
    """A question this psychologist took, and the teacher who asked it."""
    found = await with_teacher(session, question_id)
    return found if found is not None and found[0].psychologist_id == psychologist.id else None


async def writable(
    session: AsyncSession,
    question_id: int,
    teacher: User,
    event: Message | CallbackQuery,
    callback_answer: CallbackAnswer | None = None,
) -> tuple[AnonQuestion, User] | None:
    """The question and whoever answered it while the teacher may still write to them; otherwise the
    teacher is told why: the reply time is over, or that psychologist was deactivated and nothing
    may reach them any more."""
    question = await repo.get_question(session, question_id)
    if (
        question is None
        or question.psychologist_id is None
        or not rules.can_reply(question, teacher, utcnow())
    ):
        key = "ask-reply-closed"
    else:
        psychologist = await session.get(User, question.psychologist_id)
        if psychologist is not None and not staff.deactivated(psychologist):
            return question, psychologist
        key = "ask-reply-psy-gone"
    if callback_answer is not None:
        callback_answer.text = _(key)
    await show(event, _(key), nav_only())
    return None


# --- the teacher ---------------------------------------------------------------------------------------


async def ask_intro(query: CallbackQuery, user: User, state: FSMContext) -> None:
    await state.set_state(AskStates.question)
    builder = KeyboardBuilder()
    builder.row(*urgent_row())
    # A question travels as the chat's messages do: copies, so the same promise.
    text = _("ask-intro").format(code=user.pseudonym, privacy=privacy_text("chat"))
    await show(query, text, with_nav(builder))


async def receive_question(
    message: Message,
    session: AsyncSession,
    user: User,
    state: FSMContext,
    settings: Settings,
    safety_signal: Signal | None = None,
) -> None:
    urgent = rules.is_urgent(safety_signal)
    await state.clear()
    if not await limits.question_allowed(session, user, urgent, settings.limits, utcnow()):
        await refuse_question(message, settings)
        return
    question = await repo.ask(session, user, message.message_id, urgent)
    if await limits.announced(session, user, urgent, utcnow()):
        await announce(session, question, settings)  # its notices, committed with the question
    # The same line for every question: nothing in the log says which one was urgent or who asked.
    log.info("question %s asked", question.id)
    # A crisis message already got the safety screen first (HelpFirstMiddleware).
    await message.answer(_("ask-sent"), reply_markup=nav_only())


async def refuse_question(message: Message, settings: Settings) -> None:
    """Past the day's questions: what the teacher can do instead, Urgent help one tap away."""
    builder = KeyboardBuilder()
    builder.button(text=_("menu-book"), callback_data=cb.Menu(item=cb.Section.BOOK))
    builder.row(*urgent_row())
    limit = settings.limits.questions_per_day
    await message.answer(plural("limit-questions", limit).format(count=limit), reply_markup=with_nav(builder))


async def reply_prompt(
    query: CallbackQuery,
    callback_data: cb.Ask,
    session: AsyncSession,
    user: User,
    state: FSMContext,
    callback_answer: CallbackAnswer,
) -> None:
    if await writable(session, callback_data.id, user, query, callback_answer) is None:
        return
    await state.set_state(AskStates.reply)
    await state.update_data(q=callback_data.id)
    await show(query, _("ask-reply-prompt"), nav_only())


async def receive_reply(
    message: Message,
    bot: Bot,
    session: AsyncSession,
    user: User,
    state: FSMContext,
    i18n: I18n,
    safety_signal: Signal | None = None,
) -> None:
    question_id = (await state.get_data()).get("q", 0)
    await state.clear()
    found = await writable(session, question_id, user, message)
    if found is None:
        return
    question, psychologist = found
    if rules.is_urgent(safety_signal):
        question.urgent = True
    await session.commit()
    await send_to(bot, i18n, psychologist, lambda: (reply_title(question, user), None))
    with i18n.use_locale(psychologist.language):
        markup = psychologist_actions(question.id)
    sent = await copy(bot, psychologist, message.chat.id, message.message_id, markup)
    await message.answer(_("ask-reply-sent" if sent else "ask-not-delivered"), reply_markup=nav_only())


async def decline_live(
    query: CallbackQuery,
    callback_data: cb.Chat,
    session: AsyncSession,
    user: User,
    bot: Bot,
    i18n: I18n,
    callback_answer: CallbackAnswer,
) -> None:
    found = await writable(session, callback_data.id, user, query, callback_answer)
    if found is None:
        return
    question, psychologist = found
    await send_to(bot, i18n, psychologist, lambda: (_("ask-live-declined").format(number=question.id), None))
    await show(query, _("ask-live-declined-teacher"), nav_only())


async def accept_live(
    query: CallbackQuery,
    callback_data: cb.Chat,
    session: AsyncSession,
    user: User,
    bot: Bot,
    i18n: I18n,
    settings: Settings,
    callback_answer: CallbackAnswer,
    chat_clock: ChatClock,
) -> None:
    found = await writable(session, callback_data.id, user, query, callback_answer)
    if found is None:
        return
    question, psychologist = found
    if await repo.active_for(session, user.id) or await repo.psychologist_busy(session, psychologist.id):
        alert(callback_answer, "ask-live-busy")
        return
    chat = await rules.live_chat(session, question, psychologist, settings.chat, utcnow())
    await session.commit()
    await show(query, _("ask-live-accepted"), None)
    await open_chat(session, bot, i18n, settings, chat.id)
    chat_clock.schedule(chat)  # its close


# --- the psychologist ----------------------------------------------------------------------------------


async def queue(
    event: Message | CallbackQuery, session: AsyncSession, user: User, settings: Settings
) -> None:
    builder = KeyboardBuilder()
    questions = await repo.open_questions(session, user.region)
    for question in questions:
        mark = _("ask-urgent-mark") + " " if question.urgent else ""
        label = _("ask-queue-item").format(
            mark=mark, number=question.id, time=local_time(question.created_at, settings)
        )
        builder.button(text=label, callback_data=cb.Ask(action=A.TAKE, id=question.id))
    builder.adjust(1)
    text = _("ask-queue-title") if questions else _("ask-queue-empty")
    await show(event, text, with_nav(builder))


async def refuse_take(
    query: CallbackQuery,
    question_id: int,
    session: AsyncSession,
    user: User,
    settings: Settings,
    callback_answer: CallbackAnswer,
) -> None:
    """Taken first by a colleague, or not one this psychologist may see (a forged press): nothing is
    copied, the queue is shown again."""
    question = await repo.get_question(session, question_id)
    taken = question is not None and question.status != "open"
    alert(callback_answer, "ask-taken-by-other" if taken else "ask-not-available")
    await queue(query, session, user, settings)


async def take(
    query: CallbackQuery,
    callback_data: cb.Ask,
    session: AsyncSession,
    user: User,
    bot: Bot,
    i18n: I18n,
    state: FSMContext,
    settings: Settings,
    callback_answer: CallbackAnswer,
) -> None:
    if not await repo.take(session, callback_data.id, user):
        await refuse_take(query, callback_data.id, session, user, settings, callback_answer)
        return
    found = await with_teacher(session, callback_data.id)
    if found is None:
        await show(query, _("ask-question-gone"), nav_only())
        return
    question, teacher = found
    await users.audit(session, user.pseudonym, "question_taken", "anon_question", question.id)
    await reminders.schedule_all(
        session, [notice("ask-taken", question.id, teacher.id, {"question": question.id})]
    )
    await session.commit()  # the win and the teacher's notice are published before the copy
    await show(query, question_title(question, teacher) + "\n\n" + _("ask-write-answer"), None)
    markup = psychologist_actions(question.id)
    if not await copy(bot, user, teacher.telegram_chat_id, question.message_id, markup):
        await bot.send_message(query.from_user.id, _("ask-question-gone"), reply_markup=nav_only())
        return
    await state.set_state(AskStates.answer)
    await state.update_data(q=question.id)


async def answer_prompt(
    query: CallbackQuery,
    callback_data: cb.Ask,
    session: AsyncSession,
    user: User,
    bot: Bot,
    state: FSMContext,
) -> None:
    question = await repo.get_question(session, callback_data.id)
    if question is None or question.psychologist_id != user.id:
        await show(query, _("ask-question-gone"), nav_only())
        return
    await state.set_state(AskStates.answer)
    await state.update_data(q=question.id)
    await bot.send_message(query.from_user.id, _("ask-write-answer"), reply_markup=nav_only())


async def receive_answer(
    message: Message,
    session: AsyncSession,
    user: User,
    state: FSMContext,
    settings: Settings,
) -> None:
    found = await answered_by(session, (await state.get_data()).get("q", 0), user)
    await state.clear()
    if found is None:
        await message.answer(_("ask-question-gone"), reply_markup=nav_only())
        return
    question, teacher = found
    await rules.answered(session, question, settings.chat, utcnow())
    # The title, then the copy of the answer: notices of this transaction, in this order.
    params = {"question": question.id, "message": message.message_id}
    ident = f"{question.id}:{message.message_id}"
    answer = [
        notice("ask-answer-title", ident, teacher.id, params),
        notice("ask-answer", ident, teacher.id, params, after=1),
    ]
    await reminders.schedule_all(session, answer)
    await message.answer(
        _("ask-answer-sent" if teacher.active else "ask-not-delivered"),
        reply_markup=buttons(("ask-live", cb.Ask(action=A.LIVE, id=question.id))),
    )


async def offer_live(
    query: CallbackQuery,
    callback_data: cb.Ask,
    session: AsyncSession,
    user: User,
    bot: Bot,
    i18n: I18n,
    settings: Settings,
    callback_answer: CallbackAnswer,
) -> None:
    found = await answered_by(session, callback_data.id, user)
    if found is None or found[0].status != "answered":
        alert(callback_answer, "ask-live-not-yet")
        return
    if await repo.psychologist_busy(session, user.id):
        alert(callback_answer, "ask-live-busy")
        return
    question, teacher = found
    sent = await send_to(bot, i18n, teacher, lambda: live_invitation(question, settings))
    await show(query, _("ask-live-offered" if sent else "ask-not-delivered"), nav_only())


def create_router() -> Router:
    router = Router(name="questions")
    router.callback_query.register(ask_intro, cb.Menu.filter(F.item == cb.Section.ASK))
    router.message.register(receive_question, StateFilter(AskStates.question), CONTENT)
    router.callback_query.register(reply_prompt, cb.Ask.filter(F.action == A.REPLY))
    router.message.register(receive_reply, StateFilter(AskStates.reply), CONTENT)
    router.callback_query.register(accept_live, cb.Chat.filter(F.action == cb.ChatAction.ACCEPT))
    router.callback_query.register(decline_live, cb.Chat.filter(F.action == cb.ChatAction.DECLINE))
    psychologists = staff_only(Router(name="questions-psychologist"), "psychologist")
    psychologists.message.register(queue, Command("questions"))
    press = psychologists.callback_query.register
    press(queue, cb.Ask.filter(F.action == A.QUEUE))
    press(take, cb.Ask.filter(F.action == A.TAKE))
    press(answer_prompt, cb.Ask.filter(F.action == A.ANSWER))
    psychologists.message.register(receive_answer, StateFilter(AskStates.answer), CONTENT)
    press(offer_live, cb.Ask.filter(F.action == A.LIVE))
    router.include_router(psychologists)
    return router
