"""One date and time style on every screen, in Kazakh and Russian, from Babel's locale data.

The style (issue 19), the same in both languages, always in the service's time zone:

| what | pattern | ru | kk |
|---|---|---|---|
| a moment (a consultation, a session, "until") | `EEE, d MMMM, HH:mm` | ср, 2 декабря, 12:00 | ср, 2 желтоқсан, 12:00 |
| a day (a day button, a day's title, a journal entry) | `EEE, d MMMM` | ср, 2 декабря | ср, 2 желтоқсан |
| a date that may be of another year | `d MMMM y` | 2 декабря 2026 | 2 желтоқсан 2026 |
| a result in a history (two on one day told apart) | `d MMMM y, HH:mm` | 2 декабря 2026, 12:00 | 2 желтоқсан 2026, 12:00 |
| a month (calendar titles, statistics periods) | `LLLL y`, capitalised | Декабрь 2026 | Желтоқсан 2026 |
| a time of day | `HH:mm` | 12:00 | 12:00 |
| weekday names over a calendar | `EEEEEE`, capitalised | Пн … Вс | Дс … Жс |

Never digits only («02.12.2026», «04.12 16:00», «01.12») and never a cut month («2 дек.»):
tests/fakeapi keeps every message, and the e2e tests fail on any other style.
The language is the current locale's unless given.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import get_i18n
from babel.dates import format_date, format_datetime

MOMENT, DAY, DATE, MONTH, WEEKDAY = "EEE, d MMMM, HH:mm", "EEE, d MMMM", "d MMMM y", "LLLL y", "EEEEEE"
STAMP = "d MMMM y, HH:mm"
MONDAY = date(2024, 1, 1)


def _language(language: str | None) -> str:
    return language or get_i18n().current_locale


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def moment(when: datetime, tz: ZoneInfo, language: str | None = None) -> str:
    return format_datetime(when.astimezone(tz), MOMENT, tzinfo=tz, locale=_language(language))


def day(when: date | datetime, language: str | None = None, tz: ZoneInfo | None = None) -> str:
    """A day; a datetime is first taken to `tz`."""
    if isinstance(when, datetime):
        when = when.astimezone(tz).date()
    return format_date(when, DAY, locale=_language(language))


def full_date(when: date | datetime, language: str | None = None, tz: ZoneInfo | None = None) -> str:
    if isinstance(when, datetime):
        when = when.astimezone(tz).date()
    return format_date(when, DATE, locale=_language(language))


def stamp(when: datetime, tz: ZoneInfo, language: str | None = None) -> str:
    return format_datetime(when.astimezone(tz), STAMP, tzinfo=tz, locale=_language(language))


def month(when: date, language: str | None = None) -> str:
    return _capital(format_date(when, MONTH, locale=_language(language)))


def time(when: datetime, tz: ZoneInfo) -> str:
    return when.astimezone(tz).strftime("%H:%M")


def weekdays(language: str | None = None) -> list[str]:
    """Monday first."""
    language = _language(language)
    return [_capital(format_date(MONDAY + timedelta(days=n), WEEKDAY, locale=language)) for n in range(7)]
