"""What Telegram shows before a chat starts: the "/" command menu, "What can this bot do?" and the
short description on the bot's profile, per language.

Set at every start, in polling and webhook mode alike, but only where Telegram's value differs: many
replicas restarting ask a few questions and change nothing.
"""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import BotCommand, BotCommandScopeChat
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.config import LANGUAGES

log = logging.getLogger(__name__)

COMMANDS = ("start", "menu", "help", "sos", "settings", "privacy", "cancel")
# A staff member's own "/" menu in their chat: the teacher's, with their work right after the menu.
STAFF_COMMANDS = {
    "psychologist": ("questions",),
    "coordinator": ("mutes",),
    "admin": ("questions", "mutes"),
}


def commands(role: str = "teacher") -> list[BotCommand]:
    names = (*COMMANDS[:2], *STAFF_COMMANDS.get(role, ()), *COMMANDS[2:])
    return [BotCommand(command=name, description=_("command-" + name)) for name in names]


async def publish_staff_commands(bot: Bot, i18n: I18n, chat_id: int, role: str, language: str) -> None:
    """Staff see their own commands in their own chat, in their language (BotCommandScopeChat);
    anyone else (a retired psychologist) gets the everyone's menu back. Telegram refusing is
    logged: the step it came with (an invite, a deactivation) stands."""
    scope = BotCommandScopeChat(chat_id=chat_id)
    try:
        if role in STAFF_COMMANDS:
            with i18n.use_locale(language):
                await bot.set_my_commands(commands(role), scope=scope)
        else:
            await bot.delete_my_commands(scope=scope)
    except TelegramAPIError:
        log.warning("setting a staff member's commands failed", exc_info=True)


async def publish_profile(bot: Bot, i18n: I18n, default_language: str) -> list[str]:
    """Commands, description and short description for each language, and for every other
    language in the default one (language_code ""); the settings changed, for the log."""
    changed = []
    for code, language in [(code, code) for code in LANGUAGES] + [("", default_language)]:
        with i18n.context(), i18n.use_locale(language):
            changed += [f"{name} {code or 'default'}" for name in await _publish(bot, code)]
    return changed


async def _publish(bot: Bot, code: str) -> list[str]:
    changed = []
    wanted = commands()
    current = await bot.get_my_commands(language_code=code)
    if [(c.command, c.description) for c in current] != [(c.command, c.description) for c in wanted]:
        await bot.set_my_commands(wanted, language_code=code)
        changed.append("commands")
    description = _("bot-description")
    if (await bot.get_my_description(language_code=code)).description != description:
        await bot.set_my_description(description, language_code=code)
        changed.append("description")
    short = _("bot-short-description")
    if (await bot.get_my_short_description(language_code=code)).short_description != short:
        await bot.set_my_short_description(short, language_code=code)
        changed.append("short description")
    return changed
