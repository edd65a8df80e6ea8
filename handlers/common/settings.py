"""Settings: language, region, notifications, and deleting all of one's data."""

from __future__ import annotations

from functools import lru_cache

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n, get_i18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.content.regions import region_name, regions
from bot.services.accounts import Accounts
from bot.telegram import callbacks as cb
from bot.telegram.fsm import fsm_key_for
from bot.telegram.keyboards import KeyboardBuilder, urgent_row, with_nav
from bot.telegram.profile import STAFF_COMMANDS, publish_staff_commands
from bot.telegram.ui import show
from handlers.common.start import LANGUAGE_NAMES, language_keyboard
from storage.models import User

BACK = cb.Menu(item=cb.Section.SETTINGS)
Action = cb.SettingsAction


async def show_settings(event: CallbackQuery | Message, user: User) -> None:
    text = _("settings-title").format(
        code=user.pseudonym,
        language=LANGUAGE_NAMES[user.language],
        region=region_name(user.region, user.language) or _("settings-region-none"),
    )
    await show(event, text, settings_keyboard(get_i18n().current_locale))


@lru_cache(maxsize=4)
def settings_keyboard(_locale: str) -> InlineKeyboardMarkup:
    """The same for everyone with this language: built once."""
    builder = KeyboardBuilder()
    for action in (Action.LANGUAGE, Action.REGION, Action.NOTIFICATIONS, Action.CALENDAR, Action.DELETE):
        builder.button(text=_("settings-" + action), callback_data=cb.Settings(action=action))
    builder.button(text=_("settings-nudges"), callback_data=cb.Nudge(a="list"))  # handlers/nudges.py
    builder.button(text=_("practice-carry-button"), callback_data=cb.Carry(a=cb.CarryAction.LIST))
    builder.adjust(2, 1, 1, 1, 1)
    return with_nav(builder)


async def show_notifications(query: CallbackQuery, user: User) -> None:
    builder = KeyboardBuilder()
    toggle = "off" if user.announcements else "on"
    builder.button(
        text=_("settings-announcements-" + toggle),
        callback_data=cb.Settings(action=Action.ANNOUNCEMENTS, value=toggle),
    )
    state = _("settings-on") if user.announcements else _("settings-off")
    await show(query, _("settings-notify-title").format(announcements=state), with_nav(builder, BACK))


async def settings_menu(event: CallbackQuery | Message, user: User, state: FSMContext) -> None:
    await state.clear()
    await show_settings(event, user)


async def choose_language(query: CallbackQuery, user: User) -> None:
    markup = language_keyboard(cb.LangOrigin.SETTINGS, user.language)
    markup.inline_keyboard[-1:] = [with_nav(KeyboardBuilder(), BACK).inline_keyboard[0]]
    await show(query, _("settings-language-title"), markup)


async def set_language(
    query: CallbackQuery, callback_data: cb.Lang, user: User, role: str, i18n: I18n, bot: Bot
) -> None:
    if callback_data.code in LANGUAGE_NAMES and callback_data.code != user.language:
        user.language = callback_data.code
        if role in STAFF_COMMANDS:  # their "/" menu speaks their language too
            await publish_staff_commands(bot, i18n, user.telegram_chat_id, role, user.language)
    with i18n.use_locale(user.language):
        await show_settings(query, user)


async def choose_region(query: CallbackQuery, user: User) -> None:
    builder = KeyboardBuilder()
    for region in regions().values():
        mark = "✓ " if region.code == user.region else ""
        builder.button(
            text=mark + region.name(user.language),
            callback_data=cb.Settings(action=Action.SET_REGION, value=region.code),
        )
    builder.adjust(2)
    await show(query, _("settings-region-title"), with_nav(builder, BACK))


async def set_region(query: CallbackQuery, callback_data: cb.Settings, user: User) -> None:
    if callback_data.value in regions():
        user.region = callback_data.value
    await show_settings(query, user)


async def notifications(query: CallbackQuery, user: User) -> None:
    await show_notifications(query, user)


async def toggle_announcements(query: CallbackQuery, callback_data: cb.Settings, user: User) -> None:
    user.announcements = callback_data.value == "on"
    await show_notifications(query, user)


async def calendar(query: CallbackQuery, user: User) -> None:
    """Calendar files titled «Demeu» alone (the default) or in detail (bot/views/ics.py)."""
    builder = KeyboardBuilder()
    other = "neutral" if user.calendar_detail else "detail"
    builder.button(
        text=_("sess-calendar-use-" + other),
        callback_data=cb.Settings(action=Action.SET_CALENDAR, value=other),
    )
    value = _("sess-calendar-detail") if user.calendar_detail else _("sess-calendar-neutral")
    await show(query, _("sess-calendar-explain").format(value=value), with_nav(builder, BACK))


async def set_calendar(query: CallbackQuery, callback_data: cb.Settings, user: User) -> None:
    user.calendar_detail = callback_data.value == "detail"
    await calendar(query, user)


async def confirm_delete(query: CallbackQuery) -> None:
    builder = KeyboardBuilder()
    builder.button(text=_("settings-delete-confirm"), callback_data=cb.Settings(action=Action.ERASE))
    await show(query, _("settings-delete-warning"), with_nav(builder, BACK))


async def erase(
    query: CallbackQuery,
    session: AsyncSession,
    accounts: Accounts,
    user: User,
    bot: Bot,
    state: FSMContext,
) -> None:
    await state.clear()
    after_commit = await accounts.erase(session, user, [fsm_key_for(bot.id, query.from_user.id)])
    await session.commit()
    for notify in after_commit:
        await notify(bot)
    builder = KeyboardBuilder()
    builder.button(text=_("consent-restart"), callback_data=cb.Menu(item=cb.Section.MAIN))
    builder.row(*urgent_row())
    await show(query, _("settings-deleted"), builder.as_markup())


def create_router() -> Router:
    router = Router(name="settings")
    press = router.callback_query.register
    press(settings_menu, cb.Menu.filter(F.item == cb.Section.SETTINGS))
    press(choose_language, cb.Settings.filter(F.action == Action.LANGUAGE))
    press(set_language, cb.Lang.filter(F.origin == cb.LangOrigin.SETTINGS))
    press(choose_region, cb.Settings.filter(F.action == Action.REGION))
    press(set_region, cb.Settings.filter(F.action == Action.SET_REGION))
    press(notifications, cb.Settings.filter(F.action == Action.NOTIFICATIONS))
    press(toggle_announcements, cb.Settings.filter(F.action == Action.ANNOUNCEMENTS))
    press(calendar, cb.Settings.filter(F.action == Action.CALENDAR))
    press(set_calendar, cb.Settings.filter(F.action == Action.SET_CALENDAR))
    press(confirm_delete, cb.Settings.filter(F.action == Action.DELETE))
    press(erase, cb.Settings.filter(F.action == Action.ERASE))
    return router


def create_command_router() -> Router:
    """/settings: behind the consent gate like the button, but ahead of every feature's state."""
    router = Router(name="settings-command")
    router.message.register(settings_menu, Command("settings"))
    return router
