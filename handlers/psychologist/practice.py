"""A psychologist's practice (Cabinet → a booking → Notes; Cabinet → Caseload): private notes on a
booking or a group session, the teacher's intake, their earlier sessions when they allowed it, an
in-person referral, and the caseload of today and this week with what waits for them (marks to
give, how many came to the group sessions they led).

A note is shown and written only for its author: each press finds the booking or group through
bot.services.practice, which refuses anyone else's (a forged press gets an alert and nothing more).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.content.instruments import load_instruments
from bot.services import groups as group_rules
from bot.services import practice
from bot.services.text import truncate_utf16
from bot.telegram import callbacks as cb
from bot.telegram.callbacks import Practice, PracticeAction
from bot.telegram.filters import staff_only
from bot.telegram.keyboards import KeyboardBuilder, button, with_nav
from bot.telegram.ui import show
from bot.views import booking as common
from bot.views.groups import attendance_question, count_picker
from bot.views.practice import referral_text
from bot.workers import practice as outbox
from handlers.common.questions import queue_button
from storage.models import Booking, GroupSession, User
from storage.models.base import utcnow
from storage.repo import groups

A = PracticeAction
HOME = cb.Menu(item=cb.Section.PSYCHOLOGIST)
CASELOAD = Practice(a=A.CASELOAD)
EARLIER_SHOWN = 5  # the latest earlier sessions on the note screen
EARLIER_NOTE = 120  # characters of each one's note
LISTED = 4  # sessions listed by name on a caseload screen


class NoteFlow(StatesGroup):
    text = State()  # data: id, g, f (the field)


Target = Booking | GroupSession


async def target(session: AsyncSession, user: User, target_id: int, group: int) -> Target | None:
    if group:
        return await practice.own_group(session, user, target_id)
    return await practice.own_booking(session, user, target_id)


def topics_line(codes: list[str]) -> str:
    return ", ".join(_("practice-topic-" + code) for code in codes) or "—"


def intake_text(answers: dict[str, Any]) -> str:
    language = _("bk-lang-" + answers["l"]) if answers.get("l") else _("practice-intake-any-language")
    return _("practice-intake-shown").format(
        topics=topics_line(answers.get("k", [])),
        text=common.esc(answers.get("t")) or "—",
        language=language,
        urgency=_(f"practice-urgency-{answers.get('u', 0)}"),
        before=_("practice-yes") if answers.get("b") else _("practice-no"),
    )


def earlier_text(earlier: list[practice.Earlier], settings: Settings, language: str) -> str:
    lines = [_("practice-returning").format(count=len(earlier))]
    catalogue = load_instruments() if any(item.shared for item in earlier) else {}
    for item in earlier[-EARLIER_SHOWN:]:
        note = truncate_utf16((item.note or {}).get("t", ""), EARLIER_NOTE)
        when = common.when(item.booking.slot.starts_at, settings.tz, language)
        lines.append(f"• {when}: {common.esc(note) or '—'}")
        if item.shared:
            names = ", ".join(catalogue[code].abbreviation for code in item.shared if code in catalogue)
            lines.append("  " + _("practice-shared").format(names=common.esc(names)))
    return "\n".join(lines)


async def note_text(session: AsyncSession, user: User, item: Target, settings: Settings) -> str:
    body = await body_of(session, user, item)
    if isinstance(item, Booking):
        title = _("practice-note-title").format(
            code=item.teacher.pseudonym, when=common.when(item.slot.starts_at, settings.tz, user.language)
        )
    else:
        title = _("practice-group-note-title").format(
            title=common.esc(item.title(user.language)),
            when=common.when(item.starts_at, settings.tz, user.language),
        )
    parts = [
        title,
        _("practice-note-body").format(
            text=common.esc(body.get("t")) or "—",
            topics=topics_line(body.get("k", [])),
            next=common.esc(body.get("n")) or "—",
        ),
    ]
    if isinstance(item, Booking):
        if item.intake is not None:
            urgent = practice.is_urgent(item.intake)
            parts.append((_("practice-urgent-mark") + "\n" if urgent else "") + intake_text(item.intake))
        earlier = await practice.history(session, user, item)
        if earlier:  # None: the teacher did not allow it; []: nothing earlier
            parts.append(earlier_text(earlier, settings, user.language))
    return "\n\n".join(parts)


def note_keyboard(item: Target) -> KeyboardBuilder:
    group = int(isinstance(item, GroupSession))
    builder = KeyboardBuilder()
    builder.button(text=_("practice-edit-text"), callback_data=Practice(a=A.EDIT, id=item.id, g=group, v="t"))
    builder.button(text=_("practice-edit-topics"), callback_data=Practice(a=A.TOPICS, id=item.id, g=group))
    builder.button(text=_("practice-edit-next"), callback_data=Practice(a=A.EDIT, id=item.id, g=group, v="n"))
    if not group:
        builder.button(text=_("practice-refer"), callback_data=Practice(a=A.REFER, id=item.id))
    builder.adjust(2)
    return builder


async def show_note(
    event: CallbackQuery | Message, session: AsyncSession, user: User, item: Target, settings: Settings
) -> None:
    back = cb.Psy(a=cb.PsyAction.BOOKING, id=item.id) if isinstance(item, Booking) else CASELOAD
    text = await note_text(session, user, item, settings)
    await show(event, text, with_nav(note_keyboard(item), back))


def refused(answer: CallbackAnswer) -> None:
    """Not this psychologist's booking or group (a forged or stale press): an alert, no content."""
    answer.text, answer.show_alert = _("practice-not-yours"), True


