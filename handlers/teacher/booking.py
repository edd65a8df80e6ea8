"""Booking an individual consultation (Menu "book"): format, optional filters, a day with free
slots, a time, the confirm screen with an optional note, then the summary and an .ics file.

The flow's choices travel in the callback data (cb.Book), so any screen can be reopened after a
restart; only the note waits in FSM data (encrypted). Rescheduling reuses the same screens with
`r` = the booking being moved. Whether a slot is still free is decided by the database when
the button is pressed: the loser of a race is told and sees fresh times.
"""

from __future__ import annotations

from datetime import date, datetime

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
from bot.content.regions import region_name
from bot.services.bookings import Bookings, BookResult, BookStatus, Filters
from bot.telegram import callbacks as cb
from bot.telegram.keyboards import KeyboardBuilder, urgent_row, with_nav
from bot.telegram.ui import show
from bot.telegram.utf16 import truncate_utf16
from bot.views import booking as common
from storage.models import Booking, User
from storage.models.base import utcnow
from storage.models.booking import FORMATS, LANGUAGES, NOTE_LIMIT
from storage.repo import booking as repo

Bk = cb.Book


class BookingFlow(StatesGroup):
    note = State()


def filters_of(data: Bk) -> Filters:
    return Filters(data.f, data.l, data.g if data.f == "office" else "")


def parse_day(value: str) -> date | None:
    try:
        return datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        return None


def step(data: Bk, action: str, **changes) -> Bk:
    return data.model_copy(update={"a": action, **changes})


def back_from_days(data: Bk) -> Bk | cb.Mine:
    if data.r:
        return cb.Mine(a="open", id=data.r)
    return step(data, "lang") if data.f == "office" else step(data, "fmt")


async def show_formats(query: CallbackQuery) -> None:
    builder = KeyboardBuilder()
    for fmt in FORMATS:
        builder.button(text=common.format_name(fmt), callback_data=Bk(a="fmt", f=fmt))
    builder.adjust(1)
    builder.row(*urgent_row())
    await show(query, _("book-intro"), with_nav(builder))


EARLIEST_SHOWN = 6


async def show_earliest(
    query: CallbackQuery, session: AsyncSession, bookings: Bookings, user: User, settings: Settings
) -> None:
    """The earliest free times of every format, soonest first: one tap to the confirm screen."""
    if await repo.active_count(session, user.id, utcnow()) >= settings.booking.max_active:
        return await show_limit(query, settings)
    slots = await bookings.earliest(session, utcnow(), EARLIEST_SHOWN)
    builder = KeyboardBuilder()
    for slot in slots:
        label = _("book-earliest-slot").format(
            format=common.format_name(slot.format),
            when=common.when(slot.starts_at, settings.tz, user.language),
            name=slot.psychologist.display_name,
        )
        builder.button(
            text=label,
            callback_data=Bk(
                a="slot",
                f=slot.format,
                s=slot.id,
                d=slot.starts_at.astimezone(settings.tz).strftime("%Y%m%d"),
            ),
        )
    builder.adjust(1)
    builder.row(*urgent_row())
    text = _("book-earliest-title") if slots else _("book-earliest-none")
    await show(query, text, with_nav(builder, cb.Menu(item="sos")))


async def show_limit(query: CallbackQuery, settings: Settings) -> None:
    builder = KeyboardBuilder()
    builder.button(text=_("menu-mine"), callback_data=cb.Menu(item="mine"))
    await show(query, _("book-limit").format(count=settings.booking.max_active), with_nav(builder))


async def show_days(
    query: CallbackQuery, session: AsyncSession, bookings: Bookings, data: Bk, user: User, settings: Settings
) -> None:
    days = await bookings.free_days(session, filters_of(data), utcnow(), settings.tz)
    builder = KeyboardBuilder()
    if not days:
        builder.button(
            text=_("book-change-filters"),
            callback_data=Bk(a="fmt", f=data.f) if not data.r else Bk(a="start"),
        )
        builder.row(*urgent_row())
        return await show(query, _("book-no-days"), with_nav(builder, back_from_days(data)))
    for day in days:
        builder.button(
            text=common.day_label(day, user.language),
            callback_data=step(data, "day", d=day.strftime("%Y%m%d")),
        )
    builder.adjust(3)
    await show(
        query,
        _("book-choose-day").format(format=common.format_name(data.f)),
        with_nav(builder, back_from_days(data)),
    )


async def show_times(
    query: CallbackQuery,
    session: AsyncSession,
    bookings: Bookings,
    data: Bk,
    user: User,
    settings: Settings,
    prefix: str = "",
) -> None:
    day = parse_day(data.d)
    slots = (
        []
        if day is None
        else await bookings.free_slots_on(session, filters_of(data), utcnow(), settings.tz, day)
    )
    if not slots:
        return await show_days(query, session, bookings, data, user, settings)
    builder = KeyboardBuilder()
    for slot in slots:
        text = f"{common.hhmm(slot.starts_at, settings.tz)} · {slot.psychologist.display_name}"
        builder.button(text=text, callback_data=step(data, "slot", s=slot.id))
    builder.adjust(1)
    text = prefix + _("book-choose-time").format(day=common.day_title(day, user.language))
    await show(query, text, with_nav(builder, step(data, "days")))


