"""The coordinator's home screen, and what every part of the cabinet shares."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InaccessibleMessage, Message
from aiogram.utils.i18n import gettext as _

from bot.telegram import callbacks as cb
from bot.telegram.keyboards import KeyboardBuilder, main_menu, with_nav
from bot.telegram.ui import show
from bot.views import dates
from storage.models import GroupSession, User

Action = cb.CoordAction
HOME = cb.Coord(a=Action.HOME)


def region_limit(user: User, role: str) -> str | None:
    """A coordinator invited for one region works in that region only; admins everywhere."""
    return user.region if role == "coordinator" else None


async def show_home(event: Message | CallbackQuery) -> None:
    builder = KeyboardBuilder()
    for action in (Action.COMPOSE, Action.GROUP_NEW, Action.GROUP_LIST):
        builder.button(text=_("co-" + action), callback_data=cb.Coord(a=action))
    builder.button(text=_("co-stats"), callback_data=cb.Stat(a=cb.StatAction.SHOW))
    builder.button(text=_("co-capacity"), callback_data=cb.Capacity())
    builder.button(text=_("sa-open"), callback_data=cb.Staff(a=cb.StaffAction.LIST))
    builder.button(text=_("practice-coverage-button"), callback_data=cb.Coverage())
    builder.button(text=_("co-mutes"), callback_data=cb.Mute(a=cb.MuteAction.LIST))
    builder.adjust(1)
    await show(event, _("co-title"), with_nav(builder))


async def prompt(event: Message | CallbackQuery, text: str, back: cb.Coord = HOME) -> None:
    await show(event, text, with_nav(KeyboardBuilder(), back))


def back_to(action: cb.CoordAction) -> KeyboardBuilder:
    builder = KeyboardBuilder()
    builder.button(text=_("nav-back"), callback_data=cb.Coord(a=action))
    return builder


def session_label(group: GroupSession, language: str, tz: ZoneInfo) -> str:
    return dates.moment(group.starts_at, tz, language) + " · " + group.title(language)


async def home(query: CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    await show_home(query)


def pressed_on(query: CallbackQuery) -> Message | InaccessibleMessage:
    """The message a button was on: always there, the bot has no inline mode."""
    assert query.message is not None, "presses come from messages in the chat"
    return query.message


async def fresh_menu(query: CallbackQuery, user: User, role: str) -> None:
    """From a broadcast's progress message: a new menu below, the progress message stays what it is."""
    await pressed_on(query).answer(_("main-menu-staff"), reply_markup=main_menu(role))
