"""Psychologist's cabinet (Menu "psy"): the profile teachers see, and what to do with a booking
(confirm, cancel with a reason, attended / no-show). Slots and schedules: handlers/availability.py."""

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
from bot.content.regions import regions
from bot.services.bookings import Bookings
from bot.telegram import callbacks as cb
from bot.telegram.filters import staff_only
from bot.telegram.keyboards import KeyboardBuilder, button, with_nav
from bot.telegram.ui import show
from bot.telegram.utf16 import truncate_utf16
from bot.views import booking as common
from handlers.common.questions import queue_button
from storage.models import Booking, PsychologistProfile, User
from storage.models.base import utcnow
from storage.models.booking import ATTENDED, CONFIRMED, FORMATS, LANGUAGES, NO_SHOW, REASON_LIMIT
from storage.repo import booking as repo

HOME = cb.Menu(item="psy")
PROFILE = cb.Psy(a="prof")
# Free-text profile fields and their length limits.
TEXT_FIELDS = {"name": 64, "address": 200, "link": 200, "bio_kk": 600, "bio_ru": 600}
COLUMNS = {
    "name": "display_name",
    "address": "address",
    "link": "video_link",
    "bio_kk": "bio_kk",
    "bio_ru": "bio_ru",
}


class PsyFlow(StatesGroup):
    text = State()  # data: field
    reason = State()  # data: booking


def toggle(codes: list[str], code: str, allowed) -> str:
    chosen = [c for c in codes if c != code] if code in codes else [*codes, code]
    return ",".join(c for c in allowed if c in chosen)


async def show_home(event: CallbackQuery | Message, profile: PsychologistProfile, user: User) -> None:
    status = _("psy-visible") if profile.published else _("psy-hidden")
    text = _("psy-home").format(status=status, profile=common.profile_summary(profile, user.language))
    builder = KeyboardBuilder()
    builder.button(text=_("psy-profile"), callback_data=PROFILE)
    builder.button(text=_("psy-add-slot"), callback_data=cb.Psy(a="cal"))
    builder.button(text=_("psy-template"), callback_data=cb.Psy(a="tw"))
    builder.button(text=_("psy-today"), callback_data=cb.Psy(a="day"))
    builder.button(text=_("psy-week"), callback_data=cb.Psy(a="week"))
    builder.button(text=_("duty-button"), callback_data=cb.Duty(a=cb.DutyAction.HOME))
    builder.adjust(1, 2, 2, 1)
    builder.row(*queue_button().inline_keyboard[0])  # anonymous questions waiting for a psychologist
    await show(event, text, with_nav(builder))


async def show_profile(event: CallbackQuery | Message, profile: PsychologistProfile, user: User) -> None:
    builder = KeyboardBuilder()
    for field in ("name", "langs", "fmts", "regs", "address", "link", "bio_kk", "bio_ru"):
        action = "edit" if field in TEXT_FIELDS else field
        builder.button(text=_("psy-field-" + field), callback_data=cb.Psy(a=action, v=field))
    builder.adjust(2)
    notice = _("short-notice-on" if profile.short_notice else "short-notice-off")
    builder.row(button(notice, cb.Psy(a="sn")))
    text = _("psy-profile-title").format(profile=common.profile_summary(profile, user.language))
    await show(event, text, with_nav(builder, HOME))


def choice_screen(codes: list[str], chosen: list[str], action: str, name) -> KeyboardBuilder:
    builder = KeyboardBuilder()
    for code in codes:
        mark = "✓ " if code in chosen else ""
        builder.button(text=mark + name(code), callback_data=cb.Psy(a=action, v=code))
    builder.adjust(2)
    return builder


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
    return text


def booking_buttons(booking: Booking) -> KeyboardBuilder:
    builder = KeyboardBuilder()
    if booking.state == "booked":
        builder.button(text=_("psy-confirm"), callback_data=cb.Psy(a="bcf", id=booking.id))
    if booking.upcoming:
        builder.button(text=_("psy-cancel"), callback_data=cb.Psy(a="bcx", id=booking.id))
        if booking.slot.starts_at <= utcnow():
            builder.button(text=_("psy-attended"), callback_data=cb.Psy(a="att", id=booking.id))
            builder.button(text=_("psy-no-show"), callback_data=cb.Psy(a="ns", id=booking.id))
    builder.adjust(2)
    return builder


