"""A month-grid day picker for inline keyboards: the month and year, weekday header, days as buttons.

Days outside [first, last] and padding cells are `noop` buttons (answered, do nothing), so the
grid keeps its shape on a phone. Callback data comes from the caller: short and ASCII.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton

from bot.views import dates


def weekday_names() -> list[str]:
    """Two-letter names, Monday first, in the one date style (bot/views/dates.py)."""
    return dates.weekdays()


def day_grid(
    first: date,
    last: date,
    pick: Callable[[date], CallbackData],
    noop: CallbackData,
    marked: set[date] | None = None,
) -> list[list[InlineKeyboardButton]]:
    """Rows: the month and year, the weekday header, then whole weeks from the Monday before `first`
    to the Sunday after `last`; a week in which a new month begins is headed by that month's name."""
    marked = marked or set()
    blank = noop.pack()
    rows = [
        [InlineKeyboardButton(text=dates.month(first), callback_data=blank)],
        [InlineKeyboardButton(text=name, callback_data=blank) for name in weekday_names()],
    ]
    day = first - timedelta(days=first.weekday())
    while day <= last:
        new_month = next((d for d in (day + timedelta(days=n) for n in range(7)) if d.day == 1), None)
        if new_month is not None and first < new_month <= last:
            rows.append([InlineKeyboardButton(text=dates.month(new_month), callback_data=blank)])
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
