"""Booking an individual consultation (Menu "book"): format, optional filters, a day with free
slots, a time, the confirm screen with an optional note, then the summary and an .ics file.

The flow's choices travel in the callback data (cb.Book), so any screen can be reopened after a
restart; only the note waits in FSM data (encrypted). Rescheduling reuses the same screens with
`r` = the booking being moved, and `p` = its psychologist, whose times come first ("any psychologist"
is an explicit choice); booking again with the same psychologist uses `p` too. Whether a slot is
still free is decided by the database when the button is pressed: the loser of a race is told and
sees fresh times. With no free time, a teacher may ask to be told once when one opens
(bot/workers/waitlist.py); a first consultation's "what to expect" is one tap from the confirm screen.
"""

from __future__ import annotations

from datetime import date, datetime

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.content.regions import region_name
from bot.services import limits
from bot.services.bookings import Bookings, BookResult, BookStatus, Filters
from bot.telegram import callbacks as cb
from bot.telegram.i18n import plural
from bot.telegram.keyboards import KeyboardBuilder, button, urgent_row, with_nav
from bot.telegram.ui import show, too_long
from bot.views import booking as common
from storage.models import Slot, User
from storage.models.base import utcnow
from storage.models.booking import FORMATS, LANGUAGES, NOTE_LIMIT
from storage.repo import booking as repo

Bk = cb.Book
Action = cb.BookAction
EARLIEST_SHOWN = 6
MY_BOOKINGS = cb.Menu(item=cb.Section.MINE)


class BookingFlow(StatesGroup):
    note = State()


def filters_of(data: Bk) -> Filters:
    return Filters(data.f, data.l, data.g if data.f == "office" else "", data.p)


def parse_day(value: str) -> date | None:
    try:
        return datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        return None


def step(data: Bk, action: cb.BookAction, **changes: str | int) -> Bk:
    return data.model_copy(update={"a": action, **changes})


def back_from_days(data: Bk) -> Bk | cb.Mine:
    if data.r:
        return cb.Mine(a=cb.MineAction.OPEN, id=data.r)
    return step(data, Action.LANGUAGE) if data.f == "office" else step(data, Action.FORMAT)


async def note_for(state: FSMContext, data: Bk) -> str | None:
    """The note written on this slot's confirm screen, if any."""
    stored = await state.get_data()
    return stored.get("note") if stored.get("slot") == data.s else None


# --- screens ----------------------------------------------------------------------------------------------


async def show_formats(query: CallbackQuery) -> None:
    builder = KeyboardBuilder()
    for fmt in FORMATS:
        builder.button(text=common.format_name(fmt), callback_data=Bk(a=Action.FORMAT, f=fmt))
    builder.adjust(1)
    builder.row(*urgent_row())
    await show(query, _("book-intro"), with_nav(builder))


async def show_earliest(
    query: CallbackQuery, session: AsyncSession, bookings: Bookings, user: User, settings: Settings
) -> None:
    """The earliest free times of every format, soonest first: one tap to the confirm screen."""
    if await bookings.at_limit(session, user, utcnow()):
        await show_limit(query, settings)
        return
    slots = await bookings.earliest(session, utcnow(), EARLIEST_SHOWN)
    builder = KeyboardBuilder()
    for slot in slots:
        label = _("book-earliest-slot").format(
            format=common.format_name(slot.format),
            when=common.when(slot.starts_at, settings.tz, user.language),
            name=slot.psychologist.display_name,
        )
        day = slot.starts_at.astimezone(settings.tz).strftime("%Y%m%d")
        builder.button(text=label, callback_data=Bk(a=Action.SLOT, f=slot.format, s=slot.id, d=day))
    builder.adjust(1)
    builder.row(*urgent_row())
    text = _("book-earliest-title") if slots else _("book-earliest-none")
    await show(query, text, with_nav(builder, cb.Menu(item=cb.Section.SOS)))


async def show_limit(query: CallbackQuery, settings: Settings) -> None:
    builder = KeyboardBuilder()
    builder.button(text=_("menu-mine"), callback_data=MY_BOOKINGS)
    count = settings.booking.max_active
    await show(query, plural("book-limit", count).format(count=count), with_nav(builder))


