"""Group sessions for teachers: browse, join or wait in line, accept a held seat, leave, rate.

In the bot teachers never see who else signed up; the facilitator sees the count and pseudonyms
only. What participants see of each other at the session itself depends on its format, and the
card says so (groups-privacy-<format>).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot, F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.telegram import callbacks as cb
from bot.telegram.filters import staff_only
from bot.telegram.keyboards import KeyboardBuilder, nav_row, with_nav
from bot.telegram.keyboards import button as cb_button
from bot.telegram.ui import show
from bot.telegram.utf16 import truncate_utf16
from bot.workers import groups as notify
from bot.workers.groups import describe, when
from storage.models import GroupSession, User
from storage.models.base import utcnow
from storage.models.groups import COMMENT_LIMIT
from storage.repo import groups, staff

FORMATS = ("", "online", "offline", "chat")
# Staff who see the sessions they lead; a deactivated psychologist ("psychologist_off") is not staff any more.
LEADERS = ("psychologist", "coordinator")
LANGUAGES = ("", "kk", "ru")


class RatingComment(StatesGroup):
    text = State()


class Filters:
    """Browse filters carried in the callback data as "format.language.region" (region m = mine, a = all)."""

    def __init__(self, packed: str, user: User) -> None:
        parts = ([*packed.split("."), "", "", ""])[:3]
        self.fmt = parts[0] if parts[0] in FORMATS else ""
        self.lang = parts[1] if parts[1] in LANGUAGES else ""
        self.reg = parts[2] if parts[2] in ("m", "a") else ("m" if user.region else "a")
        self.region = user.region if self.reg == "m" else None

    def pack(self, **change: str) -> str:
        values = {"fmt": self.fmt, "lang": self.lang, "reg": self.reg} | change
        return f"{values['fmt']}.{values['lang']}.{values['reg']}"


def _next(options: tuple[str, ...], current: str) -> str:
    return options[(options.index(current) + 1) % len(options)]


async def show_list(
    query: CallbackQuery, session: AsyncSession, user: User, role: str, settings: Settings, packed: str
) -> None:
    filters = Filters(packed, user)
    found = await groups.upcoming(
        session,
        utcnow(),
        region=filters.region,
        language=filters.lang or None,
        fmt=filters.fmt or None,
        limit=8,
    )
    builder = KeyboardBuilder()
    for group, taken in found:
        left = group.capacity - taken
        label = _("groups-item").format(
            when=group.starts_at.astimezone(settings.tz).strftime("%d.%m %H:%M"),
            title=group.title(user.language),
            left=left if left > 0 else _("groups-item-full"),
        )
        builder.row(cb_button(label, cb.Group(a="view", s=group.id, v=filters.pack())))
    fmt_label = _("groups-format-" + filters.fmt) if filters.fmt else _("groups-any")
    lang_label = _("groups-language-" + filters.lang) if filters.lang else _("groups-any")
    builder.row(
        cb_button(
            _("groups-filter-format").format(value=fmt_label),
            cb.Group(a="list", v=filters.pack(fmt=_next(FORMATS, filters.fmt))),
        ),
        cb_button(
            _("groups-filter-language").format(value=lang_label),
            cb.Group(a="list", v=filters.pack(lang=_next(LANGUAGES, filters.lang))),
        ),
    )
    region_key = "groups-filter-mine" if filters.reg == "m" else "groups-filter-all"
    row = []
    if user.region:
        row.append(
            cb_button(
                _(region_key), cb.Group(a="list", v=filters.pack(reg="a" if filters.reg == "m" else "m"))
            )
        )
    row.append(cb_button(_("groups-mine"), cb.Group(a="mine")))
    builder.row(*row)
    if role in (*LEADERS, "admin"):
        builder.row(cb_button(_("groups-led"), cb.Group(a="led")))
    text = _("groups-title") + "\n\n" + (_("groups-list-hint") if found else _("groups-none"))
    await show(query, text, with_nav(builder))


async def render_view(session: AsyncSession, group: GroupSession, user: User, settings: Settings, back: str):
    """A session card with this teacher's place in it and what they can do."""
    seat = await groups.seat_of(session, group.id, user.id)
    taken = await groups.taken(session, group.id)
    builder = KeyboardBuilder()
    lines = [
        describe(group, user.language, settings.tz, group.capacity - taken),
        "\n" + _("groups-privacy-" + group.format),
    ]
    status = seat.status if seat is not None else "none"
    if status == "enrolled":
        lines.append(_("groups-you-enrolled"))
        builder.button(text=_("groups-leave"), callback_data=cb.Group(a="leave", s=group.id, v=back))
    elif status == "waitlisted":
        lines.append(_("groups-you-waitlisted").format(place=await groups.waitlist_place(session, seat)))
        builder.button(text=_("groups-leave-waitlist"), callback_data=cb.Group(a="leave", s=group.id, v=back))
    elif status == "offered":
        lines.append(_("groups-offer").format(until=when(seat.offer_expires_at, settings.tz)))
        builder.button(text=_("groups-accept"), callback_data=cb.Group(a="acc", s=group.id))
        builder.button(text=_("groups-decline"), callback_data=cb.Group(a="dec", s=group.id))
    elif taken < group.capacity:
        builder.button(text=_("groups-join"), callback_data=cb.Group(a="join", s=group.id, v=back))
    else:
        lines.append(_("groups-full").format(waiting=await groups.waitlist_length(session, group.id)))
        builder.button(text=_("groups-join-waitlist"), callback_data=cb.Group(a="join", s=group.id, v=back))
    if group.facilitator_id == user.id and not staff.deactivated(user):
        builder.button(text=_("groups-who"), callback_data=cb.Group(a="who", s=group.id))
    builder.adjust(2)
    return "\n".join(lines), with_nav(builder, cb.Group(a="list", v=back))


