"""Group sessions: the coordinator's form to create one, the list of upcoming ones, cancelling, and
how many came to those ended lately when their facilitator has not told (or to correct it)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import partial

from aiogram import Bot, F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.content.regions import regions
from bot.services import groups as rules
from bot.telegram import callbacks as cb
from bot.telegram.keyboards import KeyboardBuilder, button, with_nav
from bot.telegram.ui import show, too_long
from bot.views import dates, ics
from bot.views.calendar import day_grid
from bot.views.groups import attendance, attendance_question, count_picker, ended_label, kind_about
from bot.workers import groups as notify
from bot.workers.groups import describe
from handlers.coordinator.home import HOME, back_to, prompt, region_limit
from storage.models import GroupSession, User
from storage.models.base import utcnow
from storage.models.groups import DESCRIPTION_LIMIT, GROUP_FORMATS, GROUP_KINDS, TITLE_LIMIT
from storage.repo import groups, users

Action = cb.CoordAction
LIST = cb.Coord(a=Action.GROUP_LIST)
DURATIONS = (45, 60, 90, 120)
PICKER_DAYS = 42  # six weeks ahead in the calendar; a later date can be typed
PICKER_MINUTES = range(8 * 60, 21 * 60, 30)  # 08:00 to 20:30
LANGUAGES = ("kk", "ru")
REQUIRED = {"kind", "title_kk", "title_ru", "starts_at", "capacity", "format", "language"}
PLACE_LIMIT = 400  # characters of an office session's address and directions


class GroupForm(StatesGroup):
    kk = State()
    ru = State()
    when = State()
    capacity = State()
    place = State()  # an office session's address and how to find the cabinet


async def noop(query: CallbackQuery) -> None:
    """The calendar's month, weekday and padding cells: the press is answered, nothing changes."""


async def title_and_description(message: Message, text: str) -> tuple[str, str] | None:
    """The first line is the title, the rest the description; None after asking for a shorter one."""
    title, _newline, rest = text.strip().partition("\n")
    for part, limit in ((title.strip(), TITLE_LIMIT), (rest.strip(), DESCRIPTION_LIMIT)):
        if await too_long(message, part, limit, with_nav(KeyboardBuilder(), HOME)):
            return None
    return title.strip(), rest.strip()


async def group_new(query: CallbackQuery, state: FSMContext) -> None:
    """First what the session is: each kind with its description, so the choice is informed."""
    await state.clear()
    builder = KeyboardBuilder()
    for kind in GROUP_KINDS:
        builder.button(text=_("groups-kind-" + kind), callback_data=cb.Coord(a=Action.GROUP_KIND, v=kind))
    builder.adjust(2)
    text = "\n\n".join([_("co-g-kind"), *(kind_about(kind) for kind in GROUP_KINDS)])
    await show(query, text, with_nav(builder, HOME))


async def group_kind(query: CallbackQuery, callback_data: cb.Coord, state: FSMContext) -> None:
    if callback_data.v not in GROUP_KINDS:
        return await group_new(query, state)
    await state.update_data(kind=callback_data.v)
    await state.set_state(GroupForm.kk)
    await prompt(query, _("co-g-kk"))


async def group_kk(message: Message, text: str, state: FSMContext) -> None:
    if (written := await title_and_description(message, text)) is None:
        return
    title, description = written
    await state.update_data(title_kk=title, description_kk=description)
    await state.set_state(GroupForm.ru)
    await prompt(message, _("co-g-ru"))


async def group_ru(message: Message, text: str, state: FSMContext, settings: Settings) -> None:
    if (written := await title_and_description(message, text)) is None:
        return
    title, description = written
    await state.update_data(title_ru=title, description_ru=description)
    await state.set_state(GroupForm.when)
    await show_calendar(message, settings)