async def show_confirm(
    event: Message | CallbackQuery,
    session: AsyncSession,
    bookings: Bookings,
    data: Bk,
    user: User,
    settings: Settings,
    note: str | None = None,
) -> bool:
    """The confirm screen; False when the slot is no longer free (the caller shows fresh times)."""
    free = await bookings.free_slots(session, filters_of(data), utcnow(), slot_id=data.s)
    if not free:
        return False
    slot = free[0]
    profile = slot.psychologist
    parts = [
        _("book-confirm-title") if not data.r else _("book-move-title"),
        common.slot_lines(slot, settings.tz, user.language, booked=False),
        common.privacy_text(slot.format),
    ]
    bio = profile.bio(user.language)
    if bio:
        parts.append(_("book-bio").format(bio=common.esc(bio)))
    builder = KeyboardBuilder()
    if data.r:
        builder.button(text=_("book-move-ok"), callback_data=step(data, "ok"))
    else:
        parts.append(_("book-note-yours").format(note=common.esc(note)) if note else _("book-note-hint"))
        builder.button(text=_("book-ok"), callback_data=step(data, "ok"))
        builder.button(
            text=_("book-note-edit") if note else _("book-note-add"), callback_data=step(data, "note")
        )
    builder.adjust(1)
    await show(event, "\n\n".join(parts), with_nav(builder, step(data, "day")))
    return True


async def taken_now(
    query: CallbackQuery,
    answer: CallbackAnswer,
    session: AsyncSession,
    bookings: Bookings,
    data: Bk,
    user: User,
    settings: Settings,
) -> None:
    answer.text, answer.show_alert = _("book-just-taken"), True
    await show_times(query, session, bookings, data, user, settings, prefix=_("book-just-taken") + "\n\n")


async def booked(
    query: CallbackQuery,
    bot: Bot,
    session: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
    i18n: I18n,
    booking: Booking,
    settings: Settings,
    user: User,
    previous_slot=None,
) -> None:
    """Publish the booking, then tell the psychologist and give the teacher the summary and the .ics."""
    event = "rescheduled" if previous_slot is not None else "booked"
    outbox = common.only(common.to_psychologist(i18n, booking, event, settings.tz, previous_slot))
    # Committed before anyone is told: a psychologist must never hear of a booking that is not there.
    await session.commit()
    await common.send_all(bot, sessions, outbox)
    builder = KeyboardBuilder()
    builder.button(text=_("menu-mine"), callback_data=cb.Menu(item="mine"))
    text = _("book-done" if previous_slot is None else "book-moved").format(
        lines=common.slot_lines(booking.slot, settings.tz, user.language, booked=True)
    )
    await show(query, text, with_nav(builder))
    await common.send_ics(bot, booking, user, settings.tz)


