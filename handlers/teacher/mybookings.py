"""My bookings (Menu "mine"): upcoming consultations; cancel, reschedule, the .ics again,
and the rating asked after an attended session."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.services.bookings import Bookings
from bot.telegram import callbacks as cb
from bot.telegram.keyboards import KeyboardBuilder, with_nav
from bot.telegram.ui import show
from bot.telegram.utf16 import truncate_utf16
from bot.views import booking as common
from storage.models import User
from storage.models.base import utcnow
from storage.models.booking import COMMENT_LIMIT
from storage.repo import booking as repo

LIST = cb.Menu(item="mine")


class RatingFlow(StatesGroup):
    comment = State()


async def show_list(
    event: CallbackQuery | Message, session: AsyncSession, user: User, settings: Settings, prefix: str = ""
) -> None:
    now = utcnow()
    bookings = [b for b in await repo.upcoming_for_teacher(session, user.id, now) if b.slot.starts_at > now]
    builder = KeyboardBuilder()
    if not bookings:
        builder.button(text=_("menu-book"), callback_data=cb.Menu(item="book"))
        return await show(event, prefix + _("mine-empty"), with_nav(builder))
    for booking in bookings:
        slot = booking.slot
        text = (
            f"{common.day_label(slot.starts_at.astimezone(settings.tz).date(), user.language)}, "
            f"{common.hhmm(slot.starts_at, settings.tz)} · {common.format_name(slot.format)}"
        )
        builder.button(text=text, callback_data=cb.Mine(a="open", id=booking.id))
    builder.adjust(1)
    await show(event, prefix + _("mine-title").format(count=len(bookings)), with_nav(builder))


def create_router() -> Router:
    router = Router(name="mybookings")

    async def own_upcoming(query, callback_data, answer, session, user, settings):
        """The teacher's own upcoming booking, or None after telling them it is gone and showing the list."""
        booking = await repo.teacher_booking(session, user.id, callback_data.id)
        if booking is not None and booking.upcoming and booking.slot.starts_at > utcnow():
            return booking
        answer.text, answer.show_alert = _("mine-gone"), True
        await show_list(query, session, user, settings)
        return None

    @router.callback_query(cb.Menu.filter(F.item == "mine"))
    async def my_bookings(
        query: CallbackQuery, session: AsyncSession, user: User, settings: Settings, state: FSMContext
    ) -> None:
        await state.clear()
        await show_list(query, session, user, settings)

    @router.callback_query(cb.Mine.filter(F.a == "open"))
    async def open_booking(
        query: CallbackQuery,
        callback_data: cb.Mine,
        callback_answer: CallbackAnswer,
        session: AsyncSession,
        user: User,
        settings: Settings,
    ) -> None:
        booking = await own_upcoming(query, callback_data, callback_answer, session, user, settings)
        if booking is None:
            return
        slot = booking.slot
        text = _("mine-detail").format(
            lines=common.slot_lines(slot, settings.tz, user.language, booked=True),
            state=_("mine-state-" + booking.state),
        )
        builder = KeyboardBuilder()
        builder.button(text=_("mine-ics"), callback_data=cb.Mine(a="ics", id=booking.id))
        builder.button(text=_("mine-move"), callback_data=cb.Book(a="days", f=slot.format, r=booking.id))
        builder.button(text=_("mine-cancel"), callback_data=cb.Mine(a="cancel", id=booking.id))
        builder.adjust(1)
        await show(query, text, with_nav(builder, LIST))

    @router.callback_query(cb.Mine.filter(F.a == "ics"))
    async def calendar_file(
        query: CallbackQuery,
        callback_data: cb.Mine,
        callback_answer: CallbackAnswer,
        bot: Bot,
        session: AsyncSession,
        user: User,
        settings: Settings,
    ) -> None:
        booking = await own_upcoming(query, callback_data, callback_answer, session, user, settings)
        if booking is not None:
            callback_answer.text = _("mine-ics-sent")
            await common.send_ics(bot, booking, user, settings.tz)

    @router.callback_query(cb.Mine.filter(F.a == "cancel"))
    async def ask_cancel(
        query: CallbackQuery,
        callback_data: cb.Mine,
        callback_answer: CallbackAnswer,
        session: AsyncSession,
        bookings: Bookings,
        user: User,
        settings: Settings,
    ) -> None:
        booking = await own_upcoming(query, callback_data, callback_answer, session, user, settings)
        if booking is None:
            return
        late = bookings.is_late_cancel(booking, utcnow())
        text = _("mine-cancel-ask").format(
            when=common.when(booking.slot.starts_at, settings.tz, user.language)
        )
        if late:
            text += "\n\n" + _("mine-cancel-late").format(hours=f"{settings.booking.cancel_cutoff_hours:g}")
        builder = KeyboardBuilder()
        builder.button(text=_("mine-cancel-yes"), callback_data=cb.Mine(a="cancelok", id=booking.id))
        await show(query, text, with_nav(builder, cb.Mine(a="open", id=booking.id)))

    @router.callback_query(cb.Mine.filter(F.a == "cancelok"))
    async def cancel(
        query: CallbackQuery,
        callback_data: cb.Mine,
        callback_answer: CallbackAnswer,
        bot: Bot,
        session: AsyncSession,
        bookings: Bookings,
        sessions: async_sessionmaker[AsyncSession],
        user: User,
        settings: Settings,
        i18n: I18n,
    ) -> None:
        booking = await own_upcoming(query, callback_data, callback_answer, session, user, settings)
        if booking is None or not await bookings.cancel(session, booking, "teacher", utcnow()):
            return
        outbox = common.only(common.to_psychologist(i18n, booking, "cancelled", settings.tz))
        await session.commit()  # the slot is free for others before the psychologist hears of it
        await common.send_all(bot, sessions, outbox)
        await show_list(query, session, user, settings, prefix=_("mine-cancelled") + "\n\n")

    @router.callback_query(cb.Mine.filter(F.a == "rate"))
    async def rate(
        query: CallbackQuery,
        callback_data: cb.Mine,
        callback_answer: CallbackAnswer,
        session: AsyncSession,
        user: User,
        state: FSMContext,
    ) -> None:
        booking = await repo.teacher_booking(session, user.id, callback_data.id)
        if booking is None or not await repo.rate(session, booking, callback_data.v):
            callback_answer.text = _("stale-button")
            return await show(query, _("rate-gone"), with_nav(KeyboardBuilder()))
        await state.set_state(RatingFlow.comment)
        await state.set_data({"booking": booking.id})
        await show(query, _("rate-thanks-comment").format(limit=COMMENT_LIMIT), with_nav(KeyboardBuilder()))

    @router.message(StateFilter(RatingFlow.comment), F.text)
    async def rating_comment(message: Message, session: AsyncSession, user: User, state: FSMContext) -> None:
        data = await state.get_data()
        await state.clear()
        booking = await repo.teacher_booking(session, user.id, data.get("booking", 0))
        if booking is not None and booking.rating:
            await repo.rate(
                session, booking, booking.rating, truncate_utf16(message.text.strip(), COMMENT_LIMIT)
            )
        await message.answer(_("rate-comment-saved"), reply_markup=with_nav(KeyboardBuilder()))

    return router
