"""Group sessions for teachers: browse (a list with filters, or the programme of the month by kind), join
or wait in line, accept a held seat, leave, rate.

In the bot teachers never see who else signed up; the facilitator sees the count and pseudonyms
only. What participants see of each other at the session itself depends on its format, and the
card says so (groups-privacy-<format>).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import BaseMiddleware, Bot, F, Router
from aiogram.filters import StateFilter
from aiogram.filters.callback_data import CallbackQueryFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, TelegramObject
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services import groups as rules
from bot.telegram import callbacks as cb
from bot.telegram.filters import staff_only
from bot.telegram.keyboards import KeyboardBuilder, nav_row, with_nav
from bot.telegram.keyboards import button as cb_button
from bot.telegram.ui import show, too_long
from bot.views import dates, ics, rooms
from bot.views.groups import (
    attendance,
    attendance_markup,
    attendance_question,
    describe,
    ended_label,
    kind_about,
    offer_buttons,
    when,
)
from bot.workers import groups as notify
from storage.models import GroupSeat, GroupSession, User
from storage.models.base import utcnow
from storage.models.groups import COMMENT_LIMIT, GROUP_FORMATS, GROUP_KINDS
from storage.repo import groups
from storage.repo.groups import Offer

Action = cb.GroupAction
Scope = cb.GroupScope
FORMATS = ("", *GROUP_FORMATS)  # "" any
LANGUAGES = ("", "kk", "ru")
KINDS = ("", *GROUP_KINDS)
# Staff who see the sessions they lead; a deactivated psychologist ("psychologist_off") is not staff any more.
LEADERS = ("psychologist", "coordinator")
LIST_SIZE = 8
# Sessions on one page of the programme: with titles of TITLE_LIMIT and the four kinds' descriptions
# it stays well within a message's 4096 characters.
PROGRAMME_PAGE = 8
MONTHS = (1, 2)  # the programme's months: this one and the next (cb.Group.m)
LIST = cb.Group(a=Action.LIST)  # the list as first shown


@dataclass(frozen=True)
class Picker:
    """One filter of the list: its field in Filters, its values ("" any) and their labels' prefix."""

    field: str
    options: tuple[str, ...]
    labels: str
    button: str  # the list's button, "{value}" the current one
    title: str  # the picker's screen

    def label(self, value: str) -> str:
        return _(self.labels + value) if value else _("groups-any")


PICKERS = {
    Action.PICK_KIND: Picker("kind", KINDS, "groups-kind-", "groups-filter-kind", "groups-pick-kind"),
    Action.PICK_FORMAT: Picker(
        "fmt", FORMATS, "groups-format-", "groups-filter-format", "groups-pick-format"
    ),
    Action.PICK_LANGUAGE: Picker(
        "language", LANGUAGES, "groups-language-", "groups-filter-language", "groups-pick-language"
    ),
}


class RatingComment(StatesGroup):
    text = State()


@dataclass(frozen=True)
class Filters:
    """The list's filters, and the programme's month and page when a card was opened from it; they
    travel in cb.Group (f, l, k, g, m, p) to a session's card and back."""

    fmt: str
    language: str
    kind: str
    scope: cb.GroupScope
    month: int = 0
    page: int = 0

    @classmethod
    def of(cls, data: cb.Group, user: User) -> Filters:
        return cls(
            fmt=data.f if data.f in FORMATS else "",
            language=data.l if data.l in LANGUAGES else "",
            kind=data.k if data.k in KINDS else "",
            scope=data.g or (Scope.MINE if user.region else Scope.ALL),
            month=data.m if data.m in MONTHS else 0,
            page=max(data.p, 0),
        )

    def press(self, action: cb.GroupAction, group_id: int = 0) -> cb.Group:
        return cb.Group(
            a=action,
            s=group_id,
            f=self.fmt,
            l=self.language,
            k=self.kind,
            g=self.scope,
            m=self.month,
            p=self.page,
        )

    def programme(self, month: int, page: int = 0) -> cb.Group:
        return dataclasses.replace(self, month=month, page=page).press(Action.PROGRAMME)

    def back(self) -> cb.Group:
        """Where a card opened with these filters goes back to: the programme it came from, or the list."""
        if self.month:
            return self.press(Action.PROGRAMME)
        return self.press(Action.LIST)


# --- the list ---------------------------------------------------------------------------------------------