async def show_days(
    query: CallbackQuery,
    session: AsyncSession,
    bookings: Bookings,
    data: Bk,
    user: User,
    settings: Settings,
    new_search: bool = False,
) -> None:
    """The free days; a `new_search` (the filters just set, not a step back) is counted."""
    days = (
        await bookings.search(session, user, filters_of(data), utcnow(), settings.tz)
        if new_search
        else await bookings.free_days(session, filters_of(data), utcnow(), settings.tz)
    )
    builder = KeyboardBuilder()
    same = await same_psychologist(session, data)
    if not days:
        if same is not None:  # none with this psychologist: any other is one tap away
            builder.button(text=_("sess-any-psychologist"), callback_data=step(data, Action.DAYS, p=0))
        if not data.r:
            builder.button(text=_("sess-wait"), callback_data=step(data, Action.WAIT))
        again = Bk(a=Action.FORMAT, f=data.f) if not data.r else Bk(a=Action.START)
        builder.button(text=_("book-change-filters"), callback_data=again)
        builder.adjust(1)
        builder.row(*urgent_row())
        text = _("sess-same-none").format(name=same) if same is not None else _("book-no-days")
        await show(query, text, with_nav(builder, back_from_days(data)))
        return
    for day in days:
        builder.button(
            text=common.day_label(day, user.language),
            callback_data=step(data, Action.DAY, d=day.strftime("%Y%m%d")),
        )
    builder.adjust(3)
    text = _("book-choose-day").format(format=common.format_name(data.f))
    if same is not None:
        text = _("sess-same-days").format(name=same) + "\n\n" + text
        builder.row(button(_("sess-any-psychologist"), step(data, Action.DAYS, p=0)))
    await show(query, text, with_nav(builder, back_from_days(data)))


async def same_psychologist(session: AsyncSession, data: Bk) -> str | None:
    """The name of the psychologist the times are limited to (rescheduling, booking again), escaped."""
    if not data.p:
        return None
    profile = await repo.profile_by_id(session, data.p)
    return common.esc(profile.display_name) if profile is not None else None


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
    if day is None or not slots:
        await show_days(query, session, bookings, data, user, settings)
        return
    builder = KeyboardBuilder()
    for slot in slots:
        text = f"{common.hhmm(slot.starts_at, settings.tz)} · {slot.psychologist.display_name}"
        builder.button(text=text, callback_data=step(data, Action.SLOT, s=slot.id))
    builder.adjust(1)
    text = prefix + _("book-choose-time").format(day=common.day_title(day, user.language))
    await show(query, text, with_nav(builder, step(data, Action.DAYS)))


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
    builder = KeyboardBuilder()
    if data.r:
        builder.button(text=_("book-move-ok"), callback_data=step(data, Action.OK))
    else:
        builder.button(text=_("book-ok"), callback_data=step(data, Action.OK))
        builder.button(
            text=_("book-note-edit") if note else _("book-note-add"), callback_data=step(data, Action.NOTE)
        )
        builder.button(text=_("sess-expect-button"), callback_data=step(data, Action.EXPECT))
    builder.adjust(1)
    text = confirm_text(free[0], data, note, user, settings)
    await show(event, text, with_nav(builder, step(data, Action.DAY)))
    return True


def confirm_text(slot: Slot, data: Bk, note: str | None, user: User, settings: Settings) -> str:
    parts = [
        _("book-confirm-title") if not data.r else _("book-move-title"),
        common.slot_lines(slot, settings.tz, user.language, booked=False),
        common.privacy_text(slot.format),
    ]
    bio = slot.psychologist.bio(user.language)
    if bio:
        parts.append(_("book-bio").format(bio=common.esc(bio)))
    if not data.r:
        parts.append(_("book-note-yours").format(note=common.esc(note)) if note else _("book-note-hint"))
        parts.append(_("practice-no-show-policy"))
    return "\n\n".join(parts)


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
    query: CallbackQuery, session: AsyncSession, result: BookResult, settings: Settings, user: User
) -> None:
    """The summary. The psychologist's notice and the teacher's .ics were written with the booking
    (bot/workers/notices.py) and go out once this commit is done."""
    await session.commit()  # the teacher hears "booked" only once it is
    booking, moved = result.booking, result.previous is not None
    assert booking is not None
    builder = KeyboardBuilder()
    if not moved and result.first:  # the intake: optional, before the first session
        builder.button(
            text=_("practice-intake-button"), callback_data=cb.Intake(a=cb.IntakeAction.START, id=booking.id)
        )
    builder.button(text=_("menu-mine"), callback_data=MY_BOOKINGS)
    lines = common.slot_lines(booking.slot, settings.tz, user.language, booked=True)
    text = _("book-moved").format(lines=lines) if moved else _("book-done").format(lines=lines)
    await show(query, text, with_nav(builder))


