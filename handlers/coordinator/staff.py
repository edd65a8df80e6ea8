"""Staff administration for coordinators and admins: psychologists of the region, their load,
deactivate / reactivate. Every action goes to the audit log (who, what, which profile; nothing else).
Deactivating tells everyone what it released: teachers of cancelled bookings, both sides of ended
chats, the psychologists who may now take the questions put back in the queue.

Gated with staff_only: a forged "sa" button from a teacher or a psychologist is refused before any
handler runs. A regional coordinator sees and changes only psychologists of their region; an id
from elsewhere is treated as not found.
"""

from __future__ import annotations

import html
import logging
from zoneinfo import ZoneInfo

from aiogram import Bot, F, Router
from aiogram.types import CallbackQuery
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.content.regions import region_name
from bot.services import staff as staff_service
from bot.services.bookings import Bookings
from bot.telegram import callbacks as cb
from bot.telegram.filters import staff_only
from bot.telegram.keyboards import KeyboardBuilder, button, main_menu, with_nav
from bot.telegram.profile import publish_staff_commands
from bot.telegram.ui import show
from bot.views import booking as common
from bot.workers import chat_notices
from bot.workers.notices import PREFIX, notice
from bot.workers.reminders import Rendered, Renderer
from handlers.common import questions
from handlers.coordinator.home import HOME, region_limit
from storage.models import PsychologistProfile, Reminder, User
from storage.models.base import utcnow
from storage.repo import reminders, staff, users

log = logging.getLogger(__name__)

PAGE = 8
Action = cb.StaffAction


def name_of(profile: PsychologistProfile) -> str:
    """The display name teachers see (pseudonymous by design), or the code while there is none."""
    return html.escape(profile.display_name or profile.user.pseudonym)


def status_of(profile: PsychologistProfile) -> str:
    if not staff.is_active(profile):
        return _("sa-status-off")
    return _("sa-status-on") if profile.published else _("sa-status-hidden")


async def tell_colleague(session: AsyncSession, colleague: User, change: str) -> None:
    """The psychologist learns of the change ("off" or "on") by a notice written with it."""
    planned = notice(f"staff-{change}", colleague.id, colleague.id, {}, after=1)  # after what it released
    await reminders.schedule_all(session, [planned])


def _render_colleague(change: str) -> Renderer:
    async def render(session: AsyncSession, reminder: Reminder, user: User, tz: ZoneInfo) -> Rendered | None:
        """In their own language, with the menu of their role; None if the change was undone since."""
        if staff.deactivated(user) != (change == "off"):
            return None
        return Rendered(_(f"sa-you-{change}"), main_menu(user.role))

    return render


RENDERERS: dict[str, Renderer] = {PREFIX + f"staff-{c}": _render_colleague(c) for c in ("off", "on")}


