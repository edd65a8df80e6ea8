"""What group-session screens and messages share: a session's card, its time, and the buttons sent
with seat offers, lapsed offers, cancellations, rating requests and the question how many came."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot.content.regions import region_name
from bot.services.groups import SCORES
from bot.telegram import callbacks as cb
from bot.telegram.keyboards import KeyboardBuilder, button, nav_row
from bot.views import dates
from storage.models import GroupSession

Action = cb.GroupAction
COUNTS_PAGE = 48  # numbers on one page of the attendance picker: 8 rows of 6 (a keyboard holds 100 buttons)


def when(moment: datetime, tz: ZoneInfo, language: str | None = None) -> str:
    return dates.moment(moment, tz, language)


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


def attendance(group: GroupSession) -> str:
    """An ended session's line: how many came, or that it is not told yet."""
    if group.attended is None:
        return _("groups-attended-none")
    return _("groups-attended").format(count=group.attended)


def attendance_question(group: GroupSession, language: str, tz: ZoneInfo) -> str:
    """How many came to this session: the same question wherever it is asked."""
    return _("groups-attendance-ask").format(
        title=escape(group.title(language)), when=when(group.starts_at, tz, language)
    )


def ended_label(label: str, group: GroupSession) -> str:
    """A button of an ended session in a list: its label and how many came (or a question mark)."""
    if group.attended is None:
        return _("groups-led-unreported").format(label=label)
    return _("groups-led-ended").format(label=label, count=group.attended)


def count_picker(
    builder: KeyboardBuilder,
    enrolled: int,
    page: int,
    pick: Callable[[int], CallbackData],
    turn: Callable[[int], CallbackData],
) -> None:
    """Buttons 0..enrolled, COUNTS_PAGE at a time, with the neighbouring pages' ranges to turn to."""
    pages = enrolled // COUNTS_PAGE + 1
    page = min(max(page, 0), pages - 1)
    first = page * COUNTS_PAGE
    for count in range(first, min(first + COUNTS_PAGE - 1, enrolled) + 1):
        builder.button(text=str(count), callback_data=pick(count))
    builder.adjust(6)
    turns = []
    for other in (page - 1, page + 1):
        if 0 <= other < pages:
            low, high = other * COUNTS_PAGE, min(other * COUNTS_PAGE + COUNTS_PAGE - 1, enrolled)
            turns.append(button(f"{low}–{high}", turn(other)))
    if turns:
        builder.row(*turns)


def attendance_markup(group_id: int, enrolled: int, page: int = 0) -> InlineKeyboardMarkup:
    """The facilitator's question: a press names the session and the count."""
    builder = KeyboardBuilder()
    count_picker(
        builder,
        enrolled,
        page,
        lambda count: cb.Group(a=Action.COUNTED, s=group_id, score=count),
        lambda other: cb.Group(a=Action.COUNT, s=group_id, p=other),
    )
    builder.row(*nav_row(cb.Group(a=Action.WHO, s=group_id)))
    return builder.as_markup()