class OpenGroupOnly(BaseMiddleware):
    """Presses on one group session (view, join, leave, accept, decline) get it as `group` while it
    can still be joined; a stale or forged button is told so and shows the list instead."""

    async def __call__(
        self,
        handler: Callable[[CallbackQuery, dict[str, Any]], Awaitable[Any]],
        query: CallbackQuery,
        data: dict[str, Any],
    ) -> Any:
        callback_data: cb.Group = data["callback_data"]
        session: AsyncSession = data["session"]
        group = await groups.get(session, callback_data.s)
        if group is None or group.status != "open" or group.starts_at <= utcnow():
            data["callback_answer"].text = _("groups-gone")
            data["callback_answer"].show_alert = True
            return await show_list(
                query, session, data["user"], data["role"], data["settings"], callback_data.v
            )
        data["group"] = group
        return await handler(query, data)


async def give_up_seat(
    session: AsyncSession, sessions, bot: Bot, i18n: I18n, settings: Settings, group_id: int, user_id: int
) -> None:
    """Leaving or declining an offer: the freed seat is offered to the next in line, only once
    giving it up is saved (a crash in between must not leave two people holding it)."""
    change = await groups.leave(session, group_id, user_id, utcnow(), settings.groups.offer_hold)
    await session.commit()
    await notify.notify_offers(bot, session, sessions, i18n, settings.tz, change.offers)


