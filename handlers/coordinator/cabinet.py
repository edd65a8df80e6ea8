"""Coordinators: create and cancel group sessions, broadcast announcements, anonymous statistics.

Only coordinators (and admins) get here: the router is gated with staff_only, so a forged
"co" button from anyone else is refused before any handler runs. A coordinator of one region
sees and reaches only that region.
"""

from __future__ import annotations

import asyncio
import csv
import html
import io
from datetime import datetime

from aiogram import Bot, F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import BufferedInputFile, CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.content.regions import region_name, regions
from bot.services import anonymity, periods, statistics
from bot.services.periods import SETTLE
from bot.telegram import callbacks as cb
from bot.telegram.filters import staff_only
from bot.telegram.keyboards import KeyboardBuilder, main_menu, with_nav
from bot.telegram.ui import show
from bot.views.stats_chart import Labels, render_stats_chart
from bot.workers import groups as notify
from bot.workers.broadcasts import announcement
from bot.workers.groups import describe
from handlers.coordinator import staff as staff_admin
from storage.models import User
from storage.models.base import utcnow
from storage.models.groups import GROUP_FORMATS
from storage.repo import broadcasts, groups, users

HOME = cb.Coord(a="home")
TEXT_MAX = 3500  # room for the footer under Telegram's 4096
DURATIONS = (45, 60, 90, 120)


class Compose(StatesGroup):
    kk = State()
    ru = State()


class GroupForm(StatesGroup):
    kk = State()
    ru = State()
    when = State()
    capacity = State()


def region_limit(user: User, role: str) -> str | None:
    """A coordinator invited for one region works in that region only; admins everywhere."""
    return user.region if role == "coordinator" else None


def valid_audience(audience: str, limit: str | None) -> bool:
    kind, _sep, value = audience.partition("-")
    return (
        (kind == "all" and not value)
        or (kind == "region" and value in regions() and limit in (None, value))
        or (kind == "lang" and value in ("kk", "ru"))
        or (kind in ("participants", "waitlist") and value.isdigit())
    )


def back_to(action: str) -> KeyboardBuilder:
    builder = KeyboardBuilder()
    builder.button(text=_("nav-back"), callback_data=cb.Coord(a=action))
    return builder


async def show_home(event: Message | CallbackQuery) -> None:
    builder = KeyboardBuilder()
    for action in ("new", "gnew", "glist"):
        builder.button(text=_("co-" + action), callback_data=cb.Coord(a=action))
    builder.button(text=_("co-stats"), callback_data=cb.Stat(a="show"))
    staff_admin.home_button(builder)
    builder.adjust(1)
    await show(event, _("co-title"), with_nav(builder))


async def prompt(event: Message | CallbackQuery, text: str, back=HOME) -> None:
    await show(event, text, with_nav(KeyboardBuilder(), back))


def _title_and_description(text: str) -> tuple[str, str]:
    title, _newline, rest = text.strip().partition("\n")
    return title.strip()[:120], rest.strip()[:2000]


