"""Psychologist's cabinet (Menu "psy"): the profile teachers see, and what to do with a booking
(confirm, cancel with a reason, attended / no-show). Slots and schedules: handlers/availability.py."""

from __future__ import annotations

from collections.abc import Callable

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.content.regions import regions
from bot.services import profiles
from bot.services.bookings import Bookings
from bot.services.rooms import set_slot_link
from bot.telegram import callbacks as cb
from bot.telegram.filters import staff_only
from bot.telegram.keyboards import KeyboardBuilder, button, with_nav
from bot.telegram.ui import show, too_long
from bot.views import booking as common
from bot.views import rooms
from handlers.common.questions import queue_button
from storage.models import Booking, PsychologistProfile, User
from storage.models.base import utcnow
from storage.models.booking import ATTENDED, CONFIRMED, FORMATS, LANGUAGES, NO_SHOW, REASON_LIMIT
from storage.repo import booking as repo

A = cb.PsyAction
HOME = cb.Menu(item=cb.Section.PSYCHOLOGIST)
PROFILE = cb.Psy(a=A.PROFILE)
# The profile screen's buttons: a free-text field opens its prompt, a choice its screen.
PROFILE_FIELDS = {
    "name": A.EDIT,
    "langs": A.LANGUAGES,
    "fmts": A.FORMATS,
    "regs": A.REGIONS,
    "address": A.EDIT,
    "link": A.EDIT,
    "bio_kk": A.EDIT,
    "bio_ru": A.EDIT,
}
MARKS = {A.CONFIRM: CONFIRMED, A.ATTENDED: ATTENDED, A.NO_SHOW: NO_SHOW}


class PsyFlow(StatesGroup):
    text = State()  # data: field
    reason = State()  # data: booking
    link = State()  # data: booking (its slot's own video link)


async def show_home(event: CallbackQuery | Message, profile: PsychologistProfile, user: User) -> None:
    status = _("psy-visible") if profile.published else _("psy-hidden")
    text = _("psy-home").format(status=status, profile=common.profile_summary(profile, user.language))
    builder = KeyboardBuilder()
    builder.button(text=_("psy-profile"), callback_data=PROFILE)
    builder.button(text=_("psy-add-slot"), callback_data=cb.Psy(a=A.CALENDAR))
    builder.button(text=_("psy-template"), callback_data=cb.Psy(a=A.TEMPLATE))
    builder.button(text=_("psy-today"), callback_data=cb.Psy(a=A.DAY))
    builder.button(text=_("psy-week"), callback_data=cb.Psy(a=A.WEEK))
    builder.button(text=_("duty-button"), callback_data=cb.Duty(a=cb.DutyAction.HOME))
    builder.button(
        text=_("practice-caseload-button"), callback_data=cb.Practice(a=cb.PracticeAction.CASELOAD)
    )
    builder.adjust(1, 2, 2, 2)
    builder.row(*queue_button().inline_keyboard[0])  # anonymous questions waiting for a psychologist
    await show(event, text, with_nav(builder))


async def show_profile(event: CallbackQuery | Message, profile: PsychologistProfile, user: User) -> None:
    builder = KeyboardBuilder()
    for field, action in PROFILE_FIELDS.items():
        builder.button(text=_("psy-field-" + field), callback_data=cb.Psy(a=action, v=field))
    builder.adjust(2)
    notice = _("short-notice-on" if profile.short_notice else "short-notice-off")
    builder.row(button(notice, cb.Psy(a=A.SHORT_NOTICE)))
    text = _("psy-profile-title").format(profile=common.profile_summary(profile, user.language))
    await show(event, text, with_nav(builder, HOME))


async def show_choices(
    query: CallbackQuery,
    title: str,
    codes: list[str],
    chosen: list[str],
    action: cb.PsyAction,
    name: Callable[[str], str],
) -> None:
    builder = KeyboardBuilder()
    for code in codes:
        mark = "✓ " if code in chosen else ""
        builder.button(text=mark + name(code), callback_data=cb.Psy(a=action, v=code))
    builder.adjust(2)
    await show(query, title, with_nav(builder, PROFILE))