async def show_list(
    query: CallbackQuery, session: AsyncSession, user: User, role: str, settings: Settings, filters: Filters
) -> None:
    found = await groups.upcoming(
        session,
        utcnow(),
        region=user.region if filters.scope is Scope.MINE else None,
        language=filters.language or None,
        fmt=filters.fmt or None,
        kind=filters.kind or None,
        limit=LIST_SIZE,
    )
    builder = KeyboardBuilder()
    for group, taken in found:
        builder.row(
            cb_button(item_label(group, taken, user, settings.tz), filters.press(Action.VIEW, group.id))
        )
    builder.row(cb_button(_("groups-programme"), filters.programme(MONTHS[0])))
    filter_buttons(builder, filters, user)
    if role in (*LEADERS, "admin"):
        builder.row(cb_button(_("groups-led"), cb.Group(a=Action.LED)))
    about = kind_about(filters.kind) + "\n\n" if filters.kind else ""
    text = _("groups-title") + "\n\n" + about + (_("groups-list-hint") if found else _("groups-none"))
    await show(query, text, with_nav(builder))


def item_label(group: GroupSession, taken: int, user: User, tz: ZoneInfo) -> str:
    """A session's button in a list: when, what, and the seats left (or the waitlist)."""
    return _("groups-item").format(
        when=when(group.starts_at, tz),
        title=group.title(user.language),
        left=group.capacity - taken if taken < group.capacity else _("groups-item-full"),
    )


def filter_buttons(builder: KeyboardBuilder, filters: Filters, user: User) -> None:
    """Each filter button shows its value and opens its picker."""

    def opens(action: cb.GroupAction) -> InlineKeyboardButton:
        picker = PICKERS[action]
        value = picker.label(getattr(filters, picker.field))
        return cb_button(_(picker.button).format(value=value), filters.press(action))

    builder.row(opens(Action.PICK_KIND))
    builder.row(opens(Action.PICK_FORMAT), opens(Action.PICK_LANGUAGE))
    row = []
    if user.region:
        mine = filters.scope is Scope.MINE
        other = dataclasses.replace(filters, scope=Scope.ALL if mine else Scope.MINE)
        label = _("groups-filter-mine") if mine else _("groups-filter-all")
        row.append(cb_button(label, other.press(Action.LIST)))
    row.append(cb_button(_("groups-mine"), cb.Group(a=Action.MINE)))
    builder.row(*row)


def picker_screen(picker: Picker, filters: Filters) -> tuple[str, InlineKeyboardMarkup]:
    """Every value of one filter and "any", the current one marked; a press shows the list with it."""
    builder = KeyboardBuilder()
    current = getattr(filters, picker.field)
    for value in picker.options:
        label = picker.label(value)
        change: dict[str, Any] = {picker.field: value}  # one of Filters' str fields
        chosen = dataclasses.replace(filters, **change)
        builder.button(
            text=_("groups-pick-current").format(value=label) if value == current else label,
            callback_data=chosen.press(Action.LIST),
        )
    builder.adjust(1)
    return _(picker.title), with_nav(builder, filters.press(Action.LIST))


# --- the programme of the month -----------------------------------------------------------------------------