def create_router() -> Router:
    router = staff_only(Router(name="coordinator"), "coordinator")

    @router.callback_query(cb.Menu.filter(F.item == "coord"))
    @router.callback_query(cb.Coord.filter(F.a == "home"))
    async def home(query: CallbackQuery, state: FSMContext) -> None:
        await state.clear()
        await show_home(query)

    @router.callback_query(cb.Coord.filter(F.a == "menu"))
    async def fresh_menu(query: CallbackQuery, user: User, role: str) -> None:
        # From the progress message: a new menu below, the progress message stays what it is.
        await query.message.answer(_("main-menu").format(code=user.pseudonym), reply_markup=main_menu(role))

    # --- broadcasts: compose, audience, enroll button, preview, send --------------------------------------

    @router.callback_query(cb.Coord.filter(F.a == "new"))
    async def new_broadcast(query: CallbackQuery, state: FSMContext) -> None:
        await state.set_state(Compose.kk)
        await prompt(query, _("co-compose-kk"))

    @router.message(StateFilter(Compose.kk), F.text)
    async def composed_kk(message: Message, state: FSMContext) -> None:
        if len(message.text) > TEXT_MAX:
            return await prompt(message, _("co-too-long").format(limit=TEXT_MAX))
        await state.update_data(text_kk=message.html_text)
        await state.set_state(Compose.ru)
        builder = KeyboardBuilder()
        builder.button(text=_("co-same-text"), callback_data=cb.Coord(a="same"))
        await show(message, _("co-compose-ru"), with_nav(builder, HOME))

    @router.message(StateFilter(Compose.ru), F.text)
    async def composed_ru(message: Message, state: FSMContext, user: User) -> None:
        if len(message.text) > TEXT_MAX:
            return await prompt(message, _("co-too-long").format(limit=TEXT_MAX))
        await state.update_data(text_ru=message.html_text)
        await state.set_state(None)
        await choose_audience(message, user)

    @router.callback_query(cb.Coord.filter(F.a == "same"))
    async def same_text(query: CallbackQuery, state: FSMContext, user: User) -> None:
        data = await state.get_data()
        if "text_kk" not in data:
            return await new_broadcast(query, state)
        await state.update_data(text_ru=data["text_kk"])
        await state.set_state(None)
        await choose_audience(query, user)

    async def choose_audience(event: Message | CallbackQuery, user: User) -> None:
        builder = KeyboardBuilder()
        builder.button(text=_("co-aud-all"), callback_data=cb.Coord(a="audv", v="all"))
        builder.button(text=_("co-aud-region"), callback_data=cb.Coord(a="audr"))
        for language in ("kk", "ru"):
            builder.button(
                text=_("co-aud-lang-" + language), callback_data=cb.Coord(a="audv", v="lang-" + language)
            )
        builder.button(text=_("co-aud-session"), callback_data=cb.Coord(a="auds"))
        builder.adjust(1, 1, 2, 1)
        await show(event, _("co-aud-title"), with_nav(builder, HOME))

    @router.callback_query(cb.Coord.filter(F.a == "audr"))
    async def audience_region(query: CallbackQuery, user: User, role: str) -> None:
        builder = KeyboardBuilder()
        limit = region_limit(user, role)
        for region in regions().values():
            if limit in (None, region.code):
                builder.button(
                    text=region.name(user.language),
                    callback_data=cb.Coord(a="audv", v="region-" + region.code),
                )
        builder.adjust(2)
        await show(query, _("co-aud-region"), with_nav(builder, cb.Coord(a="aud")))

    @router.callback_query(cb.Coord.filter(F.a == "aud"))
    async def audience_again(query: CallbackQuery, user: User) -> None:
        await choose_audience(query, user)

    @router.callback_query(cb.Coord.filter(F.a == "auds"))
    async def audience_session(
        query: CallbackQuery, session: AsyncSession, user: User, role: str, settings: Settings
    ) -> None:
        builder = KeyboardBuilder()
        for group, _taken in await groups.upcoming(
            session, utcnow(), region=region_limit(user, role), limit=10
        ):
            label = (
                group.starts_at.astimezone(settings.tz).strftime("%d.%m %H:%M")
                + " · "
                + group.title(user.language)
            )
            builder.button(
                text=_("co-aud-participants").format(title=label),
                callback_data=cb.Coord(a="audv", v=f"participants-{group.id}"),
            )
            builder.button(
                text=_("co-aud-waitlist").format(title=label),
                callback_data=cb.Coord(a="audv", v=f"waitlist-{group.id}"),
            )
        builder.adjust(1)
        text = _("co-aud-session") if builder.export() else _("co-no-sessions")
        await show(query, text, with_nav(builder, cb.Coord(a="aud")))

    @router.callback_query(cb.Coord.filter(F.a == "audv"))
    async def audience_chosen(
        query: CallbackQuery,
        callback_data: cb.Coord,
        state: FSMContext,
        session: AsyncSession,
        user: User,
        role: str,
        settings: Settings,
    ) -> None:
        if not valid_audience(callback_data.v, region_limit(user, role)):
            return await choose_audience(query, user)
        await state.update_data(audience=callback_data.v)
        builder = KeyboardBuilder()
        builder.button(text=_("co-btn-none"), callback_data=cb.Coord(a="btn", i=0))
        for group, _taken in await groups.upcoming(
            session, utcnow(), region=region_limit(user, role), limit=8
        ):
            label = (
                group.starts_at.astimezone(settings.tz).strftime("%d.%m %H:%M")
                + " · "
                + group.title(user.language)
            )
            builder.button(text=label, callback_data=cb.Coord(a="btn", i=group.id))
        builder.adjust(1)
        await show(query, _("co-btn-title"), with_nav(builder, cb.Coord(a="aud")))

    @router.callback_query(cb.Coord.filter(F.a == "btn"))
    async def preview(
        query: CallbackQuery,
        callback_data: cb.Coord,
        state: FSMContext,
        session: AsyncSession,
        user: User,
        role: str,
        i18n: I18n,
        settings: Settings,
    ) -> None:
        data = await state.get_data()
        if not {"text_kk", "text_ru", "audience"} <= data.keys():
            return await new_broadcast(query, state)
        group_id = callback_data.i or None
        if group_id is not None and await groups.get(session, group_id) is None:
            group_id = None
        draft = await broadcasts.create_draft(
            session,
            created_by=user.id,
            text_kk=data["text_kk"],
            text_ru=data["text_ru"],
            audience=data["audience"],
            group_id=group_id,
            language=user.language,
        )
        await state.clear()
        # Exactly what teachers will get, in each language, made by the same function the worker uses.
        for language in ("kk", "ru"):
            text, markup = announcement(i18n, draft, language)
            await query.message.answer(_("co-preview-" + language))
            await query.message.answer(text, reply_markup=markup)
        # Below the minimum cell only "fewer than 5": an exact small audience would tell who is in it.
        minimum = settings.broadcast.min_cell
        count = anonymity.at_least(
            await broadcasts.audience_size(session, draft.audience, region_limit(user, role)),
            minimum,
            _("co-fewer").format(minimum=minimum),
        )
        builder = KeyboardBuilder()
        builder.button(text=_("co-send").format(count=count), callback_data=cb.Coord(a="send", i=draft.id))
        builder.button(text=_("co-discard"), callback_data=HOME)
        builder.adjust(1)
        await query.message.answer(_("co-confirm").format(count=count), reply_markup=with_nav(builder, HOME))

    @router.callback_query(cb.Coord.filter(F.a == "send"))
    async def send(
        query: CallbackQuery,
        callback_data: cb.Coord,
        session: AsyncSession,
        user: User,
        role: str,
        callback_answer: CallbackAnswer,
        app,
    ) -> None:
        draft = await broadcasts.get(session, callback_data.i)
        if draft is None or (draft.created_by != user.id and role != "admin"):
            callback_answer.text, callback_answer.show_alert = _("co-not-yours"), True
            return await show_home(query)
        if draft.status != "draft":
            callback_answer.text = _("co-already-sent")
            return await app.broadcaster.show_progress(draft.id)
        # The confirm screen becomes the progress message, edited in place: no new message right
        # after the previews, where Telegram's per-chat limit would make the press wait.
        await show(query, _("co-starting"))
        await broadcasts.start(
            session, draft, region_limit(user, role), utcnow(), query.from_user.id, query.message.message_id
        )
        await users.audit(session, user.pseudonym, "broadcast_started", "broadcast", draft.id)
        await session.commit()  # the recipients must be saved before the worker looks for them
        app.broadcaster.wake()
        await app.broadcaster.show_progress(draft.id)

    @router.callback_query(cb.Coord.filter(F.a.in_({"pause", "resume", "stop", "prog"})))
    async def control(
        query: CallbackQuery,
        callback_data: cb.Coord,
        session: AsyncSession,
        user: User,
        role: str,
        callback_answer: CallbackAnswer,
        app,
    ) -> None:
        draft = await broadcasts.get(session, callback_data.i)
        if draft is None or (draft.created_by != user.id and role != "admin"):
            callback_answer.text, callback_answer.show_alert = _("co-not-yours"), True
            return
        moves = {
            "pause": (("sending",), "paused"),
            "resume": (("paused",), "sending"),
            "stop": (("sending", "paused"), "cancelled"),
        }
        if callback_data.a in moves:
            old, new = moves[callback_data.a]
            if await broadcasts.set_status(session, draft.id, old, new, utcnow()):
                await users.audit(session, user.pseudonym, "broadcast_" + new, "broadcast", draft.id)
                callback_answer.text = _("co-status-" + new)
            await session.commit()  # the worker reads the status from the database
            app.broadcaster.wake()
        await app.broadcaster.show_progress(draft.id)

    # --- group sessions: create, list, cancel --------------------------------------------------------------

    @router.callback_query(cb.Coord.filter(F.a == "gnew"))
    async def group_new(query: CallbackQuery, state: FSMContext) -> None:
        await state.set_state(GroupForm.kk)
        await prompt(query, _("co-g-kk"))

    @router.message(StateFilter(GroupForm.kk), F.text)
    async def group_kk(message: Message, state: FSMContext) -> None:
        title, description = _title_and_description(message.text)
        await state.update_data(title_kk=title, description_kk=description)
        await state.set_state(GroupForm.ru)
        await prompt(message, _("co-g-ru"))

    @router.message(StateFilter(GroupForm.ru), F.text)
    async def group_ru(message: Message, state: FSMContext) -> None:
        title, description = _title_and_description(message.text)
        await state.update_data(title_ru=title, description_ru=description)
        await state.set_state(GroupForm.when)
        await prompt(message, _("co-g-when"))

    @router.message(StateFilter(GroupForm.when), F.text)
    async def group_when(message: Message, state: FSMContext, settings: Settings) -> None:
        try:
            moment = datetime.strptime(message.text.strip(), "%d.%m.%Y %H:%M").replace(tzinfo=settings.tz)
        except ValueError:
            return await prompt(message, _("co-g-when-bad"))
        if moment <= utcnow():
            return await prompt(message, _("co-g-when-past"))
        await state.update_data(starts_at=moment.isoformat())
        builder = KeyboardBuilder()
        for minutes in DURATIONS:
            builder.button(
                text=_("co-g-minutes").format(minutes=minutes),
                callback_data=cb.Coord(a="gdur", v=str(minutes)),
            )
        builder.adjust(4)
        await show(message, _("co-g-duration"), with_nav(builder, HOME))

    @router.callback_query(cb.Coord.filter(F.a == "gdur"))
    async def group_duration(query: CallbackQuery, callback_data: cb.Coord, state: FSMContext) -> None:
        minutes = int(callback_data.v) if callback_data.v.isdigit() else 60
        await state.update_data(duration_min=minutes if minutes in DURATIONS else 60)
        await state.set_state(GroupForm.capacity)
        await prompt(query, _("co-g-capacity"))

    @router.message(StateFilter(GroupForm.capacity), F.text)
    async def group_capacity(message: Message, state: FSMContext) -> None:
        text = message.text.strip()
        if not text.isdigit() or not 2 <= int(text) <= 200:
            return await prompt(message, _("co-g-capacity-bad"))
        await state.update_data(capacity=int(text))
        await state.set_state(None)
        builder = KeyboardBuilder()
        for fmt in GROUP_FORMATS:
            builder.button(text=_("groups-format-" + fmt), callback_data=cb.Coord(a="gfmt", v=fmt))
        builder.adjust(1)
        await show(message, _("co-g-format"), with_nav(builder, HOME))

    @router.callback_query(cb.Coord.filter(F.a == "gfmt"))
    async def group_format(
        query: CallbackQuery, callback_data: cb.Coord, state: FSMContext, user: User, role: str
    ) -> None:
        if callback_data.v not in GROUP_FORMATS:
            return await group_new(query, state)
        await state.update_data(format=callback_data.v)
        limit = region_limit(user, role)
        if callback_data.v != "offline" or limit:
            # Online sessions are open to every region, unless a regional coordinator runs them.
            return await group_language(query, cb.Coord(a="greg", v=limit or ""), state)
        builder = KeyboardBuilder()
        for region in regions().values():
            builder.button(text=region.name(user.language), callback_data=cb.Coord(a="greg", v=region.code))
        builder.adjust(2)
        await show(query, _("co-g-region"), with_nav(builder, HOME))

    @router.callback_query(cb.Coord.filter(F.a == "greg"))
    async def group_language(query: CallbackQuery, callback_data: cb.Coord, state: FSMContext) -> None:
        await state.update_data(region=callback_data.v if callback_data.v in regions() else None)
        builder = KeyboardBuilder()
        for language in ("kk", "ru"):
            builder.button(
                text=_("groups-language-" + language), callback_data=cb.Coord(a="glng", v=language)
            )
        await show(query, _("co-g-language"), with_nav(builder, HOME))

    @router.callback_query(cb.Coord.filter(F.a == "glng"))
    async def group_facilitator(
        query: CallbackQuery, callback_data: cb.Coord, state: FSMContext, session: AsyncSession
    ) -> None:
        await state.update_data(language=callback_data.v if callback_data.v in ("kk", "ru") else "kk")
        data = await state.get_data()
        builder = KeyboardBuilder()
        builder.button(text=_("co-g-fac-none"), callback_data=cb.Coord(a="gfac", i=0))
        for psychologist in await groups.facilitators(session, data.get("region")):
            builder.button(text=psychologist.pseudonym, callback_data=cb.Coord(a="gfac", i=psychologist.id))
        builder.adjust(1, 3)
        await show(query, _("co-g-facilitator"), with_nav(builder, HOME))

    @router.callback_query(cb.Coord.filter(F.a == "gfac"))
    async def group_confirm(
        query: CallbackQuery,
        callback_data: cb.Coord,
        state: FSMContext,
        session: AsyncSession,
        user: User,
        settings: Settings,
    ) -> None:
        data = await state.get_data()
        if not {"title_kk", "title_ru", "starts_at", "capacity", "format", "language"} <= data.keys():
            return await group_new(query, state)
        facilitator = None
        if callback_data.i:
            candidates = {p.id for p in await groups.facilitators(session, data.get("region"))}
            facilitator = callback_data.i if callback_data.i in candidates else None
        group = await groups.create_session(
            session,
            title_kk=data["title_kk"],
            title_ru=data["title_ru"],
            description_kk=data.get("description_kk", ""),
            description_ru=data.get("description_ru", ""),
            starts_at=datetime.fromisoformat(data["starts_at"]),
            duration_min=data.get("duration_min", 60),
            capacity=data["capacity"],
            format=data["format"],
            region=data.get("region"),
            language=data["language"],
            facilitator_id=facilitator,
            created_by=user.id,
        )
        await users.audit(session, user.pseudonym, "group_created", "group_session", group.id)
        await state.clear()
        builder = KeyboardBuilder()
        builder.button(text=_("co-new"), callback_data=cb.Coord(a="new"))
        builder.button(text=_("co-glist"), callback_data=cb.Coord(a="glist"))
        builder.adjust(1)
        text = _("co-g-created") + "\n\n" + describe(group, user.language, settings.tz, group.capacity)
        await show(query, text, with_nav(builder, HOME))

    @router.callback_query(cb.Coord.filter(F.a == "glist"))
    async def group_list(
        query: CallbackQuery, session: AsyncSession, user: User, role: str, settings: Settings
    ) -> None:
        builder = KeyboardBuilder()
        for group, taken in await groups.upcoming(
            session, utcnow(), region=region_limit(user, role), limit=15
        ):
            label = _("co-g-item").format(
                when=group.starts_at.astimezone(settings.tz).strftime("%d.%m %H:%M"),
                title=group.title(user.language),
                taken=taken,
                capacity=group.capacity,
            )
            builder.button(text=label, callback_data=cb.Coord(a="gview", i=group.id))
        builder.adjust(1)
        text = _("co-glist") if builder.export() else _("co-no-sessions")
        await show(query, text, with_nav(builder, HOME))

    async def own_group(
        session: AsyncSession, group_id: int, user: User, role: str, callback_answer: CallbackAnswer
    ):
        group = await groups.get(session, group_id)
        limit = region_limit(user, role)
        if group is None or group.status != "open" or (limit and group.region not in (None, limit)):
            callback_answer.text, callback_answer.show_alert = _("groups-gone"), True
            return None
        return group

    @router.callback_query(cb.Coord.filter(F.a == "gview"))
    async def group_view(
        query: CallbackQuery,
        callback_data: cb.Coord,
        session: AsyncSession,
        user: User,
        role: str,
        settings: Settings,
        callback_answer: CallbackAnswer,
    ) -> None:
        group = await own_group(session, callback_data.i, user, role, callback_answer)
        if group is None:
            return await group_list(query, session, user, role, settings)
        taken = await groups.taken(session, group.id)
        # Counts only: who is there is the facilitator's to know, not the coordinator's.
        text = (
            describe(group, user.language, settings.tz, group.capacity - taken)
            + "\n\n"
            + _("co-g-counts").format(
                taken=taken,
                capacity=group.capacity,
                waiting=await groups.waitlist_length(session, group.id),
            )
        )
        builder = KeyboardBuilder()
        builder.button(text=_("co-g-cancel"), callback_data=cb.Coord(a="gcancel", i=group.id))
        await show(query, text, with_nav(builder, cb.Coord(a="glist")))

    @router.callback_query(cb.Coord.filter(F.a == "gcancel"))
    async def group_cancel_ask(query: CallbackQuery, callback_data: cb.Coord) -> None:
        builder = KeyboardBuilder()
        builder.button(text=_("co-g-cancel-confirm"), callback_data=cb.Coord(a="gkill", i=callback_data.i))
        await show(query, _("co-g-cancel-ask"), with_nav(builder, cb.Coord(a="gview", i=callback_data.i)))

    @router.callback_query(cb.Coord.filter(F.a == "gkill"))
    async def group_cancel(
        query: CallbackQuery,
        callback_data: cb.Coord,
        session: AsyncSession,
        user: User,
        role: str,
        settings: Settings,
        callback_answer: CallbackAnswer,
        bot: Bot,
        i18n: I18n,
        sessions,
    ) -> None:
        group = await own_group(session, callback_data.i, user, role, callback_answer)
        if group is None:
            return await group_list(query, session, user, role, settings)
        told = await groups.cancel_session(session, group.id)
        await users.audit(session, user.pseudonym, "group_cancelled", "group_session", group.id)
        await session.commit()  # cancelled for good before anyone is told
        reached = await notify.notify_cancelled(bot, session, sessions, i18n, settings.tz, group, told)
        await show(query, _("co-g-cancelled").format(count=reached), with_nav(back_to("glist"), HOME))

    # --- statistics -----------------------------------------------------------------------------------------

    @router.callback_query(cb.Stat.filter(F.a == "show"))
    async def stats(
        query: CallbackQuery,
        callback_data: cb.Stat,
        session: AsyncSession,
        user: User,
        role: str,
        settings: Settings,
    ) -> None:
        now = utcnow()
        period, region = stats_scope(callback_data, user, role, settings, now)
        report = await statistics.build(
            session, period, region, settings.broadcast.min_cell, user.language, settings.tz, now
        )
        title = _("co-stats-title").format(
            period=statistics.period_name(period, user.language), region=html.escape(area_name(region, user))
        )
        note = _("co-stats-note").format(
            mark=anonymity.HIDDEN, minimum=settings.broadcast.min_cell, days=SETTLE.days
        )
        builder = KeyboardBuilder()
        for offered in periods.offered(now, settings.tz):
            mark = "✓ " if offered == period else ""
            builder.button(
                text=mark + statistics.period_name(offered, user.language),
                callback_data=cb.Stat(a="show", p=offered.code, r=region or ""),
            )
        builder.button(
            text=_("co-stats-chart"), callback_data=cb.Stat(a="chart", p=period.code, r=region or "")
        )
        builder.button(text=_("co-stats-csv"), callback_data=cb.Stat(a="csv", p=period.code, r=region or ""))
        if region_limit(user, role) is None:
            builder.button(text=_("co-stats-region"), callback_data=cb.Stat(a="reg", p=period.code))
        builder.adjust(periods.OFFERED["m"], periods.OFFERED["q"], periods.OFFERED["y"], 2, 1)
        await show(query, fit("\n".join([title, *report.lines, "", note])), with_nav(builder, HOME))

    @router.callback_query(cb.Stat.filter(F.a == "reg"))
    async def stats_region(
        query: CallbackQuery, callback_data: cb.Stat, user: User, role: str, settings: Settings
    ) -> None:
        period, _region = stats_scope(callback_data, user, role, settings, utcnow())
        builder = KeyboardBuilder()
        builder.button(text=_("co-stats-all-regions"), callback_data=cb.Stat(a="show", p=period.code))
        for region in regions().values():
            builder.button(
                text=region.name(user.language), callback_data=cb.Stat(a="show", p=period.code, r=region.code)
            )
        builder.adjust(1, 2)
        await show(query, _("co-stats-region"), with_nav(builder, cb.Stat(a="show", p=period.code)))

    @router.callback_query(cb.Stat.filter(F.a == "chart"))
    async def stats_chart(
        query: CallbackQuery,
        callback_data: cb.Stat,
        session: AsyncSession,
        user: User,
        role: str,
        settings: Settings,
    ) -> None:
        now = utcnow()
        period, region = stats_scope(callback_data, user, role, settings, now)
        minimum = settings.broadcast.min_cell
        report = await statistics.build(session, period, region, minimum, user.language, settings.tz, now)
        name, area = statistics.period_name(period, user.language), area_name(region, user)
        labels = Labels(
            title=_("co-chart-title").format(period=name, region=area),
            bars=_("co-chart-days") if period.kind == "m" else _("co-chart-months"),
            bands=_("co-chart-bands"),
            hidden=anonymity.HIDDEN,
            empty=_("co-chart-empty"),
        )
        # Drawing takes a noticeable fraction of a second: off the event loop.
        png = await asyncio.to_thread(render_stats_chart, labels, report.bars, report.bands)
        await query.message.answer_photo(
            BufferedInputFile(png, filename=f"demeu-stats-{period.code}.png"),
            caption=_("co-chart-caption").format(
                period=name, region=html.escape(area), mark=anonymity.HIDDEN, minimum=minimum
            ),
            reply_markup=with_nav(KeyboardBuilder(), cb.Stat(a="show", p=period.code, r=region or "")),
            protect_content=False,  # aggregates with small cells hidden, made for reports
        )

    @router.callback_query(cb.Stat.filter(F.a == "csv"))
    async def stats_csv(
        query: CallbackQuery,
        callback_data: cb.Stat,
        session: AsyncSession,
        user: User,
        role: str,
        settings: Settings,
    ) -> None:
        now = utcnow()
        period, region = stats_scope(callback_data, user, role, settings, now)
        report = await statistics.build(
            session, period, region, settings.broadcast.min_cell, user.language, settings.tz, now
        )
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["metric", "value"])
        writer.writerow(["period", period.code])
        writer.writerow(["region", region or "all"])
        writer.writerows(report.rows)
        document = BufferedInputFile(
            buffer.getvalue().encode("utf-8-sig"), filename=f"demeu-stats-{period.code}.csv"
        )
        name = statistics.period_name(period, user.language)
        await query.message.answer_document(
            document, caption=_("co-stats-csv-caption").format(period=name), protect_content=False
        )  # to be saved and used in reports
        await query.message.answer(
            _("co-stats-csv-sent"),
            reply_markup=with_nav(KeyboardBuilder(), cb.Stat(a="show", p=period.code, r=region or "")),
        )

    return router


def stats_scope(
    data: cb.Stat, user: User, role: str, settings: Settings, now: datetime
) -> tuple[periods.Period, str | None]:
    """Period and region of a statistics button: an offered period only (else the latest month),
    and a regional coordinator's own region whatever the button says."""
    offered = periods.offered(now, settings.tz)
    period = periods.Period.parse(data.p)
    limit = region_limit(user, role)
    region = limit if limit is not None else (data.r if data.r in regions() else None)
    return (period if period in offered else offered[0]), region


def area_name(region: str | None, user: User) -> str:
    return region_name(region, user.language) or _("co-stats-all-regions")


def fit(text: str, limit: int = 4096) -> str:
    """Telegram's message limit: a long report loses its last lines, never the send."""
    return text if len(text) <= limit else text[: text.rfind("\n", 0, limit - 2)] + "\n…"
