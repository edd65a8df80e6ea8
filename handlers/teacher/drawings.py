"""Art therapy around the drawing: an exercise's printable template (a mandala's rings, PDF), and a
journal drawing shown to the psychologist of one upcoming consultation, only with the teacher's
consent: pick the consultation, read what the psychologist will see, then send. The bot never
interprets a drawing, and both sides are told so.

Nothing is stored about the sending: a journal drawing belongs to no user id (storage.models.relax)
and a record linking it to a booking would link it to the teacher. A consent is a one-time token in
the sealed conversation state: a second press on Send finds none and sends nothing.
"""

from __future__ import annotations

import asyncio
import html
import logging

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.fsm.context import FSMContext
from aiogram.types import BufferedInputFile, CallbackQuery
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.content.exercises import catalogue
from bot.telegram import callbacks as cb
from bot.telegram.keyboards import KeyboardBuilder, button, with_nav
from bot.telegram.ui import show
from bot.views.templates import mandala_pdf
from handlers.teacher.selfcheck import booking_label, shareable
from storage.models import Booking, User
from storage.repo import booking as bookings
from storage.repo import relax as repo
from storage.repo.staff import deactivated

log = logging.getLogger(__name__)
Action = cb.DrawingAction
CONSENT = "drawing_consent"  # the FSM data key of the one-time token
JOURNAL = cb.Relax(action=cb.RelaxAction.JOURNAL)


async def pick(
    query: CallbackQuery,
    callback_data: cb.Drawing,
    session: AsyncSession,
    user: User,
    bot: Bot,
    settings: Settings,
) -> None:
    """Under the drawing's photo: which consultation's psychologist (a new message, the photo stays)."""
    builder = KeyboardBuilder()
    upcoming = await shareable(session, user)
    for booking in upcoming:
        builder.row(
            button(
                booking_label(booking, settings), cb.Drawing(a=Action.ASK, e=callback_data.e, b=booking.id)
            )
        )
    text = _("drawing-pick") if upcoming else _("drawing-none")
    await bot.send_message(query.from_user.id, text, reply_markup=with_nav(builder, JOURNAL))


async def ask(
    query: CallbackQuery,
    callback_data: cb.Drawing,
    session: AsyncSession,
    user: User,
    settings: Settings,
    state: FSMContext,
) -> None:
    booking = await usable(session, user, callback_data.b)
    if booking is None:
        await show(query, _("drawing-none"), with_nav(KeyboardBuilder(), JOURNAL))
        return
    await state.update_data({CONSENT: f"{callback_data.e}:{booking.id}"})
    builder = KeyboardBuilder()
    builder.button(
        text=_("drawing-send"), callback_data=cb.Drawing(a=Action.SEND, e=callback_data.e, b=booking.id)
    )
    text = _("drawing-consent").format(
        name=html.escape(booking.slot.psychologist.display_name),
        when=booking_label(booking, settings),
        code=user.pseudonym,
    )
    await show(query, text, with_nav(builder, cb.Drawing(a=Action.PICK, e=callback_data.e)))


async def usable(session: AsyncSession, user: User, booking_id: int) -> Booking | None:
    """The teacher's own booking, still to come, with a psychologist still active."""
    booking = await bookings.teacher_booking(session, user.id, booking_id)
    if booking is None or not booking.upcoming or deactivated(booking.slot.psychologist.user):
        return None
    return booking


async def send(
    query: CallbackQuery,
    callback_data: cb.Drawing,
    session: AsyncSession,
    user: User,
    settings: Settings,
    state: FSMContext,
    bot: Bot,
    i18n: I18n,
) -> None:
    data = await state.get_data()
    consented = data.pop(CONSENT, None) == f"{callback_data.e}:{callback_data.b}"
    await state.set_data(data)  # the token is spent whatever happens next
    entry = await repo.journal_entry(session, user.id, callback_data.e)
    booking = await usable(session, user, callback_data.b)
    back = with_nav(KeyboardBuilder(), JOURNAL)
    if not consented or entry is None or entry.kind != "photo" or booking is None:
        await show(query, _("drawing-not-sent"), back)
        return
    staff = booking.slot.psychologist.user
    with i18n.use_locale(staff.language):
        caption = _("drawing-for-psy").format(code=user.pseudonym, when=booking_label(booking, settings))
    try:
        await bot.send_photo(staff.telegram_chat_id, entry.content, caption=caption)
    except TelegramAPIError as error:
        log.warning("a drawing could not reach a psychologist (%s)", type(error).__name__)
        await show(query, _("drawing-failed"), back)
        return
    await show(
        query, _("drawing-sent").format(name=html.escape(booking.slot.psychologist.display_name)), back
    )


async def send_template(query: CallbackQuery, callback_data: cb.Relax, bot: Bot, i18n: I18n) -> None:
    exercise = catalogue().get(callback_data.value)
    if exercise is None or not exercise.template:
        return
    title = exercise.title[i18n.current_locale]
    pdf = await asyncio.to_thread(mandala_pdf, title, _("template-hint"))
    await bot.send_document(
        query.from_user.id,
        BufferedInputFile(pdf, filename=f"demeu-{exercise.id}.pdf"),
        caption=_("template-caption"),
        protect_content=False,  # a blank page, made to be printed
    )


def create_router() -> Router:
    router = Router(name="drawings")
    press = router.callback_query.register
    press(send_template, cb.Relax.filter(F.action == cb.RelaxAction.TEMPLATE))
    press(pick, cb.Drawing.filter(F.a == Action.PICK))
    press(ask, cb.Drawing.filter(F.a == Action.ASK))
    press(send, cb.Drawing.filter(F.a == Action.SEND))
    return router