def booking_text(booking: Booking, settings: Settings, language: str) -> str:
    slot = booking.slot
    text = _("psy-booking").format(
        code=booking.teacher.pseudonym,
        when=common.when(slot.starts_at, settings.tz, language),
        format=common.format_name(slot.format),
        state=_("psy-state-" + booking.state),
    )
    if booking.note:
        text += "\n\n" + _("psy-notice-note").format(note=common.esc(booking.note))
    if booking.upcoming and slot.format == "video":
        own = _("sess-own-link-set") if slot.video_link else _("sess-own-link-none")
        way_in = rooms.booking_way_in(settings.video, booking, utcnow(), psychologist=True)
        text += "\n\n" + (way_in + "\n" if way_in else "") + own
    return text


def booking_buttons(booking: Booking) -> KeyboardBuilder:
    builder = KeyboardBuilder()
    builder.button(
        text=_("practice-notes"), callback_data=cb.Practice(a=cb.PracticeAction.NOTE, id=booking.id)
    )
    if booking.state == "booked":
        builder.button(text=_("psy-confirm"), callback_data=cb.Psy(a=A.CONFIRM, id=booking.id))
    if booking.upcoming:
        builder.button(text=_("psy-cancel"), callback_data=cb.Psy(a=A.CANCEL, id=booking.id))
        if booking.slot.format == "video":
            builder.button(text=_("sess-own-link"), callback_data=cb.Psy(a=A.OWN_LINK, id=booking.id))
        if booking.slot.starts_at <= utcnow():
            builder.button(text=_("psy-attended"), callback_data=cb.Psy(a=A.ATTENDED, id=booking.id))
            builder.button(text=_("psy-no-show"), callback_data=cb.Psy(a=A.NO_SHOW, id=booking.id))
    builder.adjust(2)
    return builder


async def show_booking(
    event: CallbackQuery | Message, booking: Booking, user: User, settings: Settings, prefix: str = ""
) -> None:
    day = booking.slot.starts_at.astimezone(settings.tz).strftime("%Y%m%d")
    text = prefix + booking_text(booking, settings, user.language)
    await show(event, text, with_nav(booking_buttons(booking), cb.Psy(a=A.DAY, v=day)))


async def own_booking(
    query: CallbackQuery, callback_data: cb.Psy, answer: CallbackAnswer, session: AsyncSession, user: User
) -> Booking | None:
    """The booking pressed on, if it is this psychologist's; otherwise they are told and taken home."""
    profile = await repo.ensure_profile(session, user)
    booking = await repo.psychologist_booking(session, profile, callback_data.id)
    if booking is None:
        answer.text, answer.show_alert = _("psy-booking-gone"), True
        await show_home(query, profile, user)
    return booking


# --- the profile ---------------------------------------------------------------------------------------


async def home(query: CallbackQuery, session: AsyncSession, user: User, state: FSMContext) -> None:
    await state.clear()
    await show_home(query, await repo.ensure_profile(session, user), user)


async def profile_screen(query: CallbackQuery, session: AsyncSession, user: User, state: FSMContext) -> None:
    await state.clear()
    await show_profile(query, await repo.ensure_profile(session, user), user)


async def short_notice(query: CallbackQuery, session: AsyncSession, user: User) -> None:
    """Accept bookings up to [booking] urgent_notice_minutes before the start (the earliest help)."""
    profile = await repo.ensure_profile(session, user)
    profile.short_notice = not profile.short_notice
    await show_profile(query, profile, user)


async def ask_text(query: CallbackQuery, callback_data: cb.Psy, state: FSMContext) -> None:
    field = callback_data.v
    if field not in profiles.TEXT_LIMITS:
        return
    await state.set_state(PsyFlow.text)
    await state.set_data({"field": field})
    text = _("psy-ask-" + field).format(limit=profiles.TEXT_LIMITS[field])
    await show(query, text, with_nav(KeyboardBuilder(), PROFILE))


async def got_text(message: Message, session: AsyncSession, user: User, state: FSMContext) -> None:
    field, text = (await state.get_data()).get("field", ""), (message.text or "").strip()
    if await too_long(
        message, text, profiles.TEXT_LIMITS.get(field, 0), with_nav(KeyboardBuilder(), PROFILE)
    ):
        return
    profile = await repo.ensure_profile(session, user)
    if not profiles.set_text(profile, field, text):
        await message.answer(_("psy-link-invalid"))
        return
    await state.clear()
    await show_profile(message, profile, user)