# --- handlers ---------------------------------------------------------------------------------------------


async def start(
    query: CallbackQuery,
    session: AsyncSession,
    bookings: Bookings,
    user: User,
    settings: Settings,
    state: FSMContext,
) -> None:
    await state.clear()
    if await bookings.at_limit(session, user, utcnow()):
        await show_limit(query, settings)
    else:
        await show_formats(query)


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


async def choose_language(query: CallbackQuery, callback_data: Bk) -> None:
    if callback_data.f not in FORMATS:
        await show_formats(query)
        return
    builder = KeyboardBuilder()
    builder.button(text=_("book-any-language"), callback_data=step(callback_data, Action.LANGUAGE, l=""))
    for code in LANGUAGES:
        builder.button(text=_("bk-lang-" + code), callback_data=step(callback_data, Action.LANGUAGE, l=code))
    builder.adjust(1, 2)
    await show(query, _("book-choose-language"), with_nav(builder, Bk(a=Action.START)))


async def choose_region(
    query: CallbackQuery,
    callback_data: Bk,
    session: AsyncSession,
    bookings: Bookings,
    user: User,
    settings: Settings,
) -> None:
    if callback_data.f != "office":
        await show_days(
            query, session, bookings, step(callback_data, Action.DAYS), user, settings, new_search=True
        )
        return
    codes = await repo.office_regions(session)
    codes.sort(key=lambda code: code != user.region)  # the teacher's own region first
    builder = KeyboardBuilder()
    for code in codes:
        builder.button(
            text=region_name(code, user.language) or code,
            callback_data=step(callback_data, Action.FIND, g=code),
        )
    builder.button(text=_("book-any-region"), callback_data=step(callback_data, Action.FIND, g=""))
    builder.adjust(1)
    await show(query, _("book-choose-region"), with_nav(builder, step(callback_data, Action.FORMAT)))


async def days(
    query: CallbackQuery,
    callback_data: Bk,
    session: AsyncSession,
    bookings: Bookings,
    user: User,
    settings: Settings,
) -> None:
    await show_days(query, session, bookings, callback_data, user, settings)


async def find(
    query: CallbackQuery,
    callback_data: Bk,
    session: AsyncSession,
    bookings: Bookings,
    user: User,
    settings: Settings,
) -> None:
    """The filters just set (an office's region, rescheduling, booking again): a new search."""
    data = step(callback_data, Action.DAYS)
    await show_days(query, session, bookings, data, user, settings, new_search=True)


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
    note = await note_for(state, callback_data)
    if not await show_confirm(query, session, bookings, callback_data, user, settings, note):
        await taken_now(query, callback_answer, session, bookings, callback_data, user, settings)


async def expect(query: CallbackQuery, callback_data: Bk, session: AsyncSession) -> None:
    """Before a first consultation: how long, what may be asked, confidentiality and its limits in
    this format, and that one may stop at any time; Back returns to the confirm screen."""
    slot = await repo.slot_by_id(session, callback_data.s)
    fmt = slot.format if slot is not None else callback_data.f
    text = _("sess-expect").format(
        minutes=slot.duration_min if slot is not None else 50, format_privacy=common.privacy_text(fmt)
    )
    await show(query, text, with_nav(KeyboardBuilder(), step(callback_data, Action.SLOT)))


async def wait(
    query: CallbackQuery, callback_data: Bk, session: AsyncSession, bookings: Bookings, user: User
) -> None:
    """No free time with these filters: the teacher is told once, when one opens (bot/workers/waitlist.py)."""
    if callback_data.f not in FORMATS:
        await show_formats(query)
        return
    await bookings.wait_for(session, user, filters_of(callback_data))
    builder = KeyboardBuilder()
    builder.button(text=_("menu-mine"), callback_data=MY_BOOKINGS)
    builder.row(*urgent_row())
    await show(query, _("sess-wait-saved"), with_nav(builder))