async def note(
    query: CallbackQuery,
    callback_data: Practice,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    user: User,
    settings: Settings,
    state: FSMContext,
) -> None:
    await state.clear()
    item = await target(session, user, callback_data.id, callback_data.g)
    if item is None:
        refused(callback_answer)
        return
    await show_note(query, session, user, item, settings)


async def ask_text(
    query: CallbackQuery,
    callback_data: Practice,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    user: User,
    state: FSMContext,
) -> None:
    data = callback_data
    item = await target(session, user, data.id, data.g)
    if item is None or data.v not in practice.LIMITS:
        refused(callback_answer)
        return
    await state.set_state(NoteFlow.text)
    await state.set_data({"id": data.id, "g": data.g, "f": data.v})
    prompt = _("practice-ask-" + data.v).format(limit=practice.LIMITS[data.v])
    await show(query, prompt, with_nav(KeyboardBuilder(), Practice(a=A.NOTE, id=data.id, g=data.g)))


async def got_text(
    message: Message, session: AsyncSession, user: User, settings: Settings, state: FSMContext
) -> None:
    data = await state.get_data()
    await state.clear()
    item = await target(session, user, data.get("id", 0), data.get("g", 0))
    if item is None:
        await message.answer(_("practice-not-yours"))
        return
    await save(session, user, item, lambda body: practice.with_text(body, data["f"], message.text or ""))
    await show_note(message, session, user, item, settings)


async def body_of(session: AsyncSession, user: User, item: Target) -> dict[str, Any]:
    if isinstance(item, Booking):
        return await practice.booking_note(session, user, item)
    return await practice.group_note(session, user, item)


