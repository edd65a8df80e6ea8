"""The one date style (bot/views/dates.py), checked over what the bot showed in an end-to-end test.

Every text, caption and button label the bot sent or edited in (tests/fakeapi keeps every call) is
scanned for a date in another style: digits only («02.12.2026», «04.12 16:00», «01.12», ISO) or a
cut month name («2 дек.»). The group form's typing hint is the one place such a date is shown: it is
an example of what to type.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from babel.dates import get_month_names

from bot.config import LANGUAGES
from bot.telegram.i18n import compile_translations

_CUT_MONTHS = sorted(
    {name for lang in LANGUAGES for name in get_month_names("abbreviated", "format", lang).values()}
    - {name for lang in LANGUAGES for name in get_month_names("wide", "format", lang).values()},
    key=len,
    reverse=True,
)
FOREIGN = re.compile(
    r"\b\d{1,2}\.\d{1,2}\.\d{2,4}\b"  # 02.12.2026
    r"|\b(?:0?[1-9]|[12]\d|3[01])\.(?:0[1-9]|1[0-2])\b(?![.,]\d)"  # 02.12, 04.12 16:00
    r"|\b\d{4}-\d{2}-\d{2}\b"  # 2026-12-02
    r"|\b\d{1,2} (?:" + "|".join(re.escape(m) for m in _CUT_MONTHS) + r")(?!\w)"  # 2 дек.
)
TYPING_HINTS = ("co-g-when", "co-g-when-bad")
_SHOWN = ("send", "edit")
_NOT_THE_BOTS = ("copyMessage", "forwardMessage")  # a user's own words passed on


def _hints() -> list[str]:
    translations = compile_translations()
    return [translations[lang].gettext(key) for lang in LANGUAGES for key in TYPING_HINTS]


HINTS = _hints()


def _texts(params: dict[str, Any]) -> Iterator[str]:
    for key in ("text", "caption"):
        if isinstance(params.get(key), str):
            yield params[key]
    markup = params.get("reply_markup")
    if isinstance(markup, dict):
        for row in markup.get("inline_keyboard", []) + markup.get("keyboard", []):
            for item in row:
                yield item["text"] if isinstance(item, dict) else str(item)


def foreign_dates(calls: Iterable[Any]) -> list[str]:
    """`method: the date` for each date the bot showed in another style."""
    found = []
    for call in calls:
        if not call.method.startswith(_SHOWN) or call.method in _NOT_THE_BOTS:
            continue
        for text in _texts(call.params):
            if any(hint in text for hint in HINTS):
                continue
            found += [f"{call.method}: {m.group(0)!r} in {text[:80]!r}" for m in FOREIGN.finditer(text)]
    return found