async def show_programme(
    query: CallbackQuery, session: AsyncSession, user: User, settings: Settings, filters: Filters
) -> None:
    """Every session of the month the teacher may still join (the list's filters apply), by kind with
    what each kind is, a button per session to its card; in pages if the month holds many."""
    now = utcnow()
    first, start, end = rules.month_of(now, settings.tz, filters.month - 1)
    found = await groups.upcoming(
        session,
        now,
        region=user.region if filters.scope is Scope.MINE else None,
        language=filters.language or None,
        fmt=filters.fmt or None,
        kind=filters.kind or None,
        since=start,
        before=end,
        limit=None,
    )
    found.sort(key=lambda row: GROUP_KINDS.index(row[0].kind))  # stable: by time within a kind
    pages = max(1, -(-len(found) // PROGRAMME_PAGE))
    page = min(filters.page, pages - 1)
    here = dataclasses.replace(filters, page=page)
    lines = [_("groups-programme-title").format(month=dates.month(first))]
    lines.append(_("groups-programme-hint") if found else _("groups-programme-none"))
    builder = KeyboardBuilder()
    kind = None
    for group, taken in found[page * PROGRAMME_PAGE : (page + 1) * PROGRAMME_PAGE]:
        if group.kind != kind:
            kind = group.kind
            lines.append("\n" + kind_about(kind))
        lines.append("• " + when(group.starts_at, settings.tz) + " · " + escape(group.title(user.language)))
        builder.row(cb_button(item_label(group, taken, user, settings.tz), here.press(Action.VIEW, group.id)))
    if pages > 1:
        lines.append("\n" + _("groups-programme-page").format(n=page + 1, total=pages))
        turns = []
        if page > 0:
            turns.append(cb_button(_("groups-programme-prev"), here.programme(here.month, page - 1)))
        if page < pages - 1:
            turns.append(cb_button(_("groups-programme-more"), here.programme(here.month, page + 1)))
        builder.row(*turns)
    other = MONTHS[1] if filters.month == MONTHS[0] else MONTHS[0]
    other_first, _start, _end = rules.month_of(now, settings.tz, other - 1)
    switch = "groups-programme-next" if other == MONTHS[1] else "groups-programme-this"
    builder.row(cb_button(_(switch).format(month=dates.month(other_first)), here.programme(other)))
    list_back = dataclasses.replace(filters, month=0, page=0).press(Action.LIST)
    await show(query, "\n".join(lines), with_nav(builder, list_back))


# --- one session ------------------------------------------------------------------------------------------


async def session_card(
    session: AsyncSession, group: GroupSession, user: User, settings: Settings, filters: Filters
) -> tuple[str, InlineKeyboardMarkup]:
    """A session card with this teacher's place in it and what they can do; for an enrolled
    teacher, the way in (a room shortly before, an office's address) and the calendar file."""
    tz = settings.tz
    seat = await groups.seat_of(session, group.id, user.id)
    taken = await groups.taken(session, group.id)
    builder = KeyboardBuilder()
    lines = [
        describe(group, user.language, tz, group.capacity - taken),
        "\n" + _("groups-privacy-" + group.format),
    ]
    place = await your_place(session, builder, group, seat, taken, tz, filters)
    if place:
        lines.append(place)
    if rules.leads(group, user):
        builder.button(text=_("groups-who"), callback_data=cb.Group(a=Action.WHO, s=group.id))
    builder.adjust(2)
    if seat is not None and seat.status == "enrolled":
        way_in = rooms.group_way_in(settings.video, group, utcnow())
        if way_in:
            lines.append("\n" + way_in)
        builder.row(cb_button(_("sess-ics-button"), cb.Group(a=Action.ICS, s=group.id)))
        builder.row(*rooms.join_button(rooms.group_room(settings.video, group, utcnow())))
    return "\n".join(lines), with_nav(builder, filters.back())


async def your_place(
    session: AsyncSession,
    builder: KeyboardBuilder,
    group: GroupSession,
    seat: GroupSeat | None,
    taken: int,
    tz: ZoneInfo,
    filters: Filters,
) -> str | None:
    """The card's line about this teacher's place (None: no place, seats free), with its buttons."""
    if seat is not None and seat.status == "enrolled":
        builder.button(text=_("groups-leave"), callback_data=filters.press(Action.LEAVE, group.id))
        return _("groups-you-enrolled")
    if seat is not None and seat.status == "waitlisted":
        builder.button(text=_("groups-leave-waitlist"), callback_data=filters.press(Action.LEAVE, group.id))
        return _("groups-you-waitlisted").format(place=await groups.waitlist_place(session, seat))
    if seat is not None and seat.status == "offered" and seat.offer_expires_at is not None:
        offer_buttons(builder, group.id)
        return _("groups-offer").format(until=when(seat.offer_expires_at, tz))
    if taken < group.capacity:
        builder.button(text=_("groups-join"), callback_data=filters.press(Action.JOIN, group.id))
        return None
    builder.button(text=_("groups-join-waitlist"), callback_data=filters.press(Action.JOIN, group.id))
    return _("groups-full").format(waiting=await groups.waitlist_length(session, group.id))


async def show_card(
    query: CallbackQuery,
    session: AsyncSession,
    group: GroupSession,
    user: User,
    settings: Settings,
    filters: Filters,
) -> None:
    text, markup = await session_card(session, group, user, settings, filters)
    await show(query, text, markup)


class OpenGroupOnly(BaseMiddleware):
    """Presses on one group session (view, join, leave, accept, decline) get it as `group` while it
    can still be joined; a stale or forged button is told so and shows the list instead."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        assert isinstance(event, CallbackQuery), "registered for callback queries only"
        callback_data: cb.Group = data["callback_data"]
        group = await groups.get(data["session"], callback_data.s)
        if not rules.joinable(group, utcnow()):
            data["callback_answer"].text = _("groups-gone")
            data["callback_answer"].show_alert = True
            filters = Filters.of(callback_data, data["user"])
            if filters.month:
                return await show_programme(event, data["session"], data["user"], data["settings"], filters)
            return await show_list(
                event, data["session"], data["user"], data["role"], data["settings"], filters
            )
        data["group"] = group
        return await handler(event, data)


async def pass_on(session: AsyncSession, offers: tuple[Offer, ...]) -> None:
    """Freed seats go to the next in line: each is told by a notice committed with the offer."""
    await notify.offered(session, offers)


# --- handlers ---------------------------------------------------------------------------------------------


async def home(
    query: CallbackQuery, session: AsyncSession, user: User, role: str, settings: Settings, state: FSMContext
) -> None:
    await state.clear()
    await show_list(query, session, user, role, settings, Filters.of(LIST, user))


async def listing(
    query: CallbackQuery,
    callback_data: cb.Group,
    session: AsyncSession,
    user: User,
    role: str,
    settings: Settings,
) -> None:
    await show_list(query, session, user, role, settings, Filters.of(callback_data, user))


async def pick(query: CallbackQuery, callback_data: cb.Group, user: User) -> None:
    await show(query, *picker_screen(PICKERS[callback_data.a], Filters.of(callback_data, user)))


async def programme(
    query: CallbackQuery, callback_data: cb.Group, session: AsyncSession, user: User, settings: Settings
) -> None:
    filters = Filters.of(callback_data, user)
    month = filters.month or MONTHS[0]
    await show_programme(query, session, user, settings, dataclasses.replace(filters, month=month))


async def view(
    query: CallbackQuery,
    callback_data: cb.Group,
    session: AsyncSession,
    user: User,
    settings: Settings,
    group: GroupSession,
    bot: Bot,
) -> None:
    text, markup = await session_card(session, group, user, settings, Filters.of(callback_data, user))
    if callback_data.a == Action.OPEN:  # from an announcement: keep the announcement, answer below it
        await bot.send_message(query.from_user.id, text, reply_markup=markup)
    else:
        await show(query, text, markup)


async def join(
    query: CallbackQuery,
    callback_data: cb.Group,
    session: AsyncSession,
    user: User,
    settings: Settings,
    callback_answer: CallbackAnswer,
    group: GroupSession,
) -> None:
    change = await groups.enroll(session, group.id, user.id, utcnow())
    if change.status == "enrolled":
        callback_answer.text = _("groups-joined")
    elif change.status == "waitlisted":
        callback_answer.text = _("groups-waitlisted").format(place=change.place)
    await show_card(query, session, group, user, settings, Filters.of(callback_data, user))


async def ask_leave(query: CallbackQuery, callback_data: cb.Group, user: User, group: GroupSession) -> None:
    """Ask first: a seat given up may go to someone else at once."""
    filters = Filters.of(callback_data, user)
    builder = KeyboardBuilder()
    builder.button(text=_("groups-leave-confirm"), callback_data=filters.press(Action.OUT, group.id))
    await show(query, _("groups-leave-ask"), with_nav(builder, filters.press(Action.VIEW, group.id)))


async def leave(
    query: CallbackQuery,
    callback_data: cb.Group,
    session: AsyncSession,
    user: User,
    settings: Settings,
    callback_answer: CallbackAnswer,
    group: GroupSession,
    bot: Bot,
) -> None:
    seat = await groups.seat_of(session, group.id, user.id)
    was_enrolled = seat is not None and seat.status == "enrolled" and seat.calendar_uid is not None
    change = await groups.leave(session, group.id, user.id, utcnow(), settings.groups.offer_hold)
    # The calendar file sent for this seat is cancelled (its SEQUENCE raised, saved with the leave).
    cancel = (
        ics.group_document(group, seat, user, settings.tz, cancelled=True) if seat and was_enrolled else None
    )
    await pass_on(session, change.offers)
    callback_answer.text = _("groups-left")
    await show_card(query, session, group, user, settings, Filters.of(callback_data, user))
    if cancel is not None:
        await ics.send_document(bot, user, cancel, "sess-ics-cancel-caption")


async def accept(
    query: CallbackQuery,
    session: AsyncSession,
    user: User,
    settings: Settings,
    callback_answer: CallbackAnswer,
    group: GroupSession,
) -> None:
    change = await groups.accept(session, group.id, user.id, utcnow(), settings.groups.offer_hold)
    if change.offers:
        await pass_on(session, change.offers)
    if change.status == "enrolled":
        callback_answer.text = _("groups-joined")
    elif change.status == "expired":
        callback_answer.text, callback_answer.show_alert = _("groups-offer-too-late"), True
    await show_card(query, session, group, user, settings, Filters.of(LIST, user))


async def decline(
    query: CallbackQuery,
    session: AsyncSession,
    user: User,
    role: str,
    settings: Settings,
    callback_answer: CallbackAnswer,
    group: GroupSession,
) -> None:
    seat = await groups.seat_of(session, group.id, user.id)
    if seat is not None and seat.status == "offered":
        change = await groups.leave(session, group.id, user.id, utcnow(), settings.groups.offer_hold)
        await pass_on(session, change.offers)
        callback_answer.text = _("groups-declined")
    await show_list(query, session, user, role, settings, Filters.of(LIST, user))


async def mine(query: CallbackQuery, session: AsyncSession, user: User, settings: Settings) -> None:
    builder = KeyboardBuilder()
    for group, seat in await groups.mine(session, user.id, utcnow()):
        label = _("groups-mine-item-" + seat.status).format(
            when=when(group.starts_at, settings.tz), title=group.title(user.language)
        )
        builder.row(cb_button(label, cb.Group(a=Action.VIEW, s=group.id)))
    text = _("groups-mine-title") if builder.export() else _("groups-mine-none")
    await show(query, text, with_nav(builder, LIST))


async def led(query: CallbackQuery, session: AsyncSession, user: User, settings: Settings) -> None:
    """The sessions one leads: those ahead, and those ended whose attendance may still be told."""
    now = utcnow()
    builder = KeyboardBuilder()
    for group in await groups.led_by(session, user.id, rules.led_since(now)):
        if not rules.still_led(group, now):
            continue
        label = when(group.starts_at, settings.tz) + " · " + group.title(user.language)
        if rules.reportable(group, now):
            label = ended_label(label, group)
        builder.row(cb_button(label, cb.Group(a=Action.WHO, s=group.id)))
    text = _("groups-led-title") if builder.export() else _("groups-led-none")
    await show(query, text, with_nav(builder, LIST))


async def led_group(
    query: CallbackQuery,
    callback_data: cb.Group,
    session: AsyncSession,
    user: User,
    settings: Settings,
    callback_answer: CallbackAnswer,
) -> GroupSession | None:
    """The session pressed, if this user leads it; else an alert and the list of theirs."""
    group = await groups.get(session, callback_data.s)
    if group is None or not rules.leads(group, user):
        callback_answer.text, callback_answer.show_alert = _("groups-not-yours"), True
        await led(query, session, user, settings)
        return None
    return group


async def who(
    query: CallbackQuery,
    callback_data: cb.Group,
    session: AsyncSession,
    user: User,
    settings: Settings,
    callback_answer: CallbackAnswer,
) -> None:
    group = await led_group(query, callback_data, session, user, settings, callback_answer)
    if group is None:
        return
    codes = await groups.participant_codes(session, group.id)
    participants = _("groups-participants").format(
        count=len(codes),
        capacity=group.capacity,
        waiting=await groups.waitlist_length(session, group.id),
        codes=", ".join(codes) or "—",
    )
    text = describe(group, user.language, settings.tz) + "\n\n" + participants
    builder = KeyboardBuilder()
    if rules.reportable(group, utcnow()):
        text += "\n" + attendance(group)
        builder.button(text=_("groups-attendance-set"), callback_data=cb.Group(a=Action.COUNT, s=group.id))
    if user.role == "psychologist":  # private notes: handlers/psychologist/practice.py
        builder.button(
            text=_("practice-notes"), callback_data=cb.Practice(a=cb.PracticeAction.NOTE, id=group.id, g=1)
        )
    builder.adjust(1)
    await show(query, text, with_nav(builder, cb.Group(a=Action.LED)))


async def count(
    query: CallbackQuery,
    callback_data: cb.Group,
    session: AsyncSession,
    user: User,
    settings: Settings,
    callback_answer: CallbackAnswer,
) -> None:
    """The facilitator's numbers: how many came."""
    group = await led_group(query, callback_data, session, user, settings, callback_answer)
    if group is None:
        return
    if not rules.reportable(group, utcnow()):
        callback_answer.text = _("groups-attendance-closed")
        return await who(query, callback_data, session, user, settings, callback_answer)
    text = attendance_question(group, user.language, settings.tz)
    markup = attendance_markup(group.id, await groups.enrolled(session, group.id), callback_data.p)
    await show(query, text, markup)


async def counted(
    query: CallbackQuery,
    callback_data: cb.Group,
    session: AsyncSession,
    user: User,
    settings: Settings,
    callback_answer: CallbackAnswer,
) -> None:
    group = await led_group(query, callback_data, session, user, settings, callback_answer)
    if group is None:
        return
    if await rules.report_attendance(session, group, callback_data.score, utcnow()):
        callback_answer.text = _("groups-attendance-thanks")
    else:
        callback_answer.text = _("groups-attendance-closed")
    await who(query, callback_data, session, user, settings, callback_answer)


async def rate(
    query: CallbackQuery,
    callback_data: cb.Group,
    session: AsyncSession,
    user: User,
    callback_answer: CallbackAnswer,
) -> None:
    if not await rules.rate(session, callback_data.s, user.id, callback_data.score):
        callback_answer.text = _("groups-rate-closed")
        await show(query, _("groups-rate-closed"), with_nav(KeyboardBuilder()))
        return
    builder = KeyboardBuilder()
    builder.button(text=_("groups-comment-add"), callback_data=cb.Group(a=Action.COMMENT, s=callback_data.s))
    await show(query, _("groups-rate-thanks"), with_nav(builder))


async def ask_comment(query: CallbackQuery, callback_data: cb.Group, state: FSMContext) -> None:
    await state.set_state(RatingComment.text)
    await state.update_data(group_id=callback_data.s)
    await show(query, _("groups-comment-ask"), with_nav(KeyboardBuilder()))


async def save_comment(
    message: Message, text: str, session: AsyncSession, user: User, state: FSMContext
) -> None:
    if await too_long(message, text, COMMENT_LIMIT, with_nav(KeyboardBuilder())):
        return
    data = await state.get_data()
    await state.clear()
    saved = await groups.comment(session, int(data.get("group_id", 0)), user.id, text)
    builder = KeyboardBuilder()
    builder.row(*nav_row())
    await message.answer(
        _("groups-comment-thanks") if saved else _("groups-rate-closed"), reply_markup=builder.as_markup()
    )


async def calendar_file(
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    user: User,
    settings: Settings,
    group: GroupSession,
    bot: Bot,
) -> None:
    """The seat's .ics (its UID made once and kept), for an enrolled teacher."""
    seat = await groups.seat_of(session, group.id, user.id)
    if seat is None or seat.status != "enrolled":
        callback_answer.text = _("stale-button")
        return
    document = ics.group_document(group, seat, user, settings.tz)
    await session.commit()  # the seat's UID, before the file that carries it leaves
    callback_answer.text = _("mine-ics-sent")
    await ics.send_document(bot, user, document, "sess-ics-group-caption")


def on(*actions: cb.GroupAction) -> CallbackQueryFilter:
    return cb.Group.filter(F.a.in_(actions))


def create_router() -> Router:
    router = Router(name="groups")
    one_group = Router(name="groups-one")
    one_group.callback_query.middleware(OpenGroupOnly())
    # The sessions one leads and who comes: a deactivated facilitator is refused like any non-staff.
    leading = staff_only(Router(name="groups-led"), *LEADERS)
    router.include_routers(one_group, leading)

    press = router.callback_query.register
    press(home, cb.Menu.filter(F.item == cb.Section.GROUPS))
    press(listing, on(Action.LIST))
    press(pick, on(*PICKERS))
    press(programme, on(Action.PROGRAMME))
    press(mine, on(Action.MINE))
    press(rate, on(Action.RATE))
    press(ask_comment, on(Action.COMMENT))
    router.message.register(save_comment, StateFilter(RatingComment.text), F.text.as_("text"))
    one = one_group.callback_query.register
    one(view, on(Action.VIEW, Action.OPEN))
    one(join, on(Action.JOIN))
    one(ask_leave, on(Action.LEAVE))
    one(leave, on(Action.OUT))
    one(accept, on(Action.ACCEPT))
    one(decline, on(Action.DECLINE))
    one(calendar_file, on(Action.ICS))
    leading.callback_query.register(led, on(Action.LED))
    leading.callback_query.register(who, on(Action.WHO))
    leading.callback_query.register(count, on(Action.COUNT))
    leading.callback_query.register(counted, on(Action.COUNTED))
    return router