async def save(
    session: AsyncSession, user: User, item: Target, change: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    body = change(await body_of(session, user, item))
    if isinstance(item, Booking):
        await practice.save_booking_note(session, user, item, body)
    else:
        await practice.save_group_note(session, user, item, body)


async def topics(
    query: CallbackQuery,
    callback_data: Practice,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    user: User,
) -> None:
    data = callback_data
    item = await target(session, user, data.id, data.g)
    if item is None:
        refused(callback_answer)
        return
    if data.a == A.TOPIC:
        await save(
            session, user, item, lambda body: body | {"k": practice.toggled(body.get("k", []), data.v)}
        )
    body = await body_of(session, user, item)
    builder = KeyboardBuilder()
    for code in practice.TOPICS:
        mark = "✓ " if code in body.get("k", []) else ""
        builder.button(
            text=mark + _("practice-topic-" + code),
            callback_data=Practice(a=A.TOPIC, id=data.id, g=data.g, v=code),
        )
    builder.adjust(2)
    await show(query, _("practice-topics-title"), with_nav(builder, Practice(a=A.NOTE, id=data.id, g=data.g)))


# --- a referral ------------------------------------------------------------------------------------------


async def own_booking(
    session: AsyncSession, user: User, booking_id: int, answer: CallbackAnswer
) -> Booking | None:
    """The booking pressed on if it is this psychologist's; otherwise refused."""
    booking = await practice.own_booking(session, user, booking_id)
    if booking is None:
        refused(answer)
    return booking


async def refer(
    query: CallbackQuery,
    callback_data: Practice,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    user: User,
) -> None:
    """The referral as the teacher will read it (their region's centres, in their language), to send."""
    booking = await own_booking(session, user, callback_data.id, callback_answer)
    if booking is None:
        return
    teacher = booking.teacher
    preview = referral_text(teacher.region, teacher.language)
    builder = KeyboardBuilder()
    builder.button(text=_("practice-refer-send"), callback_data=Practice(a=A.REFER_SEND, id=booking.id))
    text = _("practice-refer-preview").format(code=teacher.pseudonym, text=preview)
    await show(query, text, with_nav(builder, Practice(a=A.NOTE, id=booking.id)))


async def refer_send(
    query: CallbackQuery,
    callback_data: Practice,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    user: User,
    settings: Settings,
) -> None:
    booking = await own_booking(session, user, callback_data.id, callback_answer)
    if booking is None:
        return
    sent = await outbox.refer(session, booking)
    callback_answer.text = _("practice-refer-queued" if sent else "practice-refer-already")
    await show_note(query, session, user, booking, settings)


# --- the caseload ----------------------------------------------------------------------------------------


def short_when(booking: Booking, settings: Settings, language: str) -> str:
    local = booking.slot.starts_at.astimezone(settings.tz)
    return f"{common.day_label(local.date(), language)} {local:%H:%M}"


def caseload_text(load: practice.Caseload, week: bool, settings: Settings, language: str) -> str:
    def line(booking: Booking) -> str:
        mark = "⚠️ " if booking.id in load.urgent else ""
        moment = (
            common.when(booking.slot.starts_at, settings.tz, language)
            if week
            else common.hhmm(booking.slot.starts_at, settings.tz)
        )
        fmt = common.format_name(booking.slot.format)
        return f"• {mark}{moment} · {fmt} · {booking.teacher.pseudonym}"

    shown = load.week if week else load.today
    listed = "\n".join(line(b) for b in shown[:LISTED]) or _("practice-caseload-none")
    if len(shown) > LISTED:
        listed += "\n" + _("practice-caseload-more").format(count=len(shown) - LISTED)
    return _("practice-caseload-week" if week else "practice-caseload-today").format(
        sessions=listed,
        count=len(shown),
        groups=len(load.groups),
        questions=load.questions,
        waiting=len(load.waiting),
        uncounted=len(load.uncounted),
    )


async def caseload(
    query: CallbackQuery,
    callback_data: Practice,
    session: AsyncSession,
    user: User,
    settings: Settings,
    state: FSMContext,
) -> None:
    """Today (or this week) on one phone screen: sessions, groups, open questions, marks to give."""
    await state.clear()
    week = callback_data.v == "w"
    load = await practice.caseload(session, user, utcnow(), settings.tz)
    builder = KeyboardBuilder()
    for booking in load.waiting[:LISTED]:
        label = _("practice-caseload-mark").format(
            when=short_when(booking, settings, user.language), code=booking.teacher.pseudonym
        )
        builder.row(button(label, cb.Psy(a=cb.PsyAction.BOOKING, id=booking.id)))
    for group in load.uncounted[:LISTED]:
        label = _("practice-caseload-count").format(
            when=common.when(group.starts_at, settings.tz, user.language), title=group.title(user.language)
        )
        builder.row(button(label, Practice(a=A.COUNT, id=group.id)))
    for group in load.groups[:2]:
        label = _("practice-caseload-group").format(
            when=common.when(group.starts_at, settings.tz, user.language)
        )
        builder.row(button(label, Practice(a=A.NOTE, id=group.id, g=1)))
    other = Practice(a=A.CASELOAD, v="" if week else "w")
    builder.row(button(_("practice-caseload-to-today" if week else "practice-caseload-to-week"), other))
    builder.row(*queue_button().inline_keyboard[0])
    await show(query, caseload_text(load, week, settings, user.language), with_nav(builder, HOME))


async def count(
    query: CallbackQuery,
    callback_data: Practice,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    user: User,
    settings: Settings,
    state: FSMContext,
) -> None:
    """How many came to a group session they led, asked from the caseload and back to it."""
    group = await practice.own_group(session, user, callback_data.id)
    if group is None:
        refused(callback_answer)
        return
    if not group_rules.reportable(group, utcnow()):
        callback_answer.text = _("groups-attendance-closed")
        return await caseload(query, CASELOAD, session, user, settings, state)
    builder = KeyboardBuilder()
    count_picker(
        builder,
        await groups.enrolled(session, group.id),
        int(callback_data.v) if callback_data.v.isdigit() else 0,
        lambda came: Practice(a=A.COUNTED, id=group.id, v=str(came)),
        lambda page: Practice(a=A.COUNT, id=group.id, v=str(page)),
    )
    text = attendance_question(group, user.language, settings.tz)
    await show(query, text, with_nav(builder, CASELOAD))


async def counted(
    query: CallbackQuery,
    callback_data: Practice,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    user: User,
    settings: Settings,
    state: FSMContext,
) -> None:
    group = await practice.own_group(session, user, callback_data.id)
    if group is None or not callback_data.v.isdigit():
        refused(callback_answer)
        return
    told = await group_rules.report_attendance(session, group, int(callback_data.v), utcnow())
    callback_answer.text = _("groups-attendance-thanks" if told else "groups-attendance-closed")
    await caseload(query, CASELOAD, session, user, settings, state)


def create_router() -> Router:
    router = staff_only(Router(name="practice"), "psychologist")
    press = router.callback_query.register
    press(note, Practice.filter(F.a == A.NOTE))
    press(ask_text, Practice.filter(F.a == A.EDIT))
    router.message.register(got_text, StateFilter(NoteFlow.text), F.text)
    press(topics, Practice.filter(F.a.in_({A.TOPICS, A.TOPIC})))
    press(refer, Practice.filter(F.a == A.REFER))
    press(refer_send, Practice.filter(F.a == A.REFER_SEND))
    press(caseload, Practice.filter(F.a == A.CASELOAD))
    press(count, Practice.filter(F.a == A.COUNT))
    press(counted, Practice.filter(F.a == A.COUNTED))
    return router
