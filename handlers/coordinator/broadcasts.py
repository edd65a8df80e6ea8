"""Broadcasts: compose in both languages, choose the audience and the enrol button, preview, send,
and pause, resume or stop while it goes out."""

from __future__ import annotations

from aiogram import F, Router
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
from bot.services import anonymity
from bot.telegram import callbacks as cb
from bot.telegram.keyboards import KeyboardBuilder, with_nav
from bot.telegram.ui import show, too_long
from bot.workers.broadcasts import BroadcastWorker, announcement
from handlers.coordinator.home import HOME, pressed_on, prompt, region_limit, session_label, show_home
from storage.models import User
from storage.models.base import utcnow
from storage.repo import broadcasts, groups, users

Action, Audience = cb.CoordAction, cb.Audience
AUDIENCES = cb.Coord(a=Action.AUDIENCES)
TEXT_MAX = 3500  # room for the footer under Telegram's 4096
# The status a control press moves a broadcast from, and to.
MOVES = {
    Action.PAUSE: (("sending",), "paused"),
    Action.RESUME: (("paused",), "sending"),
    Action.STOP: (("sending", "paused"), "cancelled"),
}


class Compose(StatesGroup):
    kk = State()
    ru = State()


def audience_of(data: cb.Coord, limit: str | None) -> str | None:
    """The audience as stored (storage/repo/broadcasts.py), if the button names one this
    coordinator may reach."""
    match data.to:
        case Audience.ALL:
            return Audience.ALL.value
        case Audience.REGION if data.v in regions() and limit in (None, data.v):
            return f"{data.to}-{data.v}"
        case Audience.LANGUAGE if data.v in ("kk", "ru"):
            return f"{data.to}-{data.v}"
        case Audience.PARTICIPANTS | Audience.WAITLIST if data.i > 0:
            return f"{data.to}-{data.i}"
    return None


async def compose(query: CallbackQuery, state: FSMContext) -> None:
    await state.set_state(Compose.kk)
    await prompt(query, _("co-compose-kk"))


async def composed_kk(message: Message, text: str, state: FSMContext) -> None:
    if await too_long(message, text, TEXT_MAX, with_nav(KeyboardBuilder(), HOME)):
        return None
    await state.update_data(text_kk=message.html_text)
    await state.set_state(Compose.ru)
    builder = KeyboardBuilder()
    builder.button(text=_("co-same-text"), callback_data=cb.Coord(a=Action.SAME_TEXT))
    await show(message, _("co-compose-ru"), with_nav(builder, HOME))


async def composed_ru(message: Message, text: str, state: FSMContext) -> None:
    if await too_long(message, text, TEXT_MAX, with_nav(KeyboardBuilder(), HOME)):
        return None
    await state.update_data(text_ru=message.html_text)
    await state.set_state(None)
    await choose_audience(message)


async def same_text(query: CallbackQuery, state: FSMContext) -> None:
    data = await state.get_data()
    if "text_kk" not in data:
        return await compose(query, state)
    await state.update_data(text_ru=data["text_kk"])
    await state.set_state(None)
    await choose_audience(query)


async def choose_audience(event: Message | CallbackQuery) -> None:
    builder = KeyboardBuilder()
    builder.button(text=_("co-aud-all"), callback_data=cb.Coord(a=Action.AUDIENCE, to=Audience.ALL))
    builder.button(text=_("co-aud-region"), callback_data=cb.Coord(a=Action.AUDIENCE_REGIONS))
    for language in ("kk", "ru"):
        builder.button(
            text=_("co-aud-lang-" + language),
            callback_data=cb.Coord(a=Action.AUDIENCE, to=Audience.LANGUAGE, v=language),
        )
    builder.button(text=_("co-aud-session"), callback_data=cb.Coord(a=Action.AUDIENCE_SESSIONS))
    builder.adjust(1, 1, 2, 1)
    await show(event, _("co-aud-title"), with_nav(builder, HOME))


async def audience_region(query: CallbackQuery, user: User, role: str) -> None:
    builder = KeyboardBuilder()
    limit = region_limit(user, role)
    for region in regions().values():
        if limit in (None, region.code):
            builder.button(
                text=region.name(user.language),
                callback_data=cb.Coord(a=Action.AUDIENCE, to=Audience.REGION, v=region.code),
            )
    builder.adjust(2)
    await show(query, _("co-aud-region"), with_nav(builder, AUDIENCES))


async def audience_session(
    query: CallbackQuery, session: AsyncSession, user: User, role: str, settings: Settings
) -> None:
    builder = KeyboardBuilder()
    for group, _taken in await groups.upcoming(session, utcnow(), region=region_limit(user, role), limit=10):
        label = session_label(group, user.language, settings.tz)
        for audience in (Audience.PARTICIPANTS, Audience.WAITLIST):
            builder.button(
                text=_("co-aud-" + audience).format(title=label),
                callback_data=cb.Coord(a=Action.AUDIENCE, to=audience, i=group.id),
            )
    builder.adjust(1)
    text = _("co-aud-session") if builder.export() else _("co-no-sessions")
    await show(query, text, with_nav(builder, AUDIENCES))