def create_router() -> Router:
    router = Router(name="groups")
    one_group = Router(name="groups-one")
    one_group.callback_query.middleware(OpenGroupOnly())
    router.include_router(one_group)
    # The sessions one leads and who comes: a deactivated facilitator is refused like any non-staff.
    leading = staff_only(Router(name="groups-led"), *LEADERS)
    router.include_router(leading)

    @router.callback_query(cb.Menu.filter(F.item == "groups"))
    async def home(
        query: CallbackQuery,
        session: AsyncSession,
        user: User,
        role: str,
        settings: Settings,
        state: FSMContext,
    ) -> None:
        await state.clear()
        await show_list(query, session, user, role, settings, "")

    @router.callback_query(cb.Group.filter(F.a == "list"))
    async def listing(
        query: CallbackQuery,
        callback_data: cb.Group,
        session: AsyncSession,
        user: User,
        role: str,
        settings: Settings,
    ) -> None:
        await show_list(query, session, user, role, settings, callback_data.v)

    @one_group.callback_query(cb.Group.filter(F.a.in_({"view", "open"})))
    async def view(
        query: CallbackQuery,
        callback_data: cb.Group,
        session: AsyncSession,
        user: User,
        settings: Settings,
        group: GroupSession,
    ) -> None:
        text, markup = await render_view(session, group, user, settings, callback_data.v)
        if callback_data.a == "open":  # from an announcement: keep the announcement, answer below it
            await query.message.answer(text, reply_markup=markup)
        else:
            await show(query, text, markup)

    @one_group.callback_query(cb.Group.filter(F.a == "join"))
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
        text, markup = await render_view(session, group, user, settings, callback_data.v)
        await show(query, text, markup)

    @one_group.callback_query(cb.Group.filter(F.a.in_({"leave", "out"})))
    async def leave(
        query: CallbackQuery,
        callback_data: cb.Group,
        session: AsyncSession,
        user: User,
        settings: Settings,
        callback_answer: CallbackAnswer,
        group: GroupSession,
        bot: Bot,
        i18n: I18n,
        sessions,
    ) -> None:
        if callback_data.a == "leave":  # ask first: a seat given up may go to someone else at once
            builder = KeyboardBuilder()
            builder.button(
                text=_("groups-leave-confirm"), callback_data=cb.Group(a="out", s=group.id, v=callback_data.v)
            )
            await show(
                query,
                _("groups-leave-ask"),
                with_nav(builder, cb.Group(a="view", s=group.id, v=callback_data.v)),
            )
            return
        back = callback_data.v
        await give_up_seat(session, sessions, bot, i18n, settings, group.id, user.id)
        callback_answer.text = _("groups-left")
        text, markup = await render_view(session, group, user, settings, back)
        await show(query, text, markup)

    @one_group.callback_query(cb.Group.filter(F.a == "acc"))
    async def accept(
        query: CallbackQuery,
        session: AsyncSession,
        user: User,
        settings: Settings,
        callback_answer: CallbackAnswer,
        group: GroupSession,
        bot: Bot,
        i18n: I18n,
        sessions,
    ) -> None:
        change = await groups.accept(session, group.id, user.id, utcnow(), settings.groups.offer_hold)
        if change.offers:
            await session.commit()
            await notify.notify_offers(bot, session, sessions, i18n, settings.tz, change.offers)
        if change.status == "enrolled":
            callback_answer.text = _("groups-joined")
        elif change.status == "expired":
            callback_answer.text, callback_answer.show_alert = _("groups-offer-too-late"), True
        text, markup = await render_view(session, group, user, settings, "")
        await show(query, text, markup)

    @one_group.callback_query(cb.Group.filter(F.a == "dec"))
    async def decline(
        query: CallbackQuery,
        session: AsyncSession,
        user: User,
        role: str,
        settings: Settings,
        callback_answer: CallbackAnswer,
        group: GroupSession,
        bot: Bot,
        i18n: I18n,
        sessions,
    ) -> None:
        seat = await groups.seat_of(session, group.id, user.id)
        if seat is not None and seat.status == "offered":
            await give_up_seat(session, sessions, bot, i18n, settings, group.id, user.id)
            callback_answer.text = _("groups-declined")
        await show_list(query, session, user, role, settings, "")

    @router.callback_query(cb.Group.filter(F.a == "mine"))
    async def mine(query: CallbackQuery, session: AsyncSession, user: User, settings: Settings) -> None:
        builder = KeyboardBuilder()
        for group, seat in await groups.mine(session, user.id, utcnow()):
            label = _("groups-mine-item-" + seat.status).format(
                when=group.starts_at.astimezone(settings.tz).strftime("%d.%m %H:%M"),
                title=group.title(user.language),
            )
            builder.row(cb_button(label, cb.Group(a="view", s=group.id)))
        text = _("groups-mine-title") if builder.export() else _("groups-mine-none")
        await show(query, text, with_nav(builder, cb.Group(a="list")))

    @leading.callback_query(cb.Group.filter(F.a == "led"))
    async def led(query: CallbackQuery, session: AsyncSession, user: User, settings: Settings) -> None:
        builder = KeyboardBuilder()
        for group in await groups.led_by(session, user.id, utcnow()):
            label = (
                group.starts_at.astimezone(settings.tz).strftime("%d.%m %H:%M")
                + " · "
                + group.title(user.language)
            )
            builder.row(cb_button(label, cb.Group(a="who", s=group.id)))
        text = _("groups-led-title") if builder.export() else _("groups-led-none")
        await show(query, text, with_nav(builder, cb.Group(a="list")))

    @leading.callback_query(cb.Group.filter(F.a == "who"))
    async def who(
        query: CallbackQuery,
        callback_data: cb.Group,
        session: AsyncSession,
        user: User,
        settings: Settings,
        callback_answer: CallbackAnswer,
    ) -> None:
        group = await groups.get(session, callback_data.s)
        if group is None or group.facilitator_id != user.id:  # only the facilitator sees who comes
            callback_answer.text, callback_answer.show_alert = _("groups-not-yours"), True
            return await led(query, session, user, settings)
        codes = await groups.participant_codes(session, group.id)
        text = (
            describe(group, user.language, settings.tz)
            + "\n\n"
            + _("groups-participants").format(
                count=len(codes),
                capacity=group.capacity,
                waiting=await groups.waitlist_length(session, group.id),
                codes=", ".join(codes) or "—",
            )
        )
        await show(query, text, with_nav(KeyboardBuilder(), cb.Group(a="led")))

    @router.callback_query(cb.Group.filter(F.a == "rate"))
    async def rate(
        query: CallbackQuery,
        callback_data: cb.Group,
        session: AsyncSession,
        user: User,
        callback_answer: CallbackAnswer,
    ) -> None:
        score = int(callback_data.v) if callback_data.v.isdigit() else 0
        if not 1 <= score <= 5 or not await groups.can_rate(session, callback_data.s, user.id):
            callback_answer.text = _("groups-rate-closed")
            return await show(query, _("groups-rate-closed"), with_nav(KeyboardBuilder()))
        await groups.rate(session, callback_data.s, user.id, score)
        builder = KeyboardBuilder()
        builder.button(text=_("groups-comment-add"), callback_data=cb.Group(a="cmt", s=callback_data.s))
        await show(query, _("groups-rate-thanks"), with_nav(builder))

    @router.callback_query(cb.Group.filter(F.a == "cmt"))
    async def ask_comment(query: CallbackQuery, callback_data: cb.Group, state: FSMContext) -> None:
        await state.set_state(RatingComment.text)
        await state.update_data(group_id=callback_data.s)
        await show(query, _("groups-comment-ask"), with_nav(KeyboardBuilder()))

    @router.message(StateFilter(RatingComment.text), F.text)
    async def save_comment(message: Message, session: AsyncSession, user: User, state: FSMContext) -> None:
        data = await state.get_data()
        await state.clear()
        saved = await groups.comment(
            session, int(data.get("group_id", 0)), user.id, truncate_utf16(message.text, COMMENT_LIMIT)
        )
        builder = KeyboardBuilder()
        builder.row(*nav_row())
        await message.answer(
            _("groups-comment-thanks" if saved else "groups-rate-closed"), reply_markup=builder.as_markup()
        )

    return router