async def languages(query: CallbackQuery, callback_data: cb.Psy, session: AsyncSession, user: User) -> None:
    profile = await repo.ensure_profile(session, user)
    if callback_data.a == A.TOGGLE_LANGUAGE:
        profiles.toggle(profile, "languages", callback_data.v, LANGUAGES)
    await show_choices(
        query,
        _("psy-choose-languages"),
        list(LANGUAGES),
        profile.language_list,
        A.TOGGLE_LANGUAGE,
        lambda code: _("bk-lang-" + code),
    )


async def formats(query: CallbackQuery, callback_data: cb.Psy, session: AsyncSession, user: User) -> None:
    profile = await repo.ensure_profile(session, user)
    if callback_data.a == A.TOGGLE_FORMAT:
        profiles.toggle(profile, "formats", callback_data.v, FORMATS)
    await show_choices(
        query,
        _("psy-choose-formats"),
        list(FORMATS),
        profile.format_list,
        A.TOGGLE_FORMAT,
        common.format_name,
    )


async def choose_regions(
    query: CallbackQuery, callback_data: cb.Psy, session: AsyncSession, user: User
) -> None:
    profile = await repo.ensure_profile(session, user)
    if callback_data.a == A.TOGGLE_REGION:
        profiles.toggle(profile, "regions", callback_data.v, regions())
    await show_choices(
        query,
        _("psy-choose-regions"),
        list(regions()),
        profile.region_list,
        A.TOGGLE_REGION,
        lambda code: regions()[code].name(user.language),
    )


# --- a booking -----------------------------------------------------------------------------------------


async def open_booking(
    query: CallbackQuery,
    callback_data: cb.Psy,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    user: User,
    settings: Settings,
    state: FSMContext,
) -> None:
    await state.clear()
    booking = await own_booking(query, callback_data, callback_answer, session, user)
    if booking is not None:
        await show_booking(query, booking, user, settings)


async def mark(
    query: CallbackQuery,
    callback_data: cb.Psy,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    bookings: Bookings,
    user: User,
    settings: Settings,
) -> None:
    booking = await own_booking(query, callback_data, callback_answer, session, user)
    if booking is None:
        return
    state = MARKS[callback_data.a]
    if not await bookings.mark(session, booking, state, utcnow()):
        # A stale button on a cancelled or moved booking is not a "too early" case.
        refusal = "psy-mark-refused" if booking.upcoming else "psy-booking-closed"
        callback_answer.text, callback_answer.show_alert = _(refusal), True
        await show_booking(query, booking, user, settings)
        return
    # No rating prompt here: the durable feedback reminder (bot/booking_reminders.py) asks once,
    # 1 h after the end, or at once when the mark comes later than that.
    await session.commit()  # a confirmation's notice to the teacher goes out now (bot/workers/notices.py)
    callback_answer.text = _("psy-saved")
    await show_booking(query, booking, user, settings)


async def ask_reason(
    query: CallbackQuery,
    callback_data: cb.Psy,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    user: User,
    settings: Settings,
    state: FSMContext,
) -> None:
    booking = await own_booking(query, callback_data, callback_answer, session, user)
    if booking is None:
        return
    if not booking.upcoming:  # a stale Cancel on a booking already cancelled, moved or held
        callback_answer.text, callback_answer.show_alert = _("psy-booking-closed"), True
        await show_booking(query, booking, user, settings)
        return
    await state.set_state(PsyFlow.reason)
    await state.set_data({"booking": booking.id})
    builder = KeyboardBuilder()
    builder.button(text=_("psy-cancel-no-reason"), callback_data=cb.Psy(a=A.CANCEL_NO_REASON, id=booking.id))
    text = _("psy-cancel-ask").format(limit=REASON_LIMIT)
    await show(query, text, with_nav(builder, cb.Psy(a=A.BOOKING, id=booking.id)))


async def cancel_booking(
    event: CallbackQuery | Message,
    booking: Booking,
    reason: str | None,
    *,
    session: AsyncSession,
    bookings: Bookings,
    user: User,
    settings: Settings,
) -> None:
    if not await bookings.cancel(session, booking, "psychologist", utcnow(), reason):
        await show_booking(event, booking, user, settings)
        return
    await session.commit()  # the slot is released; the teacher's notice goes out now
    await show_booking(event, booking, user, settings, prefix=_("psy-cancelled") + "\n\n")


