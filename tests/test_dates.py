"""The one date style: the formatter in Kazakh and Russian, and the scan of what the bot showed."""

from __future__ import annotations

from datetime import date, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from bot.telegram.i18n import compile_translations
from bot.views import dates
from tests.date_style import foreign_dates

TZ = ZoneInfo("Asia/Almaty")
MOMENT = datetime(2026, 12, 2, 7, 0, tzinfo=ZoneInfo("UTC"))  # 12:00 in Almaty


@pytest.mark.parametrize(
    ("lang", "moment", "day", "full", "month", "weekdays"),
    [
        ("ru", "ср, 2 декабря, 12:00", "ср, 2 декабря", "2 декабря 2026", "Декабрь 2026", "Пн Вс Сб"),
        ("kk", "ср, 2 желтоқсан, 12:00", "ср, 2 желтоқсан", "2 желтоқсан 2026", "Желтоқсан 2026", "Дс Жс Сб"),
    ],
)
def test_one_style_per_language(lang, moment, day, full, month, weekdays):
    assert dates.moment(MOMENT, TZ, lang) == moment
    assert dates.day(MOMENT, lang, TZ) == dates.day(date(2026, 12, 2), lang) == day
    assert dates.full_date(MOMENT, lang, TZ) == full
    assert dates.stamp(MOMENT, TZ, lang) == full + ", 12:00"
    assert dates.month(date(2026, 12, 1), lang) == month
    assert dates.time(MOMENT, TZ) == "12:00"
    names = dates.weekdays(lang)
    assert len(set(names)) == 7 and " ".join((names[0], names[6], names[5])) == weekdays


def shown(text: str, method: str = "sendMessage", buttons: tuple[str, ...] = ()) -> SimpleNamespace:
    markup = {"inline_keyboard": [[{"text": b, "callback_data": "x"} for b in buttons]]}
    return SimpleNamespace(method=method, params={"text": text, "reply_markup": markup})


def test_the_scan_finds_every_other_style_and_nothing_else():
    others = ["02.12.2026 в 12:00", "Запись: 04.12 16:00", "🖼 01.12 · Дыхание", "2026-12-02", "ср, 2 дек."]
    assert len(foreign_dates([shown(text) for text in others])) == len(others)
    assert foreign_dates([shown("ок", buttons=("04.12 16:00 · Группа",))])
    assert foreign_dates([shown("2 жел. 2026", method="editMessageText")])
    fine = [
        dates.moment(MOMENT, TZ, "ru"),
        dates.full_date(MOMENT, "kk", TZ),
        "Средняя оценка: 4,5 из 5 · 62,5 / 100 · 12:00 · v1.2",
        "Телефон доверия 150, 111; 3.5 балла",
    ]
    assert foreign_dates([shown(text) for text in fine]) == []
    assert foreign_dates([SimpleNamespace(method="copyMessage", params={"text": "01.12"})]) == []
    hint = compile_translations()["ru"].gettext("co-g-when")  # what to type, not a date shown
    assert "25.12.2026" in hint and foreign_dates([shown(hint)]) == []