async def psychologist_list(
    query: CallbackQuery, callback_data: cb.Staff, session: AsyncSession, user: User, role: str
) -> None:
    region = region_limit(user, role)
    profiles = await staff.psychologists(session, region)
    pages = max(1, -(-len(profiles) // PAGE))
    page = min(max(callback_data.p, 0), pages - 1)
    shown = profiles[page * PAGE : (page + 1) * PAGE]
    load = await staff.loads(session, [p.id for p in shown], utcnow())
    builder = KeyboardBuilder()
    for profile in shown:
        label = _("sa-item").format(
            name=profile.display_name or profile.user.pseudonym,
            status=status_of(profile),
            upcoming=load[profile.id].upcoming,
        )
        builder.button(text=label, callback_data=cb.Staff(a=Action.VIEW, id=profile.id, p=page))
    builder.adjust(1)
    if pages > 1:
        moves = [("◀", page - 1), (f"{page + 1}/{pages}", page), ("▶", page + 1)]
        builder.row(*(button(text, cb.Staff(a=Action.LIST, p=target % pages)) for text, target in moves))
    area = html.escape(region_name(region, user.language) or _("co-stats-all-regions"))
    text = (
        _("sa-list").format(region=area, count=len(profiles))
        if profiles
        else _("sa-none").format(region=area)
    )
    await show(query, text, with_nav(builder, HOME))


async def found(
    query: CallbackQuery,
    callback_data: cb.Staff,
    session: AsyncSession,
    user: User,
    role: str,
    callback_answer: CallbackAnswer,
) -> PsychologistProfile | None:
    """The profile pressed on, if this coordinator may see it; else the list again."""
    profile = await staff.psychologist(session, callback_data.id, region_limit(user, role))
    if profile is None:
        callback_answer.text, callback_answer.show_alert = _("sa-not-found"), True
        await psychologist_list(query, cb.Staff(a=Action.LIST), session, user, role)
    return profile


async def show_profile(
    query: CallbackQuery, session: AsyncSession, profile: PsychologistProfile, page: int, user: User
) -> None:
    load = (await staff.loads(session, [profile.id], utcnow()))[profile.id]
    regions = ", ".join(region_name(code, user.language) or code for code in profile.region_list) or "—"
    text = _("sa-view").format(
        name=name_of(profile),
        code=profile.user.pseudonym,
        status=status_of(profile),
        regions=html.escape(regions),
        formats=", ".join(common.format_name(f) for f in profile.format_list) or "—",
        upcoming=load.upcoming,
        free=load.free,
        held=load.held,
        days=staff.LOAD_DAYS,
    )
    toggle = Action.OFF if staff.is_active(profile) else Action.ON
    builder = KeyboardBuilder()
    builder.button(text=_("sa-" + toggle), callback_data=cb.Staff(a=toggle, id=profile.id, p=page))
    await show(query, text, with_nav(builder, cb.Staff(a=Action.LIST, p=page)))


async def view(
    query: CallbackQuery,
    callback_data: cb.Staff,
    session: AsyncSession,
    user: User,
    role: str,
    callback_answer: CallbackAnswer,
) -> None:
    profile = await found(query, callback_data, session, user, role, callback_answer)
    if profile is not None:
        await show_profile(query, session, profile, callback_data.p, user)


async def ask_off(
    query: CallbackQuery,
    callback_data: cb.Staff,
    session: AsyncSession,
    user: User,
    role: str,
    callback_answer: CallbackAnswer,
) -> None:
    profile = await found(query, callback_data, session, user, role, callback_answer)
    if profile is None:
        return
    if not staff.is_active(profile):
        return await show_profile(query, session, profile, callback_data.p, user)
    ahead = len(await staff.future_bookings(session, profile, utcnow()))
    builder = KeyboardBuilder()
    builder.button(
        text=_("sa-off-confirm"),
        callback_data=cb.Staff(a=Action.OFF_CONFIRMED, id=profile.id, p=callback_data.p),
    )
    text = _("sa-off-ask").format(name=name_of(profile), count=ahead)
    await show(query, text, with_nav(builder, cb.Staff(a=Action.VIEW, id=profile.id, p=callback_data.p)))


async def tell_released(
    session: AsyncSession, settings: Settings, released: staff_service.Deactivation
) -> None:
    """Both sides of ended chats told, the questions put back announced: notices of this transaction.
    (The teachers of the cancelled bookings are told by their notices, written with the cancel.)"""
    await chat_notices.ended(session, released.ended)
    for question in released.requeued:
        await questions.announce(session, question, settings)


async def deactivate(
    query: CallbackQuery,
    callback_data: cb.Staff,
    session: AsyncSession,
    user: User,
    role: str,
    callback_answer: CallbackAnswer,
    settings: Settings,
    bookings: Bookings,
    bot: Bot,
    i18n: I18n,
) -> None:
    profile = await found(query, callback_data, session, user, role, callback_answer)
    if profile is None:
        return
    released = await staff_service.deactivate(session, profile, bookings, utcnow())
    if released is None:  # pressed twice, or by two coordinators at once
        return await show_profile(query, session, profile, callback_data.p, user)
    await users.audit(session, user.pseudonym, "psychologist_deactivated", "psychologist_profile", profile.id)
    # Everyone concerned is told by notices committed with the deactivation (the psychologist last).
    await tell_released(session, settings, released)
    await tell_colleague(session, profile.user, "off")
    colleague = profile.user
    await session.commit()
    await publish_staff_commands(bot, i18n, colleague.telegram_chat_id, colleague.role, colleague.language)
    log.info(
        "%s deactivated psychologist profile %s; %d bookings, %d questions, %d chats released",
        user.pseudonym,
        profile.id,
        len(released.cancelled),
        len(released.requeued),
        len(released.ended),
    )
    callback_answer.text = _("sa-off-done").format(count=len(released.cancelled))
    await show_profile(query, session, profile, callback_data.p, user)


async def reactivate(
    query: CallbackQuery,
    callback_data: cb.Staff,
    session: AsyncSession,
    user: User,
    role: str,
    callback_answer: CallbackAnswer,
    bot: Bot,
    i18n: I18n,
) -> None:
    profile = await found(query, callback_data, session, user, role, callback_answer)
    if profile is None:
        return
    if await staff.reactivate(session, profile):
        await users.audit(
            session, user.pseudonym, "psychologist_reactivated", "psychologist_profile", profile.id
        )
        await tell_colleague(session, profile.user, "on")  # sent once the cabinet is open
        colleague = profile.user
        await session.commit()
        await publish_staff_commands(
            bot, i18n, colleague.telegram_chat_id, colleague.role, colleague.language
        )
        log.info("%s reactivated psychologist profile %s", user.pseudonym, profile.id)
        callback_answer.text = _("sa-on-done")
    await show_profile(query, session, profile, callback_data.p, user)


def create_router() -> Router:
    router = staff_only(Router(name="staff-admin"), "coordinator")
    press = router.callback_query.register
    press(psychologist_list, cb.Staff.filter(F.a == Action.LIST))
    press(view, cb.Staff.filter(F.a == Action.VIEW))
    press(ask_off, cb.Staff.filter(F.a == Action.OFF))
    press(deactivate, cb.Staff.filter(F.a == Action.OFF_CONFIRMED))
    press(reactivate, cb.Staff.filter(F.a == Action.ON))
    return router
