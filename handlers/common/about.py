"""/help, /privacy and /cancel: how Demeu works, how it keeps data, and a way out of any step.

Before the consent gate: someone deciding whether to agree may read the policy first.
"""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.content import lines
from bot.telegram import callbacks as cb
from bot.telegram.keyboards import KeyboardBuilder, button, urgent_row, with_nav
from bot.telegram.ui import show
from handlers.common.start import greet, show_main_menu
from storage.models import User

PRIVACY_PAGES = 3


async def help_command(message: Message, settings: Settings) -> None:
    builder = KeyboardBuilder()
    builder.row(*urgent_row())
    builder.row(button(_("help-privacy-button"), cb.Privacy(page=1)))
    text = f"{_('help-text')}\n{lines.text(settings.support.crisis_lines)}"
    await show(message, text, with_nav(builder))


async def show_privacy(event: Message | CallbackQuery, page: int, settings: Settings) -> None:
    page = min(max(page, 1), PRIVACY_PAGES)
    builder = KeyboardBuilder()
    if page < PRIVACY_PAGES:
        builder.button(text=_("privacy-next"), callback_data=cb.Privacy(page=page + 1))
    back = cb.Privacy(page=page - 1) if page > 1 else None
    text = _(f"privacy-{page}").format(days=f"{settings.reminders.retention_days:g}")
    await show(event, text, with_nav(builder, back))


async def privacy_command(message: Message, settings: Settings) -> None:
    await show_privacy(message, 1, settings)


async def privacy_page(query: CallbackQuery, callback_data: cb.Privacy, settings: Settings) -> None:
    await show_privacy(query, callback_data.page, settings)


async def cancel_command(
    message: Message, user: User | None, role: str, i18n: I18n, state: FSMContext
) -> None:
    """Whatever form or step the user was in is left; the main menu says so in a line."""
    await state.clear()
    if user is not None and user.consented:
        await show_main_menu(message, user, role, note=_("cancel-done"))
    else:
        await greet(message, user, role, i18n, i18n.current_locale)


def create_router() -> Router:
    router = Router(name="about")
    router.message.register(help_command, Command("help"))
    router.message.register(privacy_command, Command("privacy"))
    router.message.register(cancel_command, Command("cancel"))
    router.callback_query.register(privacy_page, cb.Privacy.filter())
    return router