async def show_calendar(event: Message | CallbackQuery, settings: Settings, note: str = "") -> None:
    """The day picker (the date can still be typed, as the text says)."""
    first = utcnow().astimezone(settings.tz).date()
    builder = KeyboardBuilder()
    pick = partial(day_button, Action.GROUP_DAY, "%Y%m%d")
    for row in day_grid(first, first + timedelta(days=PICKER_DAYS - 1), pick, cb.Coord(a=Action.GROUP_NOOP)):
        builder.row(*row)
    text = _("co-g-when")
    await show(event, f"{note}\n\n{text}" if note else text, with_nav(builder, HOME))


def day_button(action: cb.CoordAction, pattern: str, moment: date | datetime) -> cb.Coord:
    return cb.Coord(a=action, v=moment.strftime(pattern))


async def group_day(query: CallbackQuery, callback_data: cb.Coord, settings: Settings) -> None:
    try:
        day = datetime.strptime(callback_data.v, "%Y%m%d").date()
    except ValueError:
        return await show_calendar(query, settings)
    now = utcnow()
    starts = [
        datetime.combine(day, time(minute // 60, minute % 60), settings.tz) for minute in PICKER_MINUTES
    ]
    builder = KeyboardBuilder()
    for moment in (m for m in starts if m > now):
        builder.button(
            text=dates.time(moment, settings.tz),
            callback_data=day_button(Action.GROUP_TIME, "%Y%m%d%H%M", moment),
        )
    builder.adjust(4)
    back = cb.Coord(a=Action.GROUP_DAY)
    await show(query, _("co-g-when-time").format(day=dates.day(day)), with_nav(builder, back))


async def group_time(
    query: CallbackQuery, callback_data: cb.Coord, state: FSMContext, settings: Settings
) -> None:
    try:
        moment = datetime.strptime(callback_data.v, "%Y%m%d%H%M").replace(tzinfo=settings.tz)
    except ValueError:
        return await show_calendar(query, settings)
    await chosen(query, moment, state, settings)


async def group_when(message: Message, text: str, state: FSMContext, settings: Settings) -> None:
    try:
        moment = datetime.strptime(text.strip(), "%d.%m.%Y %H:%M").replace(tzinfo=settings.tz)
    except ValueError:
        return await show_calendar(message, settings, _("co-g-when-bad"))
    await chosen(message, moment, state, settings)


async def chosen(
    event: Message | CallbackQuery, moment: datetime, state: FSMContext, settings: Settings
) -> None:
    """A date and time picked or typed: the duration next."""
    if moment <= utcnow():
        return await show_calendar(event, settings, _("co-g-when-past"))
    await state.update_data(starts_at=moment.isoformat())
    builder = KeyboardBuilder()
    for minutes in DURATIONS:
        builder.button(
            text=_("co-g-minutes").format(minutes=minutes),
            callback_data=cb.Coord(a=Action.GROUP_DURATION, n=minutes),
        )
    builder.adjust(4)
    await show(event, _("co-g-duration"), with_nav(builder, HOME))


async def group_duration(query: CallbackQuery, callback_data: cb.Coord, state: FSMContext) -> None:
    await state.update_data(duration_min=callback_data.n if callback_data.n in DURATIONS else 60)
    await state.set_state(GroupForm.capacity)
    await prompt(query, _("co-g-capacity"))


async def group_capacity(message: Message, text: str, state: FSMContext) -> None:
    text = text.strip()
    if not text.isdigit() or not 2 <= int(text) <= 200:
        return await prompt(message, _("co-g-capacity-bad"))
    await state.update_data(capacity=int(text))
    await state.set_state(None)
    builder = KeyboardBuilder()
    for fmt in GROUP_FORMATS:
        builder.button(text=_("groups-format-" + fmt), callback_data=cb.Coord(a=Action.GROUP_FORMAT, v=fmt))
    builder.adjust(1)
    await show(message, _("co-g-format"), with_nav(builder, HOME))


async def group_format(
    query: CallbackQuery, callback_data: cb.Coord, state: FSMContext, user: User, role: str
) -> None:
    if callback_data.v not in GROUP_FORMATS:
        return await group_new(query, state)
    await state.update_data(format=callback_data.v)
    limit = region_limit(user, role)
    if callback_data.v != "offline":
        # Online sessions are open to every region, unless a regional coordinator runs them.
        return await choose_language(query, state, limit)
    if limit:
        return await ask_place(query, state, limit)
    builder = KeyboardBuilder()
    for region in regions().values():
        builder.button(
            text=region.name(user.language), callback_data=cb.Coord(a=Action.GROUP_REGION, v=region.code)
        )
    builder.adjust(2)
    await show(query, _("co-g-region"), with_nav(builder, HOME))


async def group_region(query: CallbackQuery, callback_data: cb.Coord, state: FSMContext) -> None:
    await ask_place(query, state, callback_data.v if callback_data.v in regions() else None)


async def ask_place(query: CallbackQuery, state: FSMContext, region: str | None) -> None:
    """An office session: the full address and how to find the cabinet, shown to enrolled teachers."""
    await state.update_data(region=region)
    await state.set_state(GroupForm.place)
    await prompt(query, _("sess-place-ask").format(limit=PLACE_LIMIT))


async def group_place(message: Message, text: str, state: FSMContext) -> None:
    await state.update_data(place=text.strip()[:PLACE_LIMIT])
    await state.set_state(None)
    await choose_language(message, state, (await state.get_data()).get("region"))


async def choose_language(query: CallbackQuery | Message, state: FSMContext, region: str | None) -> None:
    await state.update_data(region=region)
    builder = KeyboardBuilder()
    for language in LANGUAGES:
        builder.button(
            text=_("groups-language-" + language), callback_data=cb.Coord(a=Action.GROUP_LANGUAGE, v=language)
        )
    await show(query, _("co-g-language"), with_nav(builder, HOME))


async def group_language(
    query: CallbackQuery, callback_data: cb.Coord, state: FSMContext, session: AsyncSession
) -> None:
    await state.update_data(language=callback_data.v if callback_data.v in LANGUAGES else "kk")
    data = await state.get_data()
    builder = KeyboardBuilder()
    builder.button(text=_("co-g-fac-none"), callback_data=cb.Coord(a=Action.GROUP_FACILITATOR))
    for psychologist, name in await groups.facilitators(session, data.get("region")):
        builder.button(text=name, callback_data=cb.Coord(a=Action.GROUP_FACILITATOR, i=psychologist.id))
    builder.adjust(1, 2)
    await show(query, _("co-g-facilitator"), with_nav(builder, HOME))


async def facilitator(session: AsyncSession, region: str | None, psychologist_id: int) -> int | None:
    """The psychologist chosen, if still one who may lead a session there."""
    if not psychologist_id:
        return None
    candidates = {p.id for p, _name in await groups.facilitators(session, region)}
    return psychologist_id if psychologist_id in candidates else None


async def group_create(
    query: CallbackQuery,
    callback_data: cb.Coord,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    settings: Settings,
) -> None:
    data = await state.get_data()
    if not data.keys() >= REQUIRED:
        return await group_new(query, state)
    group = await groups.create_session(
        session,
        kind=data["kind"],
        title_kk=data["title_kk"],
        title_ru=data["title_ru"],
        description_kk=data.get("description_kk", ""),
        description_ru=data.get("description_ru", ""),
        starts_at=datetime.fromisoformat(data["starts_at"]),
        duration_min=data.get("duration_min", 60),
        capacity=data["capacity"],
        format=data["format"],
        region=data.get("region"),
        place=data.get("place") if data["format"] == "offline" else None,
        language=data["language"],
        facilitator_id=await facilitator(session, data.get("region"), callback_data.i),
        created_by=user.id,
    )
    await users.audit(session, user.pseudonym, "group_created", "group_session", group.id)
    await state.clear()
    builder = KeyboardBuilder()
    builder.button(text=_("co-new"), callback_data=cb.Coord(a=Action.COMPOSE))
    builder.button(text=_("co-glist"), callback_data=LIST)
    builder.adjust(1)
    text = _("co-g-created") + "\n\n" + describe(group, user.language, settings.tz, group.capacity)
    await show(query, text, with_nav(builder, HOME))


async def group_list(
    query: CallbackQuery, session: AsyncSession, user: User, role: str, settings: Settings
) -> None:
    builder = KeyboardBuilder()
    for group, taken in await groups.upcoming(session, utcnow(), region=region_limit(user, role), limit=15):
        label = _("co-g-item").format(
            when=dates.moment(group.starts_at, settings.tz),
            title=group.title(user.language),
            taken=taken,
            capacity=group.capacity,
        )
        builder.button(text=label, callback_data=cb.Coord(a=Action.GROUP_VIEW, i=group.id))
    builder.adjust(1)
    text = _("co-glist") if builder.export() else _("co-no-sessions")
    builder.row(button(_("co-g-ended"), cb.Coord(a=Action.GROUP_ENDED)))
    await show(query, text, with_nav(builder, HOME))


async def ended_list(
    query: CallbackQuery, session: AsyncSession, user: User, role: str, settings: Settings
) -> None:
    """Sessions ended lately whose attendance may still be told, latest first."""
    now = utcnow()
    builder = KeyboardBuilder()
    recent = await groups.started_between(session, rules.led_since(now), now, region=region_limit(user, role))
    for group in [g for g in recent if rules.reportable(g, now)][:15]:
        label = ended_label(
            dates.moment(group.starts_at, settings.tz) + " · " + group.title(user.language), group
        )
        builder.button(text=label, callback_data=cb.Coord(a=Action.GROUP_VIEW, i=group.id))
    builder.adjust(1)
    text = _("co-g-ended-title") if builder.export() else _("co-g-ended-none")
    await show(query, text, with_nav(builder, LIST))


async def own_group(
    session: AsyncSession, group_id: int, user: User, role: str, callback_answer: CallbackAnswer
) -> GroupSession | None:
    """An open session of this coordinator's region; else told it is gone."""
    group = await groups.get(session, group_id)
    limit = region_limit(user, role)
    if group is None or group.status != "open" or (limit and group.region not in (None, limit)):
        callback_answer.text, callback_answer.show_alert = _("groups-gone"), True
        return None
    return group


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
    waiting = await groups.waitlist_length(session, group.id)
    # Counts only: who is there is the facilitator's to know, not the coordinator's.
    text = (
        describe(group, user.language, settings.tz, group.capacity - taken)
        + "\n\n"
        + _("co-g-counts").format(taken=taken, capacity=group.capacity, waiting=waiting)
    )
    builder = KeyboardBuilder()
    back = LIST
    if rules.reportable(group, utcnow()):  # ended: how many came, not a cancel
        text += "\n" + attendance(group)
        builder.button(
            text=_("groups-attendance-set"), callback_data=cb.Coord(a=Action.GROUP_COUNT, i=group.id)
        )
        back = cb.Coord(a=Action.GROUP_ENDED)
    else:
        builder.button(text=_("co-g-cancel"), callback_data=cb.Coord(a=Action.GROUP_CANCEL, i=group.id))
    await show(query, text, with_nav(builder, back))


async def group_count(
    query: CallbackQuery,
    callback_data: cb.Coord,
    session: AsyncSession,
    user: User,
    role: str,
    settings: Settings,
    callback_answer: CallbackAnswer,
) -> None:
    """The numbers: how many came to an ended session of this coordinator's region."""
    group = await own_group(session, callback_data.i, user, role, callback_answer)
    if group is None or not rules.reportable(group, utcnow()):
        callback_answer.text = callback_answer.text or _("groups-attendance-closed")
        return await ended_list(query, session, user, role, settings)
    builder = KeyboardBuilder()
    count_picker(
        builder,
        await groups.enrolled(session, group.id),
        callback_data.n,
        lambda count: cb.Coord(a=Action.GROUP_COUNTED, i=group.id, n=count),
        lambda page: cb.Coord(a=Action.GROUP_COUNT, i=group.id, n=page),
    )
    text = attendance_question(group, user.language, settings.tz)
    await show(query, text, with_nav(builder, cb.Coord(a=Action.GROUP_VIEW, i=group.id)))


async def group_counted(
    query: CallbackQuery,
    callback_data: cb.Coord,
    session: AsyncSession,
    user: User,
    role: str,
    settings: Settings,
    callback_answer: CallbackAnswer,
) -> None:
    group = await own_group(session, callback_data.i, user, role, callback_answer)
    if group is None or not await rules.report_attendance(session, group, callback_data.n, utcnow()):
        callback_answer.text = callback_answer.text or _("groups-attendance-closed")
        return await ended_list(query, session, user, role, settings)
    await users.audit(session, user.pseudonym, "group_attendance", "group_session", group.id)
    callback_answer.text = _("groups-attendance-thanks")
    await group_view(query, callback_data, session, user, role, settings, callback_answer)


async def group_cancel_ask(query: CallbackQuery, callback_data: cb.Coord) -> None:
    builder = KeyboardBuilder()
    builder.button(
        text=_("co-g-cancel-confirm"), callback_data=cb.Coord(a=Action.GROUP_KILL, i=callback_data.i)
    )
    back = cb.Coord(a=Action.GROUP_VIEW, i=callback_data.i)
    await show(query, _("co-g-cancel-ask"), with_nav(builder, back))


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
) -> None:
    group = await own_group(session, callback_data.i, user, role, callback_answer)
    if group is None:
        return await group_list(query, session, user, role, settings)
    calendars = await ics.group_cancellations(session, group, i18n, settings.tz)  # before the seats go
    told = await groups.cancel_session(session, group.id)
    await notify.cancelled(session, group, told)  # their notices, committed with the cancel
    await users.audit(session, user.pseudonym, "group_cancelled", "group_session", group.id)
    await session.commit()  # cancelled for good (its notices with it) before the calendars are told
    await ics.send_all_made(bot, calendars)
    text = _("co-g-cancelled").format(count=len(await groups.teachers(session, told)))
    await show(query, text, with_nav(back_to(Action.GROUP_LIST), HOME))


def register(router: Router) -> None:
    press, typed = router.callback_query.register, router.message.register
    press(group_new, cb.Coord.filter(F.a == Action.GROUP_NEW))
    press(group_kind, cb.Coord.filter(F.a == Action.GROUP_KIND))
    typed(group_kk, StateFilter(GroupForm.kk), F.text.as_("text"))
    typed(group_ru, StateFilter(GroupForm.ru), F.text.as_("text"))
    typed(group_when, StateFilter(GroupForm.when), F.text.as_("text"))
    press(group_day, StateFilter(GroupForm.when), cb.Coord.filter(F.a == Action.GROUP_DAY))
    press(group_time, StateFilter(GroupForm.when), cb.Coord.filter(F.a == Action.GROUP_TIME))
    press(noop, cb.Coord.filter(F.a == Action.GROUP_NOOP))
    press(group_duration, cb.Coord.filter(F.a == Action.GROUP_DURATION))
    typed(group_capacity, StateFilter(GroupForm.capacity), F.text.as_("text"))
    typed(group_place, StateFilter(GroupForm.place), F.text.as_("text"))
    press(group_format, cb.Coord.filter(F.a == Action.GROUP_FORMAT))
    press(group_region, cb.Coord.filter(F.a == Action.GROUP_REGION))
    press(group_language, cb.Coord.filter(F.a == Action.GROUP_LANGUAGE))
    press(group_create, cb.Coord.filter(F.a == Action.GROUP_FACILITATOR))
    press(group_list, cb.Coord.filter(F.a == Action.GROUP_LIST))
    press(group_view, cb.Coord.filter(F.a == Action.GROUP_VIEW))
    press(ended_list, cb.Coord.filter(F.a == Action.GROUP_ENDED))
    press(group_count, cb.Coord.filter(F.a == Action.GROUP_COUNT))
    press(group_counted, cb.Coord.filter(F.a == Action.GROUP_COUNTED))
    press(group_cancel_ask, cb.Coord.filter(F.a == Action.GROUP_CANCEL))
    press(group_cancel, cb.Coord.filter(F.a == Action.GROUP_KILL))
