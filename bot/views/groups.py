"""What group-session screens and messages share: a session's card, its time, and the buttons sent
with seat offers, lapsed offers, cancellations and rating requests."""

from __future__ import annotations

from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot.content.regions import region_name
from bot.services.groups import SCORES
from bot.telegram import callbacks as cb
from bot.telegram.keyboards import KeyboardBuilder, nav_row
from bot.views import dates
from storage.models import GroupSession

Action = cb.GroupAction


def when(moment: datetime, tz: ZoneInfo) -> str:
    return dates.moment(moment, tz)


def kind_about(kind: str) -> str:
    """A kind of session by name, with what it is (the same words for coordinators and teachers)."""
    return "<b>" + _("groups-kind-" + kind) + "</b> — " + _("groups-kind-" + kind + "-about")


def describe(group: GroupSession, language: str, tz: ZoneInfo, seats_left: int | None = None) -> str:
    """The card of a session, in the current locale; titles and descriptions are staff text, escaped."""
    lines = [
        "<b>" + escape(group.title(language)) + "</b>",
        kind_about(group.kind),
        _("groups-card").format(
            when=when(group.starts_at, tz),
            minutes=group.duration_min,
            format=_("groups-format-" + group.format),
            place=region_name(group.region, language) or _("groups-online"),
            language=_("groups-language-" + group.language),
        ),
    ]
    if seats_left is not None:
        lines.append(_("groups-seats-left").format(left=max(seats_left, 0), capacity=group.capacity))
    if group.description(language):
        lines.append("\n" + escape(group.description(language)))
    return "\n".join(lines)


def offer_buttons(builder: KeyboardBuilder, group_id: int) -> None:
    builder.button(text=_("groups-accept"), callback_data=cb.Group(a=Action.ACCEPT, s=group_id))
    builder.button(text=_("groups-decline"), callback_data=cb.Group(a=Action.DECLINE, s=group_id))


def offer_markup(group_id: int) -> InlineKeyboardMarkup:
    builder = KeyboardBuilder()
    offer_buttons(builder, group_id)
    builder.row(*nav_row())
    return builder.as_markup()


def rating_markup(group_id: int) -> InlineKeyboardMarkup:
    builder = KeyboardBuilder()
    for score in SCORES:
        builder.button(text=str(score), callback_data=cb.Group(a=Action.RATE, s=group_id, score=score))
    builder.adjust(5)
    builder.row(*nav_row())
    return builder.as_markup()


def menu_markup() -> InlineKeyboardMarkup:
    builder = KeyboardBuilder()
    builder.button(text=_("menu-groups"), callback_data=cb.Group(a=Action.LIST))
    builder.row(*nav_row())
    return builder.as_markup()