async def ask_note(query: CallbackQuery, callback_data: Bk, state: FSMContext) -> None:
    back = step(callback_data, Action.SLOT)
    await state.set_state(BookingFlow.note)
    await state.set_data({"slot": callback_data.s, "back": back.pack()})
    builder = KeyboardBuilder()
    builder.button(text=_("book-note-skip"), callback_data=back)
    await show(query, _("book-note-ask").format(limit=NOTE_LIMIT), with_nav(builder, back))


async def got_note(
    message: Message,
    text: str,
    session: AsyncSession,
    bookings: Bookings,
    user: User,
    settings: Settings,
    state: FSMContext,
) -> None:
    data = await state.get_data()
    note = text.strip()
    back = Bk.unpack(data["back"])
    if await too_long(message, note, NOTE_LIMIT, with_nav(KeyboardBuilder(), back)):
        return
    await state.set_state(None)
    await state.set_data({"slot": data.get("slot"), "note": note})
    if not await show_confirm(message, session, bookings, back, user, settings, note):
        builder = KeyboardBuilder()
        builder.button(text=_("book-fresh-times"), callback_data=step(back, Action.DAY))
        await message.answer(_("book-just-taken"), reply_markup=with_nav(builder))


async def note_not_text(message: Message) -> None:
    await message.answer(_("book-note-text-only"))


async def book(
    query: CallbackQuery,
    callback_data: Bk,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    bookings: Bookings,
    user: User,
    settings: Settings,
    state: FSMContext,
) -> None:
    now = utcnow()
    if not callback_data.r:  # the day's limit is checked by the booking itself
        note = await note_for(state, callback_data)
        result = await bookings.book(session, user, callback_data.s, note, now, settings.limits)
    elif await limits.booking_allowed(session, user, settings.limits, now):
        result = await bookings.move(session, user, callback_data.r, callback_data.s, now)
    else:
        result = BookResult(BookStatus.DAILY)
    if result.booking is not None:
        await state.clear()
        await booked(query, session, result, settings, user)
    else:
        await refused(query, callback_answer, session, bookings, callback_data, user, settings, result)


async def refused(
    query: CallbackQuery,
    answer: CallbackAnswer,
    session: AsyncSession,
    bookings: Bookings,
    data: Bk,
    user: User,
    settings: Settings,
    result: BookResult,
) -> None:
    """Why the slot could not be booked, and where to go from there."""
    if result.status is BookStatus.DAILY:
        await show(query, *common.daily_limit("limit-bookings", settings.limits.bookings_per_day))
    elif result.status is BookStatus.LIMIT:
        await show_limit(query, settings)
    elif result.status is BookStatus.STALE:
        answer.text, answer.show_alert = _("book-stale"), True
        await show(query, _("book-stale"), with_nav(KeyboardBuilder()))
    elif result.status is BookStatus.GONE:
        answer.text, answer.show_alert = _("book-gone"), True
        await show_times(query, session, bookings, data, user, settings)
    else:
        await taken_now(query, answer, session, bookings, data, user, settings)


def create_router() -> Router:
    router = Router(name="booking")
    press = router.callback_query.register
    press(start, cb.Menu.filter(F.item == cb.Section.BOOK))
    press(start, Bk.filter(F.a == Action.START))
    press(soon, Bk.filter(F.a == Action.SOON))
    press(choose_language, Bk.filter(F.a == Action.FORMAT))
    press(choose_region, Bk.filter(F.a == Action.LANGUAGE))
    press(days, Bk.filter(F.a == Action.DAYS))
    press(find, Bk.filter(F.a == Action.FIND))
    press(times, Bk.filter(F.a == Action.DAY))
    press(confirm, Bk.filter(F.a == Action.SLOT))
    press(ask_note, Bk.filter(F.a == Action.NOTE))
    press(expect, Bk.filter(F.a == Action.EXPECT))
    press(wait, Bk.filter(F.a == Action.WAIT))
    press(book, Bk.filter(F.a == Action.OK))
    router.message.register(got_note, StateFilter(BookingFlow.note), F.text.as_("text"))
    router.message.register(note_not_text, StateFilter(BookingFlow.note))
    return router
