"""/start: language, consent, main menu; staff invites arrive here as deep links."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.types import User as TelegramUser
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services.accounts import Accounts
from bot.telegram import callbacks as cb
from bot.telegram.i18n import preferred_language
from bot.telegram.keyboards import STAFF_ITEMS, KeyboardBuilder, button, main_menu, urgent_row
from bot.telegram.profile import STAFF_COMMANDS, publish_staff_commands
from bot.telegram.ui import show
from bot.views.chat import back_to_chat
from storage.models import ChatSession, User
from storage.models.base import utcnow
from storage.repo import invites, users

LANGUAGE_NAMES = {"kk": "Қазақша", "ru": "Русский"}


def language_keyboard(origin: cb.LangOrigin, current: str, urgent: str | None = None) -> InlineKeyboardMarkup:
    builder = KeyboardBuilder()
    for code, name in LANGUAGE_NAMES.items():
        mark = "✓ " if code == current else ""
        builder.button(text=mark + name, callback_data=cb.Lang(code=code, origin=origin))
    builder.row(button(urgent, cb.Menu(item=cb.Section.SOS)) if urgent else urgent_row()[0])
    return builder.as_markup()


async def ask_language(event: Message | CallbackQuery, language: str, i18n: I18n) -> None:
    # Both languages on the first screen, Urgent help too: the user has not chosen yet.
    with i18n.use_locale("kk"):
        kazakh, kazakh_urgent = _("start-choose-language"), _("menu-sos")
    with i18n.use_locale("ru"):
        russian, russian_urgent = _("start-choose-language"), _("menu-sos")
    urgent = f"{kazakh_urgent} / {russian_urgent.split(' ', 1)[-1]}"  # one emoji
    with i18n.use_locale(language):
        markup = language_keyboard(cb.LangOrigin.START, language, urgent)
        await show(event, f"{kazakh}\n\n{russian}", markup)


async def ask_consent(event: Message | CallbackQuery, role: str) -> None:
    """A teacher's consent, or staff's own: what is kept of them and what they promise."""
    builder = KeyboardBuilder()
    builder.button(text=_("consent-agree"), callback_data=cb.Consent(agree=True))
    builder.button(text=_("consent-decline"), callback_data=cb.Consent(agree=False))
    builder.row(button(_("help-privacy-button"), cb.Privacy(page=1)))  # the whole policy, before agreeing
    builder.row(*urgent_row())
    await show(event, _("consent-staff-text" if role in STAFF_ITEMS else "consent-text"), builder.as_markup())


async def show_main_menu(
    event: Message | CallbackQuery,
    user: User,
    role: str,
    note: str = "",
    left_chat: ChatSession | None = None,
) -> None:
    """The main menu, after a short `note` on what just happened (if any). Staff have no teacher's
    code to be told: their menu opens with their cabinet. Opened from a live chat (`left_chat`), it
    says the chat is paused, with the way back first."""
    text = _("main-menu-staff") if role in STAFF_ITEMS else _("main-menu").format(code=user.pseudonym)
    markup = main_menu(role)
    if left_chat is not None:
        note = _("sess-chat-away")
        back = back_to_chat(left_chat.id).export()
        markup = InlineKeyboardMarkup(inline_keyboard=[*back, *markup.inline_keyboard])
    await show(event, f"{note}\n\n{text}" if note else text, markup)


async def greet(
    event: Message | CallbackQuery,
    user: User | None,
    role: str,
    i18n: I18n,
    data_language: str,
    left_chat: ChatSession | None = None,
) -> None:
    """Where a user lands: language choice, consent, or the main menu."""
    if user is None:
        await ask_language(event, data_language, i18n)
    elif not user.consented:
        await ask_consent(event, role)
    else:
        await show_main_menu(event, user, role, left_chat=left_chat)


async def start_with_invite(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    user: User | None,
    role: str,
    settings: Settings,
    i18n: I18n,
    state: FSMContext,
    event_from_user: TelegramUser,
    bot: Bot,
) -> None:
    await state.clear()
    if user is None:
        language = preferred_language({"event_from_user": event_from_user}, settings.bot.default_language)
        user = await users.create(session, event_from_user.id, language)
    invite = await invites.redeem(session, command.args or "", user.id)
    with i18n.use_locale(user.language):
        if invite is None:
            await message.answer(_("invite-invalid"))
        else:
            user.role, user.region = invite.role, invite.region or user.region
            await users.audit(session, user.pseudonym, "role_granted:" + invite.role, "invite", invite.id)
            await message.answer(_("invite-welcome-" + invite.role))
            await publish_staff_commands(bot, i18n, message.chat.id, invite.role, user.language)
        await greet(message, user, "admin" if role == "admin" else user.role, i18n, user.language)


async def start(
    message: Message,
    command: CommandObject,
    user: User | None,
    role: str,
    i18n: I18n,
    state: FSMContext,
    bot: Bot,
    left_chat: ChatSession | None = None,
) -> None:
    await state.clear()
    if command.command == "start" and user is not None and role in STAFF_COMMANDS:
        # Staff made otherwise than by an invite (an admin, the demo) get their "/" menu too.
        await publish_staff_commands(bot, i18n, message.chat.id, role, user.language)
    await greet(message, user, role, i18n, i18n.current_locale, left_chat)


async def choose_language(
    query: CallbackQuery,
    callback_data: cb.Lang,
    session: AsyncSession,
    user: User | None,
    role: str,
    i18n: I18n,
) -> None:
    if callback_data.code not in LANGUAGE_NAMES:
        await ask_language(query, i18n.current_locale, i18n)
        return
    if user is None:
        user = await users.create(session, query.from_user.id, callback_data.code)
    user.language = callback_data.code
    with i18n.use_locale(user.language):
        await greet(query, user, role, i18n, user.language)


async def consent(
    query: CallbackQuery,
    callback_data: cb.Consent,
    session: AsyncSession,
    accounts: Accounts,
    user: User | None,
    role: str,
    i18n: I18n,
    state: FSMContext,
) -> None:
    if user is None:
        await ask_language(query, i18n.current_locale, i18n)
        return
    if callback_data.agree or user.consented:
        user.consent_at = user.consent_at or utcnow()
        await show_main_menu(query, user, role)
        return
    # Voluntary means nothing is kept from someone who said "not now".
    await state.clear()
    await accounts.erase(session, user, [])
    builder = KeyboardBuilder()
    builder.button(text=_("consent-restart"), callback_data=cb.Menu(item=cb.Section.MAIN))
    builder.row(*urgent_row())
    await show(query, _("consent-declined"), builder.as_markup())


async def main(
    query: CallbackQuery,
    user: User | None,
    role: str,
    i18n: I18n,
    state: FSMContext,
    left_chat: ChatSession | None = None,
) -> None:
    await state.clear()
    await greet(query, user, role, i18n, i18n.current_locale, left_chat)


def create_router() -> Router:
    router = Router(name="start")
    invite_link = CommandStart(deep_link=True, magic=F.args.startswith(invites.PREFIX))
    router.message.register(start_with_invite, invite_link)
    router.message.register(start, CommandStart())
    router.message.register(start, Command("menu"))
    router.callback_query.register(choose_language, cb.Lang.filter(F.origin == cb.LangOrigin.START))
    router.callback_query.register(consent, cb.Consent.filter())
    router.callback_query.register(main, cb.Menu.filter(F.item == cb.Section.MAIN))
    return router
