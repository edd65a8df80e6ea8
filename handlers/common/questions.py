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
from datetime import timedelta

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
from bot.services.safety import Kind, Signal
from bot.telegram import callbacks as cb
from bot.telegram import delivery
from bot.telegram.filters import staff_only
from bot.telegram.keyboards import KeyboardBuilder, urgent_row, with_nav
from bot.telegram.ui import show
from bot.views.booking import privacy_text
from bot.views.chat import delivered, local_time, open_chat, send_to
from bot.workers.chat_clock import ChatClock
from handlers.common.chat import NOT_RELAYED
from storage.models import AnonQuestion, User
from storage.models.base import utcnow
from storage.repo import chat as repo
from storage.repo import safety as safety_repo
from storage.repo import staff, users

log = logging.getLogger(__name__)

# Typed or sent content, not commands and not what would reveal a phone number or a place.
CONTENT = ~F.text.startswith("/") & ~F.content_type.in_(NOT_RELAYED)


class AskStates(StatesGroup):
    question = State()  # a teacher writing their question
    reply = State()  # a teacher replying to the answer; data: q
    answer = State()  # a psychologist writing the answer; data: q


def queue_button() -> InlineKeyboardMarkup:
    """The psychologist's way into the queue (for the psychologist's cabinet to reuse)."""
    builder = KeyboardBuilder()
    builder.button(text=_("ask-queue"), callback_data=cb.Ask(action="queue"))
    return with_nav(builder)


def take_keyboard(question: AnonQuestion) -> InlineKeyboardMarkup:
    builder = KeyboardBuilder()
    builder.button(text=_("ask-take"), callback_data=cb.Ask(action="take", id=question.id))
    builder.button(text=_("ask-queue"), callback_data=cb.Ask(action="queue"))
    builder.adjust(1)
    return with_nav(builder)


def is_urgent(signal: Signal | None) -> bool:
    """A crisis, or a worry for a student or someone else: psychologists see it first."""
    return signal is not None and signal.kind is not Kind.DISTRESS


def question_title(question: AnonQuestion, teacher: User) -> str:
    """The notice of a question; an urgent one carries the crisis protocol card."""
    title = _("ask-question-title").format(number=question.id, code=teacher.pseudonym)
    if not question.urgent:
        return title
    return f"{_('ask-urgent-mark')} {title}\n\n{_('crisis-protocol')}"


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


async def announce(
    session: AsyncSession, bot: Bot, i18n: I18n, question: AnonQuestion, settings: Settings
) -> int:
    """The psychologists who may take a question are told of it (new, or back in the queue); how many.
    An urgent one reaches the psychologists on duty first; everyone who may take it when nobody is."""
    teacher = await session.get(User, question.teacher_id)
    on_duty = (
        await safety_repo.on_duty_for(session, question.region, utcnow(), settings.tz)
        if question.urgent
        else []
    )
    psychologists = on_duty or await repo.psychologists_for(session, question.region)
    for psychologist in psychologists:
        await send_to(
            bot, i18n, psychologist, lambda: (question_title(question, teacher), take_keyboard(question))
        )
    return len(psychologists)


def _one(action: str, question_id: int, label: str) -> InlineKeyboardMarkup:
    builder = KeyboardBuilder()
    builder.button(text=_(label), callback_data=cb.Ask(action=action, id=question_id))
    builder.adjust(1)
    return with_nav(builder)