async def audience_chosen(
    query: CallbackQuery,
    callback_data: cb.Coord,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    role: str,
    settings: Settings,
) -> None:
    audience = audience_of(callback_data, region_limit(user, role))
    if audience is None:
        return await choose_audience(query)
    await state.update_data(audience=audience)
    builder = KeyboardBuilder()
    builder.button(text=_("co-btn-none"), callback_data=cb.Coord(a=Action.ENROLL_BUTTON))
    for group, _taken in await groups.upcoming(session, utcnow(), region=region_limit(user, role), limit=8):
        builder.button(
            text=session_label(group, user.language, settings.tz),
            callback_data=cb.Coord(a=Action.ENROLL_BUTTON, i=group.id),
        )
    builder.adjust(1)
    await show(query, _("co-btn-title"), with_nav(builder, AUDIENCES))


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
        return await compose(query, state)
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
        await pressed_on(query).answer(_("co-preview-" + language))
        await pressed_on(query).answer(text, reply_markup=markup)
    # Below the minimum cell only "fewer than 5": an exact small audience would tell who is in it.
    minimum = settings.broadcast.min_cell
    size = await broadcasts.audience_size(session, draft.audience, region_limit(user, role))
    count = anonymity.at_least(size, minimum, _("co-fewer").format(minimum=minimum))
    builder = KeyboardBuilder()
    builder.button(text=_("co-send").format(count=count), callback_data=cb.Coord(a=Action.SEND, i=draft.id))
    builder.button(text=_("co-discard"), callback_data=HOME)
    builder.adjust(1)
    await pressed_on(query).answer(_("co-confirm").format(count=count), reply_markup=with_nav(builder, HOME))


def not_yours(callback_answer: CallbackAnswer) -> None:
    callback_answer.text, callback_answer.show_alert = _("co-not-yours"), True


async def send(
    query: CallbackQuery,
    callback_data: cb.Coord,
    session: AsyncSession,
    user: User,
    role: str,
    callback_answer: CallbackAnswer,
    broadcaster: BroadcastWorker,
) -> None:
    draft = await broadcasts.get(session, callback_data.i)
    if draft is None or (draft.created_by != user.id and role != "admin"):
        not_yours(callback_answer)
        return await show_home(query)
    if draft.status != "draft":
        callback_answer.text = _("co-already-sent")
        return await broadcaster.show_progress(draft.id)
    # The confirm screen becomes the progress message, edited in place: no new message right
    # after the previews, where Telegram's per-chat limit would make the press wait.
    await show(query, _("co-starting"))
    await broadcasts.start(
        session, draft, region_limit(user, role), utcnow(), query.from_user.id, pressed_on(query).message_id
    )
    await users.audit(session, user.pseudonym, "broadcast_started", "broadcast", draft.id)
    await session.commit()  # the recipients must be saved before the worker looks for them
    broadcaster.wake()
    await broadcaster.show_progress(draft.id)


async def control(
    query: CallbackQuery,
    callback_data: cb.Coord,
    session: AsyncSession,
    user: User,
    role: str,
    callback_answer: CallbackAnswer,
    broadcaster: BroadcastWorker,
) -> None:
    """Pause, resume, stop, or only refresh the progress message."""
    draft = await broadcasts.get(session, callback_data.i)
    if draft is None or (draft.created_by != user.id and role != "admin"):
        return not_yours(callback_answer)
    if callback_data.a in MOVES:
        old, new = MOVES[callback_data.a]
        if await broadcasts.set_status(session, draft.id, old, new, utcnow()):
            await users.audit(session, user.pseudonym, "broadcast_" + new, "broadcast", draft.id)
            callback_answer.text = _("co-status-" + new)
        await session.commit()  # the worker reads the status from the database
        broadcaster.wake()
    await broadcaster.show_progress(draft.id)


def register(router: Router) -> None:
    press, typed = router.callback_query.register, router.message.register
    press(compose, cb.Coord.filter(F.a == Action.COMPOSE))
    typed(composed_kk, StateFilter(Compose.kk), F.text.as_("text"))
    typed(composed_ru, StateFilter(Compose.ru), F.text.as_("text"))
    press(same_text, cb.Coord.filter(F.a == Action.SAME_TEXT))
    press(choose_audience, cb.Coord.filter(F.a == Action.AUDIENCES))
    press(audience_region, cb.Coord.filter(F.a == Action.AUDIENCE_REGIONS))
    press(audience_session, cb.Coord.filter(F.a == Action.AUDIENCE_SESSIONS))
    press(audience_chosen, cb.Coord.filter(F.a == Action.AUDIENCE))
    press(preview, cb.Coord.filter(F.a == Action.ENROLL_BUTTON))
    press(send, cb.Coord.filter(F.a == Action.SEND))
    press(control, cb.Coord.filter(F.a.in_({Action.PAUSE, Action.RESUME, Action.STOP, Action.PROGRESS})))