def create_router() -> Router:
    router = staff_only(Router(name="psychologist"), "psychologist")

    async def own_profile(session: AsyncSession, user: User) -> PsychologistProfile:
        return await repo.ensure_profile(session, user)

    async def changed(event, session: AsyncSession, profile: PsychologistProfile, user: User) -> None:
        profile.published = repo.profile_ready(profile)
        await show_profile(event, profile, user)

    @router.callback_query(cb.Menu.filter(F.item == "psy"))
    async def home(query: CallbackQuery, session: AsyncSession, user: User, state: FSMContext) -> None:
        await state.clear()
        await show_home(query, await own_profile(session, user), user)

    @router.callback_query(cb.Psy.filter(F.a == "prof"))
    async def profile(query: CallbackQuery, session: AsyncSession, user: User, state: FSMContext) -> None:
        await state.clear()
        await show_profile(query, await own_profile(session, user), user)

    @router.callback_query(cb.Psy.filter(F.a == "sn"))
    async def short_notice(query: CallbackQuery, session: AsyncSession, user: User) -> None:
        """Accept bookings up to [booking] urgent_notice_minutes before the start (the earliest help)."""
        profile = await own_profile(session, user)
        profile.short_notice = not profile.short_notice
        await show_profile(query, profile, user)

    @router.callback_query(cb.Psy.filter(F.a == "edit"))
    async def ask_text(query: CallbackQuery, callback_data: cb.Psy, state: FSMContext) -> None:
        if callback_data.v not in TEXT_FIELDS:
            return
        await state.set_state(PsyFlow.text)
        await state.set_data({"field": callback_data.v})
        text = _("psy-ask-" + callback_data.v).format(limit=TEXT_FIELDS[callback_data.v])
        await show(query, text, with_nav(KeyboardBuilder(), PROFILE))

    @router.message(StateFilter(PsyFlow.text), F.text)
    async def got_text(message: Message, session: AsyncSession, user: User, state: FSMContext) -> None:
        field = (await state.get_data()).get("field", "")
        value = message.text.strip()[: TEXT_FIELDS.get(field, 0)]
        if field == "link" and value and not value.startswith("https://"):
            return await message.answer(_("psy-link-invalid"))
        await state.clear()
        profile = await own_profile(session, user)
        if field in COLUMNS:
            setattr(profile, COLUMNS[field], value or ("" if field == "name" else None))
        await changed(message, session, profile, user)

    @router.callback_query(cb.Psy.filter(F.a.in_({"langs", "tl"})))
    async def languages(
        query: CallbackQuery, callback_data: cb.Psy, session: AsyncSession, user: User
    ) -> None:
        profile = await own_profile(session, user)
        if callback_data.a == "tl" and callback_data.v in LANGUAGES:
            profile.languages = toggle(profile.language_list, callback_data.v, LANGUAGES)
            profile.published = repo.profile_ready(profile)
        builder = choice_screen(list(LANGUAGES), profile.language_list, "tl", lambda c: _("bk-lang-" + c))
        await show(query, _("psy-choose-languages"), with_nav(builder, PROFILE))

    @router.callback_query(cb.Psy.filter(F.a.in_({"fmts", "tf"})))
    async def formats(query: CallbackQuery, callback_data: cb.Psy, session: AsyncSession, user: User) -> None:
        profile = await own_profile(session, user)
        if callback_data.a == "tf" and callback_data.v in FORMATS:
            profile.formats = toggle(profile.format_list, callback_data.v, FORMATS)
            profile.published = repo.profile_ready(profile)
        builder = choice_screen(list(FORMATS), profile.format_list, "tf", common.format_name)
        await show(query, _("psy-choose-formats"), with_nav(builder, PROFILE))

    @router.callback_query(cb.Psy.filter(F.a.in_({"regs", "tr"})))
    async def choose_regions(
        query: CallbackQuery, callback_data: cb.Psy, session: AsyncSession, user: User
    ) -> None:
        profile = await own_profile(session, user)
        if callback_data.a == "tr" and callback_data.v in regions():
            profile.regions = toggle(profile.region_list, callback_data.v, list(regions()))
            profile.published = repo.profile_ready(profile)
        builder = choice_screen(
            list(regions()), profile.region_list, "tr", lambda c: regions()[c].name(user.language)
        )
        await show(query, _("psy-choose-regions"), with_nav(builder, PROFILE))

    # --- a booking ---------------------------------------------------------------------------------------

    async def own_booking(query, callback_data, answer, session, user) -> Booking | None:
        profile = await own_profile(session, user)
        booking = await repo.psychologist_booking(session, profile, callback_data.id)
        if booking is None:
            answer.text, answer.show_alert = _("psy-booking-gone"), True
            await show_home(query, profile, user)
        return booking

    async def show_booking(event, booking: Booking, user: User, settings: Settings, prefix: str = "") -> None:
        day = booking.slot.starts_at.astimezone(settings.tz).strftime("%Y%m%d")
        builder = booking_buttons(booking)
        await show(
            event,
            prefix + booking_text(booking, settings, user.language),
            with_nav(builder, cb.Psy(a="day", v=day)),
        )

    @router.callback_query(cb.Psy.filter(F.a == "bk"))
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

    @router.callback_query(cb.Psy.filter(F.a.in_({"bcf", "att", "ns"})))
    async def mark(
        query: CallbackQuery,
        callback_data: cb.Psy,
        callback_answer: CallbackAnswer,
        bot: Bot,
        session: AsyncSession,
        bookings: Bookings,
        sessions: async_sessionmaker[AsyncSession],
        user: User,
        settings: Settings,
        i18n: I18n,
    ) -> None:
        booking = await own_booking(query, callback_data, callback_answer, session, user)
        if booking is None:
            return
        state = {"bcf": CONFIRMED, "att": ATTENDED, "ns": NO_SHOW}[callback_data.a]
        if not await bookings.mark(session, booking, state, utcnow()):
            # A stale button on a cancelled or moved booking is not a "too early" case.
            refusal = "psy-mark-refused" if booking.upcoming else "psy-booking-closed"
            callback_answer.text, callback_answer.show_alert = _(refusal), True
            return await show_booking(query, booking, user, settings)
        # No rating prompt here: the durable feedback reminder (bot/booking_reminders.py) asks once,
        # 1 h after the end, or at once when the mark comes later than that.
        notice = {CONFIRMED: "confirmed"}.get(state)
        outbox = common.only(common.to_teacher(i18n, booking, notice, settings.tz)) if notice else []
        await session.commit()  # the teacher acts on the message (rates) only once the mark is saved
        await common.send_all(bot, sessions, outbox)
        callback_answer.text = _("psy-saved")
        await show_booking(query, booking, user, settings)

    @router.callback_query(cb.Psy.filter(F.a == "bcx"))
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
            return await show_booking(query, booking, user, settings)
        await state.set_state(PsyFlow.reason)
        await state.set_data({"booking": booking.id})
        builder = KeyboardBuilder()
        builder.button(text=_("psy-cancel-no-reason"), callback_data=cb.Psy(a="bcxn", id=booking.id))
        await show(
            query,
            _("psy-cancel-ask").format(limit=REASON_LIMIT),
            with_nav(builder, cb.Psy(a="bk", id=booking.id)),
        )

    async def cancel_booking(
        event, booking: Booking, reason: str | None, bot, session, bookings, sessions, user, settings, i18n
    ):
        if not await bookings.cancel(session, booking, "psychologist", utcnow(), reason):
            return await show_booking(event, booking, user, settings)
        outbox = common.only(common.to_teacher(i18n, booking, "cancelled_by_psy", settings.tz))
        await session.commit()  # the teacher is told only once the slot is really released
        await common.send_all(bot, sessions, outbox)
        await show_booking(event, booking, user, settings, prefix=_("psy-cancelled") + "\n\n")

    @router.callback_query(cb.Psy.filter(F.a == "bcxn"))
    async def cancel_without_reason(
        query: CallbackQuery,
        callback_data: cb.Psy,
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
        await state.clear()
        booking = await own_booking(query, callback_data, callback_answer, session, user)
        if booking is not None:
            await cancel_booking(query, booking, None, bot, session, bookings, sessions, user, settings, i18n)

    @router.message(StateFilter(PsyFlow.reason), F.text)
    async def cancel_with_reason(
        message: Message,
        bot: Bot,
        session: AsyncSession,
        bookings: Bookings,
        sessions: async_sessionmaker[AsyncSession],
        user: User,
        settings: Settings,
        i18n: I18n,
        state: FSMContext,
    ) -> None:
        booking_id = (await state.get_data()).get("booking", 0)
        await state.clear()
        profile = await own_profile(session, user)
        booking = await repo.psychologist_booking(session, profile, booking_id)
        if booking is None:
            return await show_home(message, profile, user)
        reason = truncate_utf16(message.text.strip(), REASON_LIMIT)
        await cancel_booking(message, booking, reason, bot, session, bookings, sessions, user, settings, i18n)

    return router
