"""Texts of a psychologist's practice that the reminder worker sends too: an in-person referral
and the gentle message after a missed session."""

from __future__ import annotations

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot.content import lines
from bot.content.referrals import referrals
from bot.content.regions import region_name
from bot.telegram.callbacks import Menu, Section
from bot.telegram.keyboards import KeyboardBuilder, button, nav_row
from bot.views.booking import esc


def referral_text(region: str | None, language: str) -> str:
    """The template, the region's centres (as cited: a name and a website), where such centres
    are, and the national lines; in the current locale."""
    data = referrals()
    parts = [_("practice-referral-text")]
    centres = data.centres(region)
    if centres:
        named = [
            f"• {esc(centre.name(language))}" + (f"\n  {esc(centre.website)}" if centre.website else "")
            for centre in centres
        ]
        parts.append(_("practice-referral-centres").format(region=region_name(region, language) or ""))
        parts.append("\n".join(named))
    parts.append(_("practice-referral-where"))
    parts.append(lines.text(list(data.national_lines)))
    return "\n\n".join(parts)


def no_show() -> tuple[str, InlineKeyboardMarkup]:
    """After a session marked as missed: gently, no penalty, and the way to book again."""
    builder = KeyboardBuilder()
    builder.row(button(_("menu-book"), Menu(item=Section.BOOK)))
    builder.row(*nav_row())
    return _("practice-no-show-message"), builder.as_markup()