def _teacher_router() -> Router:
    router = Router(name="questions-teacher")

    @router.callback_query(cb.Menu.filter(F.item == "ask"))
    async def ask_intro(query: CallbackQuery, user: User, state: FSMContext) -> None:
        await state.set_state(AskStates.question)
        builder = KeyboardBuilder()
        builder.row(*urgent_row())
        # A question travels as the chat's messages do: copies, so the same promise.
        await show(
            query, _("ask-intro").format(code=user.pseudonym, privacy=privacy_text("chat")), with_nav(builder)
        )

    @router.message(StateFilter(AskStates.question), CONTENT)
    async def receive_question(
        message: Message,
        bot: Bot,
        session: AsyncSession,
        user: User,
        state: FSMContext,
        i18n: I18n,
        settings: Settings,
        safety_signal: Signal | None = None,
    ) -> None:
        urgent = is_urgent(safety_signal)
        question = await repo.ask(session, user, message.message_id, urgent)
        await state.clear()
        await session.commit()  # published before psychologists are told, so "take" finds it
        await announce(session, bot, i18n, question, settings)
        # The same line for every question: nothing in the log says which one was urgent or who asked.
        log.info("question %s asked", question.id)
        # A crisis message already got the safety screen first (HelpFirstMiddleware).
        await message.answer(_("ask-sent"), reply_markup=with_nav(KeyboardBuilder()))

    @router.callback_query(cb.Ask.filter(F.action == "reply"))
    async def reply_prompt(
        query: CallbackQuery,
        callback_data: cb.Ask,
        session: AsyncSession,
        user: User,
        state: FSMContext,
        callback_answer: CallbackAnswer,
    ) -> None:
        question = await repo.get_question(session, callback_data.id)
        if await _closed(session, question, user, query, callback_answer):
            return
        await state.set_state(AskStates.reply)
        await state.update_data(q=question.id)
        await show(query, _("ask-reply-prompt"), with_nav(KeyboardBuilder()))

    @router.message(StateFilter(AskStates.reply), CONTENT)
    async def receive_reply(
        message: Message,
        bot: Bot,
        session: AsyncSession,
        user: User,
        state: FSMContext,
        i18n: I18n,
        safety_signal: Signal | None = None,
    ) -> None:
        question = await repo.get_question(session, (await state.get_data()).get("q", 0))
        await state.clear()
        if await _closed(session, question, user, message):
            return
        if is_urgent(safety_signal):
            question.urgent = True
        psychologist = await session.get(User, question.psychologist_id)
        await session.commit()
        await send_to(
            bot,
            i18n,
            psychologist,
            lambda: (
                _("ask-reply-title").format(
                    number=question.id,
                    code=user.pseudonym,
                    mark=_("ask-urgent-mark") if question.urgent else "",
                ),
                None,
            ),
        )
        with i18n.use_locale(psychologist.language):
            markup = _psychologist_actions(question.id)
        delivered = await copy(bot, psychologist, message.chat.id, message.message_id, markup)
        await message.answer(
            _("ask-reply-sent" if delivered else "ask-not-delivered"),
            reply_markup=with_nav(KeyboardBuilder()),
        )

    @router.callback_query(cb.Chat.filter(F.action.in_({"accept", "decline"})))
    async def live_answer(
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
        question = await repo.get_question(session, callback_data.id)
        if await _closed(session, question, user, query, callback_answer):
            return
        psychologist = await session.get(User, question.psychologist_id)
        if callback_data.action == "decline":
            await send_to(
                bot, i18n, psychologist, lambda: (_("ask-live-declined").format(number=question.id), None)
            )
            await show(query, _("ask-live-declined-teacher"), with_nav(KeyboardBuilder()))
            return
        if await repo.active_for(session, user.id) or await repo.psychologist_busy(session, psychologist.id):
            callback_answer.text, callback_answer.show_alert = _("ask-live-busy"), True
            return
        now = utcnow()
        chat = await repo.create_session(
            session,
            user.id,
            psychologist.id,
            now,
            now + timedelta(minutes=settings.chat.live_minutes),
            question_id=question.id,
        )
        await session.commit()
        await show(query, _("ask-live-accepted"), None)
        await open_chat(session, bot, i18n, settings, chat.id)
        chat_clock.schedule(chat)  # its close

    return router


def _can_reply(question: AnonQuestion | None, user: User) -> bool:
    return (
        question is not None
        and question.teacher_id == user.id
        and question.status == "answered"
        and question.psychologist_id is not None
        and question.reply_until is not None
        and question.reply_until > utcnow()
    )


async def _closed(
    session: AsyncSession,
    question: AnonQuestion | None,
    user: User,
    event: Message | CallbackQuery,
    callback_answer: CallbackAnswer | None = None,
) -> bool:
    """Whether the teacher can no longer write to whoever answered (told why if so): the reply
    time is over, or that psychologist was deactivated and nothing may reach them any more."""
    if not _can_reply(question, user):
        key = "ask-reply-closed"
    elif staff.deactivated(await session.get(User, question.psychologist_id)):
        key = "ask-reply-psy-gone"
    else:
        return False
    if callback_answer is not None:
        callback_answer.text = _(key)
    await show(event, _(key), with_nav(KeyboardBuilder()))
    return True


def _psychologist_actions(question_id: int) -> InlineKeyboardMarkup:
    builder = KeyboardBuilder()
    builder.button(text=_("ask-answer"), callback_data=cb.Ask(action="answer", id=question_id))
    builder.button(text=_("ask-live"), callback_data=cb.Ask(action="live", id=question_id))
    builder.adjust(1)
    return with_nav(builder)


def _psychologist_router() -> Router:
    router = staff_only(Router(name="questions-psychologist"), "psychologist")

    @router.message(Command("questions"))
    @router.callback_query(cb.Ask.filter(F.action == "queue"))
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
            builder.button(text=label, callback_data=cb.Ask(action="take", id=question.id))
        builder.adjust(1)
        text = _("ask-queue-title") if questions else _("ask-queue-empty")
        await show(event, text, with_nav(builder))

    @router.callback_query(cb.Ask.filter(F.action == "take"))
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
            # Taken first by a colleague, or not one this psychologist may see (a forged press): nothing is copied.
            question = await repo.get_question(session, callback_data.id)
            taken = question is not None and question.status != "open"
            callback_answer.text, callback_answer.show_alert = (
                _("ask-taken-by-other" if taken else "ask-not-available"),
                True,
            )
            return await queue(query, session, user, settings)
        await session.commit()  # the win is published before anyone is told
        question = await repo.get_question(session, callback_data.id)
        teacher = await session.get(User, question.teacher_id)
        await users.audit(session, user.pseudonym, "question_taken", "anon_question", question.id)
        await show(query, question_title(question, teacher) + "\n\n" + _("ask-write-answer"), None)
        if not await copy(
            bot, user, teacher.telegram_chat_id, question.message_id, _psychologist_actions(question.id)
        ):
            await query.message.answer(_("ask-question-gone"), reply_markup=with_nav(KeyboardBuilder()))
            return
        await state.set_state(AskStates.answer)
        await state.update_data(q=question.id)
        await send_to(bot, i18n, teacher, lambda: (_("ask-taken-teacher"), with_nav(KeyboardBuilder())))

    @router.callback_query(cb.Ask.filter(F.action == "answer"))
    async def answer_prompt(
        query: CallbackQuery,
        callback_data: cb.Ask,
        session: AsyncSession,
        user: User,
        state: FSMContext,
    ) -> None:
        question = await repo.get_question(session, callback_data.id)
        if question is None or question.psychologist_id != user.id:
            return await show(query, _("ask-question-gone"), with_nav(KeyboardBuilder()))
        await state.set_state(AskStates.answer)
        await state.update_data(q=question.id)
        await query.message.answer(_("ask-write-answer"), reply_markup=with_nav(KeyboardBuilder()))

    @router.message(StateFilter(AskStates.answer), CONTENT)
    async def receive_answer(
        message: Message,
        bot: Bot,
        session: AsyncSession,
        user: User,
        state: FSMContext,
        i18n: I18n,
        settings: Settings,
    ) -> None:
        question = await repo.get_question(session, (await state.get_data()).get("q", 0))
        await state.clear()
        teacher = await session.get(User, question.teacher_id) if question else None
        if question is None or question.psychologist_id != user.id or teacher is None:
            await message.answer(_("ask-question-gone"), reply_markup=with_nav(KeyboardBuilder()))
            return
        await repo.mark_answered(session, question, utcnow() + timedelta(hours=settings.chat.reply_hours))
        await session.commit()
        await send_to(bot, i18n, teacher, lambda: (_("ask-answer-title"), None))
        with i18n.use_locale(teacher.language):
            builder = KeyboardBuilder()
            builder.button(text=_("ask-reply"), callback_data=cb.Ask(action="reply", id=question.id))
            markup = with_nav(builder)
        delivered = teacher.active and await copy(bot, teacher, message.chat.id, message.message_id, markup)
        await message.answer(
            _("ask-answer-sent" if delivered else "ask-not-delivered"),
            reply_markup=_one("live", question.id, "ask-live"),
        )

    @router.callback_query(cb.Ask.filter(F.action == "live"))
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
        question = await repo.get_question(session, callback_data.id)
        teacher = await session.get(User, question.teacher_id) if question else None
        if teacher is None or question.psychologist_id != user.id or question.status != "answered":
            callback_answer.text, callback_answer.show_alert = _("ask-live-not-yet"), True
            return
        if await repo.psychologist_busy(session, user.id):
            callback_answer.text, callback_answer.show_alert = _("ask-live-busy"), True
            return

        def invitation() -> tuple[str, InlineKeyboardMarkup]:
            builder = KeyboardBuilder()
            builder.button(text=_("ask-live-accept"), callback_data=cb.Chat(action="accept", id=question.id))
            builder.button(
                text=_("ask-live-decline"), callback_data=cb.Chat(action="decline", id=question.id)
            )
            builder.adjust(1)
            return _("ask-live-invite").format(minutes=settings.chat.live_minutes), with_nav(builder)

        sent = await send_to(bot, i18n, teacher, invitation)
        await show(query, _("ask-live-offered" if sent else "ask-not-delivered"), with_nav(KeyboardBuilder()))

    return router


def create_router() -> Router:
    router = Router(name="questions")
    router.include_router(_teacher_router())
    router.include_router(_psychologist_router())
    return router
