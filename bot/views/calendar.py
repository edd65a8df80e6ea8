"""A month-grid day picker for inline keyboards: weekday header, days as buttons.

Days outside [first, last] and padding cells are `noop` buttons (answered, do nothing), so the
grid keeps its shape on a phone. Callback data comes from the caller: short and ASCII.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton
from aiogram.utils.i18n import gettext as _


def weekday_names() -> list[str]:
    """Two-letter names, Monday first (locale keys weekday-short-0..6)."""
    return [_(f"bk-weekday-{day}") for day in range(7)]


def day_grid(
    first: date,
    last: date,
    pick: Callable[[date], CallbackData],
    noop: CallbackData,
    marked: set[date] | None = None,
) -> list[list[InlineKeyboardButton]]:
    """Rows: the weekday header, then whole weeks from the Monday before `first` to the Sunday after `last`."""
    marked = marked or set()
    blank = noop.pack()
    rows = [[InlineKeyboardButton(text=name, callback_data=blank) for name in weekday_names()]]
    day = first - timedelta(days=first.weekday())
    while day <= last:
        row = []
        for _offset in range(7):
            if first <= day <= last:
                text = f"{day.day}•" if day in marked else str(day.day)
                row.append(InlineKeyboardButton(text=text, callback_data=pick(day).pack()))
            else:
                row.append(InlineKeyboardButton(text=" ", callback_data=blank))
            day += timedelta(days=1)
        rows.append(row)
    return rows
