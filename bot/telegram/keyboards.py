"""Keyboards shared by all features: the main menu and the Back / Main menu row."""

from __future__ import annotations

import functools

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import get_i18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.telegram.callbacks import Menu, Section

TEACHER_ITEMS = (
    Section.BOOK,
    Section.ASK,
    Section.GROUPS,
    Section.CHECK,
    Section.RELAX,
    Section.MOOD,
    Section.MINE,
    Section.SOS,
    Section.SETTINGS,
)
STAFF_ITEMS = {
    "psychologist": (Section.PSYCHOLOGIST,),
    "coordinator": (Section.COORDINATOR,),
    "admin": (Section.PSYCHOLOGIST, Section.COORDINATOR, Section.ADMIN),
}


# The builder of every screen: aiogram's own. Its deep copies (of every button so far, at each
# button added and at `as_markup`) cost a press nothing measurable (bench/bench_internals.py); an
# override of its private rows would be a hack to guard for what a booking saves (bench/README.md).
KeyboardBuilder = InlineKeyboardBuilder


def button(text: str, data: CallbackData) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def nav_row(back: CallbackData | None = None) -> list[InlineKeyboardButton]:
    """Back (when there is somewhere to go back to) and Main menu: on every screen."""
    row = [button(_("nav-back"), back)] if back is not None else []
    row.append(button(_("nav-main"), Menu(item=Section.MAIN)))
    return row


def with_nav(builder: InlineKeyboardBuilder, back: CallbackData | None = None) -> InlineKeyboardMarkup:
    builder.row(*nav_row(back))
    return builder.as_markup()


def main_menu(role: str) -> InlineKeyboardMarkup:
    return _main_menu(role, get_i18n().current_locale)


@functools.lru_cache(maxsize=32)
def _main_menu(role: str, _locale: str) -> InlineKeyboardMarkup:
    """The most shown screen, the same for every user of a role and language: built once each."""
    builder = KeyboardBuilder()
    staff = STAFF_ITEMS.get(role, ())
    for item in (*staff, *TEACHER_ITEMS):  # staff see their cabinet first
        builder.button(text=_("menu-" + item), callback_data=Menu(item=item))
    # Two per row reads well on a phone; Urgent help stays visible in the middle.
    builder.adjust(*(1 for _item in staff), 1, 1, 2, 2, 1, 1, 1)
    return builder.as_markup()


def urgent_row() -> list[InlineKeyboardButton]:
    return [button(_("menu-sos"), Menu(item=Section.SOS))]
