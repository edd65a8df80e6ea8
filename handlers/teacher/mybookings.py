"""My bookings (Menu "mine"): upcoming consultations; cancel, reschedule, the .ics again,
and the rating asked after an attended session."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services import limits
from bot.services.bookings import Bookings
from bot.telegram import callbacks as cb
from bot.telegram.keyboards import KeyboardBuilder, button, with_nav
from bot.telegram.ui import show, too_long
from bot.views import booking as common
from bot.views import rooms
from storage.models import Booking, User
from storage.models.base import utcnow
from storage.models.booking import COMMENT_LIMIT
from storage.repo import booking as repo
from storage.repo import practice as practice_repo

Action = cb.MineAction
LIST = cb.Menu(item=cb.Section.MINE)


class RatingFlow(StatesGroup):
    comment = State()


async def show_list(
    event: CallbackQuery | Message,
    session: AsyncSession,
    bookings: Bookings,
    user: User,
    settings: Settings,
    prefix: str = "",
) -> None:
    upcoming = await bookings.upcoming(session, user, utcnow())
    builder = KeyboardBuilder()
    waiting = await repo.waits_of(session, user.id)
    if waiting:  # "tell me when a time opens" (bot/workers/waitlist.py)
        prefix += _("sess-waiting").format(count=waiting) + "\n\n"
    if not upcoming:
        builder.button(text=_("menu-book"), callback_data=cb.Menu(item=cb.Section.BOOK))
        waiting_button(builder, waiting)
        await show(event, prefix + _("mine-empty"), with_nav(builder))
        return
    for booking in upcoming:
        starts_at = booking.slot.starts_at
        text = (
            f"{common.day_label(starts_at.astimezone(settings.tz).date(), user.language)}, "
            f"{common.hhmm(starts_at, settings.tz)} · {common.format_name(booking.slot.format)}"
        )
        builder.button(text=text, callback_data=cb.Mine(a=Action.OPEN, id=booking.id))
    waiting_button(builder, waiting)
    builder.adjust(1)
    await show(event, prefix + _("mine-title").format(count=len(upcoming)), with_nav(builder))


def waiting_button(builder: KeyboardBuilder, waiting: int) -> None:
    if waiting:
        builder.button(text=_("sess-wait-stop"), callback_data=cb.Mine(a=Action.UNWAIT))


async def unwait(
    query: CallbackQuery, session: AsyncSession, bookings: Bookings, user: User, settings: Settings
) -> None:
    await repo.remove_waits_of(session, user.id)
    await show_list(query, session, bookings, user, settings, prefix=_("sess-wait-stopped") + "\n\n")


async def own_upcoming(
    query: CallbackQuery,
    callback_data: cb.Mine,
    answer: CallbackAnswer,
    session: AsyncSession,
    bookings: Bookings,
    user: User,
    settings: Settings,
) -> Booking | None:
    """The teacher's own upcoming booking, or None after telling them it is gone and showing the list."""
    booking = await bookings.own_upcoming(session, user, callback_data.id, utcnow())
    if booking is None:
        answer.text, answer.show_alert = _("mine-gone"), True
        await show_list(query, session, bookings, user, settings)
    return booking


async def my_bookings(
    query: CallbackQuery,
    session: AsyncSession,
    bookings: Bookings,
    user: User,
    settings: Settings,
    state: FSMContext,
) -> None:
    await state.clear()
    await show_list(query, session, bookings, user, settings)


async def open_booking(
    query: CallbackQuery,
    callback_data: cb.Mine,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    bookings: Bookings,
    user: User,
    settings: Settings,
) -> None:
    booking = await own_upcoming(query, callback_data, callback_answer, session, bookings, user, settings)
    if booking is None:
        return
    text = _("mine-detail").format(
        lines=common.slot_lines(booking.slot, settings.tz, user.language, booked=True),
        state=_("mine-state-" + booking.state),
    )
    way_in = rooms.booking_way_in(settings.video, booking, utcnow())
    builder = KeyboardBuilder()
    builder.row(*rooms.join_button(rooms.booking_room(settings.video, booking, utcnow())))
    builder.row(button(_("mine-ics"), cb.Mine(a=Action.ICS, id=booking.id)))
    builder.row(button(_("mine-move"), common.move_data(booking)))
    builder.row(button(_("mine-cancel"), cb.Mine(a=Action.CANCEL, id=booking.id)))
    if await practice_repo.first_with(session, booking):  # the optional intake (handlers/teacher/practice.py)
        builder.row(button(_("practice-intake-button"), cb.Intake(a=cb.IntakeAction.START, id=booking.id)))
    await show(query, text + ("\n\n" + way_in if way_in else ""), with_nav(builder, LIST))