def create_router() -> Router:
    router = Router(name="booking")

    @router.callback_query(cb.Menu.filter(F.item == "book"))
    @router.callback_query(Bk.filter(F.a == "start"))
    async def start(
        query: CallbackQuery, session: AsyncSession, user: User, settings: Settings, state: FSMContext
    ) -> None:
        await state.clear()
        if await repo.active_count(session, user.id, utcnow()) >= settings.booking.max_active:
            return await show_limit(query, settings)
        await show_formats(query)

    @router.callback_query(Bk.filter(F.a == "soon"))
    async def soon(
        query: CallbackQuery,
        session: AsyncSession,
        bookings: Bookings,
        user: User,
        settings: Settings,
        state: FSMContext,
    ) -> None:
        await state.clear()
        await show_earliest(query, session, bookings, user, settings)

    @router.callback_query(Bk.filter(F.a == "fmt"))
    async def choose_language(query: CallbackQuery, callback_data: Bk) -> None:
        if callback_data.f not in FORMATS:
            return await show_formats(query)
        builder = KeyboardBuilder()
        builder.button(text=_("book-any-language"), callback_data=step(callback_data, "lang", l=""))
        for code in LANGUAGES:
            builder.button(text=_("bk-lang-" + code), callback_data=step(callback_data, "lang", l=code))
        builder.adjust(1, 2)
        await show(query, _("book-choose-language"), with_nav(builder, Bk(a="start")))

    @router.callback_query(Bk.filter(F.a == "lang"))
    async def choose_region(
        query: CallbackQuery,
        callback_data: Bk,
        session: AsyncSession,
        bookings: Bookings,
        user: User,
        settings: Settings,
    ) -> None:
        if callback_data.f != "office":
            return await show_days(query, session, bookings, step(callback_data, "days"), user, settings)
        codes = await repo.office_regions(session)
        codes.sort(key=lambda code: code != user.region)  # the teacher's own region first
        builder = KeyboardBuilder()
        for code in codes:
            builder.button(
                text=region_name(code, user.language) or code,
                callback_data=step(callback_data, "days", g=code),
            )
        builder.button(text=_("book-any-region"), callback_data=step(callback_data, "days", g=""))
        builder.adjust(1)
        await show(query, _("book-choose-region"), with_nav(builder, step(callback_data, "fmt")))

    @router.callback_query(Bk.filter(F.a == "days"))
    async def days(
        query: CallbackQuery,
        callback_data: Bk,
        session: AsyncSession,
        bookings: Bookings,
        user: User,
        settings: Settings,
    ) -> None:
        await show_days(query, session, bookings, callback_data, user, settings)

    @router.callback_query(Bk.filter(F.a == "day"))
    async def times(
        query: CallbackQuery,
        callback_data: Bk,
        session: AsyncSession,
        bookings: Bookings,
        user: User,
        settings: Settings,
        state: FSMContext,
    ) -> None:
        await state.clear()
        await show_times(query, session, bookings, callback_data, user, settings)

    @router.callback_query(Bk.filter(F.a == "slot"))
    async def confirm(
        query: CallbackQuery,
        callback_data: Bk,
        callback_answer: CallbackAnswer,
        session: AsyncSession,
        bookings: Bookings,
        user: User,
        settings: Settings,
        state: FSMContext,
    ) -> None:
        data = await state.get_data()
        note = data.get("note") if data.get("slot") == callback_data.s else None
        if not await show_confirm(query, session, bookings, callback_data, user, settings, note):
            await taken_now(query, callback_answer, session, bookings, callback_data, user, settings)

    @router.callback_query(Bk.filter(F.a == "note"))
    async def ask_note(query: CallbackQuery, callback_data: Bk, state: FSMContext) -> None:
        await state.set_state(BookingFlow.note)
        await state.set_data({"slot": callback_data.s, "back": step(callback_data, "slot").pack()})
        builder = KeyboardBuilder()
        builder.button(text=_("book-note-skip"), callback_data=step(callback_data, "slot"))
        await show(
            query, _("book-note-ask").format(limit=NOTE_LIMIT), with_nav(builder, step(callback_data, "slot"))
        )

    @router.message(StateFilter(BookingFlow.note), F.text)
    async def got_note(
        message: Message,
        session: AsyncSession,
        bookings: Bookings,
        user: User,
        settings: Settings,
        state: FSMContext,
    ) -> None:
        data = await state.get_data()
        note = truncate_utf16(message.text.strip(), NOTE_LIMIT)
        await state.set_state(None)
        await state.set_data({"slot": data.get("slot"), "note": note})
        slot_data = Bk.unpack(data["back"])
        if not await show_confirm(message, session, bookings, slot_data, user, settings, note):
            builder = KeyboardBuilder()
            builder.button(text=_("book-fresh-times"), callback_data=step(slot_data, "day"))
            await message.answer(_("book-just-taken"), reply_markup=with_nav(builder))

    @router.message(StateFilter(BookingFlow.note))
    async def note_not_text(message: Message) -> None:
        await message.answer(_("book-note-text-only"))

    @router.callback_query(Bk.filter(F.a == "ok"))
    async def book(
        query: CallbackQuery,
        callback_data: Bk,
        callback_answer: CallbackAnswer,
        bot: Bot,
        session: AsyncSession,
        bookings: Bookings,
        sessions: async_sessionmaker[AsyncSession],
        user: User,
        settings: Settings,
        i18n: I18n,
        state: FSMContext,
    ) -> None:
        now = utcnow()
        data = await state.get_data()
        note = data.get("note") if data.get("slot") == callback_data.s else None
        previous_slot = None
        if callback_data.r:
            old = await repo.teacher_booking(session, user.id, callback_data.r)
            result = (
                await bookings.reschedule(session, old, callback_data.s, now)
                if old
                else BookResult(BookStatus.STALE)
            )
            previous_slot = old.slot if old else None
        else:
            result = await bookings.book(session, user, callback_data.s, note, now)
        if result.ok:
            await state.clear()
            return await booked(
                query, bot, session, sessions, i18n, result.booking, settings, user, previous_slot
            )
        if result.status is BookStatus.LIMIT:
            return await show_limit(query, settings)
        if result.status is BookStatus.STALE:
            callback_answer.text, callback_answer.show_alert = _("book-stale"), True
            return await show(query, _("book-stale"), with_nav(KeyboardBuilder()))
        if result.status is BookStatus.GONE:
            callback_answer.text, callback_answer.show_alert = _("book-gone"), True
            return await show_times(query, session, bookings, callback_data, user, settings)
        await taken_now(query, callback_answer, session, bookings, callback_data, user, settings)

    return router