async def cancel_without_reason(
    query: CallbackQuery,
    callback_data: cb.Psy,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    bookings: Bookings,
    user: User,
    settings: Settings,
    state: FSMContext,
) -> None:
    await state.clear()
    booking = await own_booking(query, callback_data, callback_answer, session, user)
    if booking is not None:
        await cancel_booking(
            query,
            booking,
            None,
            session=session,
            bookings=bookings,
            user=user,
            settings=settings,
        )


async def cancel_with_reason(
    message: Message,
    session: AsyncSession,
    bookings: Bookings,
    user: User,
    settings: Settings,
    state: FSMContext,
) -> None:
    booking_id = (await state.get_data()).get("booking", 0)
    reason = (message.text or "").strip()
    back = with_nav(KeyboardBuilder(), cb.Psy(a=A.BOOKING, id=booking_id))
    if await too_long(message, reason, REASON_LIMIT, back):
        return
    await state.clear()
    profile = await repo.ensure_profile(session, user)
    booking = await repo.psychologist_booking(session, profile, booking_id)
    if booking is None:
        await show_home(message, profile, user)
        return
    await cancel_booking(
        message,
        booking,
        reason,
        session=session,
        bookings=bookings,
        user=user,
        settings=settings,
    )


async def ask_link(
    query: CallbackQuery,
    callback_data: cb.Psy,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    user: User,
    settings: Settings,
    state: FSMContext,
) -> None:
    """The psychologist's own link for this one session, instead of its room."""
    booking = await own_booking(query, callback_data, callback_answer, session, user)
    if booking is None or not booking.upcoming or booking.slot.format != "video":
        return
    await state.set_state(PsyFlow.link)
    await state.set_data({"booking": booking.id})
    await show(query, _("sess-own-link-ask"), with_nav(KeyboardBuilder(), cb.Psy(a=A.BOOKING, id=booking.id)))


async def got_link(
    message: Message, session: AsyncSession, user: User, settings: Settings, state: FSMContext
) -> None:
    profile = await repo.ensure_profile(session, user)
    booking = await repo.psychologist_booking(session, profile, (await state.get_data()).get("booking", 0))
    if booking is None:
        await state.clear()
        await show_home(message, profile, user)
        return
    if not set_slot_link(booking.slot, message.text or ""):
        await message.answer(_("psy-link-invalid"))
        return
    await state.clear()
    await show_booking(message, booking, user, settings, prefix=_("psy-saved") + "\n\n")


def create_router() -> Router:
    router = staff_only(Router(name="psychologist"), "psychologist")
    press = router.callback_query.register
    press(home, cb.Menu.filter(F.item == cb.Section.PSYCHOLOGIST))
    press(profile_screen, cb.Psy.filter(F.a == A.PROFILE))
    press(short_notice, cb.Psy.filter(F.a == A.SHORT_NOTICE))
    press(ask_text, cb.Psy.filter(F.a == A.EDIT))
    router.message.register(got_text, StateFilter(PsyFlow.text), F.text)
    press(languages, cb.Psy.filter(F.a.in_({A.LANGUAGES, A.TOGGLE_LANGUAGE})))
    press(formats, cb.Psy.filter(F.a.in_({A.FORMATS, A.TOGGLE_FORMAT})))
    press(choose_regions, cb.Psy.filter(F.a.in_({A.REGIONS, A.TOGGLE_REGION})))
    press(open_booking, cb.Psy.filter(F.a == A.BOOKING))
    press(mark, cb.Psy.filter(F.a.in_(frozenset(MARKS))))
    press(ask_reason, cb.Psy.filter(F.a == A.CANCEL))
    press(cancel_without_reason, cb.Psy.filter(F.a == A.CANCEL_NO_REASON))
    router.message.register(cancel_with_reason, StateFilter(PsyFlow.reason), F.text)
    press(ask_link, cb.Psy.filter(F.a == A.OWN_LINK))
    router.message.register(got_link, StateFilter(PsyFlow.link), F.text)
    return router