async def calendar_file(
    query: CallbackQuery,
    callback_data: cb.Mine,
    callback_answer: CallbackAnswer,
    bot: Bot,
    session: AsyncSession,
    bookings: Bookings,
    user: User,
    settings: Settings,
) -> None:
    booking = await own_upcoming(query, callback_data, callback_answer, session, bookings, user, settings)
    if booking is not None:
        callback_answer.text = _("mine-ics-sent")
        await common.send_ics(bot, booking, user, settings.tz)


async def ask_cancel(
    query: CallbackQuery,
    callback_data: cb.Mine,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    bookings: Bookings,
    user: User,
    settings: Settings,
) -> None:
    booking = await own_upcoming(query, callback_data, callback_answer, session, bookings, user, settings)
    if booking is None:
        return
    text = _("mine-cancel-ask").format(when=common.when(booking.slot.starts_at, settings.tz, user.language))
    if bookings.is_late_cancel(booking, utcnow()):
        text += "\n\n" + _("mine-cancel-late").format(hours=f"{settings.booking.cancel_cutoff_hours:g}")
    builder = KeyboardBuilder()
    builder.button(text=_("mine-cancel-yes"), callback_data=cb.Mine(a=Action.CANCELLED, id=booking.id))
    await show(query, text, with_nav(builder, cb.Mine(a=Action.OPEN, id=booking.id)))


async def cancel(
    query: CallbackQuery,
    callback_data: cb.Mine,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    bookings: Bookings,
    user: User,
    settings: Settings,
) -> None:
    if not await limits.cancellation_allowed(session, user, settings.limits, utcnow()):
        await show(query, *common.daily_limit("limit-cancellations", settings.limits.cancellations_per_day))
        return
    booking = await own_upcoming(query, callback_data, callback_answer, session, bookings, user, settings)
    if booking is None or not await bookings.cancel(session, booking, "teacher", utcnow()):
        return
    await session.commit()  # the slot is free for others; the psychologist's notice goes out now
    await show_list(query, session, bookings, user, settings, prefix=_("mine-cancelled") + "\n\n")


async def rate(
    query: CallbackQuery,
    callback_data: cb.Mine,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    user: User,
    state: FSMContext,
) -> None:
    booking = await repo.teacher_booking(session, user.id, callback_data.id)
    if booking is None or not await repo.rate(session, booking, callback_data.stars):
        callback_answer.text = _("stale-button")
        await show(query, _("rate-gone"), with_nav(KeyboardBuilder()))
        return
    await state.set_state(RatingFlow.comment)
    await state.set_data({"booking": booking.id})
    builder = KeyboardBuilder()
    builder.button(text=_("sess-book-same"), callback_data=common.book_same_data(booking))
    await show(query, _("rate-thanks-comment").format(limit=COMMENT_LIMIT), with_nav(builder))


async def rating_comment(
    message: Message, text: str, session: AsyncSession, user: User, state: FSMContext
) -> None:
    if await too_long(message, text.strip(), COMMENT_LIMIT, with_nav(KeyboardBuilder())):
        return
    data = await state.get_data()
    await state.clear()
    booking = await repo.teacher_booking(session, user.id, data.get("booking", 0))
    if booking is not None and booking.rating:
        await repo.rate(session, booking, booking.rating, text.strip())
    await message.answer(_("rate-comment-saved"), reply_markup=with_nav(KeyboardBuilder()))


def create_router() -> Router:
    router = Router(name="mybookings")
    press = router.callback_query.register
    press(my_bookings, cb.Menu.filter(F.item == cb.Section.MINE))
    press(open_booking, cb.Mine.filter(F.a == Action.OPEN))
    press(calendar_file, cb.Mine.filter(F.a == Action.ICS))
    press(ask_cancel, cb.Mine.filter(F.a == Action.CANCEL))
    press(cancel, cb.Mine.filter(F.a == Action.CANCELLED))
    press(rate, cb.Mine.filter(F.a == Action.RATE))
    press(unwait, cb.Mine.filter(F.a == Action.UNWAIT))
    router.message.register(rating_comment, StateFilter(RatingFlow.comment), F.text.as_("text"))
    return router
