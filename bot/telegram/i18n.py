"""gettext through aiogram's I18n, compiled from the .po files at start.

Each feature keeps its strings in its own catalogue (`locales/<lang>/LC_MESSAGES/<feature>.po`)
so translators review one feature at a time; at start they are merged and compiled in
memory, so no .mo file is ever hand-edited or stale. Message ids are symbolic keys
(`menu-book`), never user-facing text: every word a user reads lives in locales/.
"""

from __future__ import annotations

import functools
import gettext
import io
import re
from pathlib import Path
from typing import Any

from aiogram.types import TelegramObject
from aiogram.utils.i18n import I18n, I18nMiddleware, get_i18n
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from bot.config import LANGUAGES
from bot.paths import LOCALES

DOMAIN = "messages"
PLACEHOLDER = re.compile(r"\{(\w*)\}")


def read_catalogues(locales: Path = LOCALES) -> dict[str, Catalog]:
    """All .po files of each language merged into one catalogue per language."""
    return dict(_merged(locales, _stamp(locales)))


def compile_translations(locales: Path = LOCALES) -> dict[str, gettext.GNUTranslations]:
    return {
        language: gettext.GNUTranslations(io.BytesIO(mo))
        for language, mo in _compiled(locales, _stamp(locales)).items()
    }


def _stamp(locales: Path) -> tuple[tuple[str, int, int], ...]:
    """What the catalogues are read from: a process reads and compiles them once (the start checks
    them, then compiles them; tests start many bots), and again only when a file changed."""
    files = [
        path for language in LANGUAGES for path in sorted((locales / language / "LC_MESSAGES").glob("*.po"))
    ]
    return tuple((str(path), (stat := path.stat()).st_mtime_ns, stat.st_size) for path in files)


@functools.lru_cache(maxsize=2)
def _merged(locales: Path, _stamp: tuple[tuple[str, int, int], ...]) -> dict[str, Catalog]:
    merged: dict[str, Catalog] = {}
    for language in LANGUAGES:
        catalog = Catalog(locale=language, domain=DOMAIN)
        for po_path in sorted((locales / language / "LC_MESSAGES").glob("*.po")):
            with po_path.open("rb") as handle:
                for message in read_po(handle, locale=language):
                    if not message.id:
                        continue
                    if message.id in catalog:
                        raise ValueError(f"{po_path}: msgid {message.id!r} is defined twice")
                    catalog.add(message.id, message.string, locations=[(po_path.name, 0)])
        merged[language] = catalog
    return merged


@functools.lru_cache(maxsize=2)
def _compiled(locales: Path, stamp: tuple[tuple[str, int, int], ...]) -> dict[str, bytes]:
    compiled = {}
    for language, catalog in _merged(locales, stamp).items():
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        compiled[language] = buffer.getvalue()
    return compiled


def catalogue_problems(catalogues: dict[str, Catalog]) -> list[str]:
    """Keys missing or empty in a language, and translations whose placeholders differ."""
    # A plural entry's id is (msgid, msgid_plural): its msgid is the key.
    keys = set().union(
        *({m.id if isinstance(m.id, str) else m.id[0] for m in c if m.id} for c in catalogues.values())
    )
    problems = []
    for key in sorted(keys):
        texts = {}
        for language, catalog in catalogues.items():
            message = catalog.get(key)
            if message is None or not message.string:
                problems.append(f"{language}: {key} has no translation")
            else:
                # A plural entry holds a form per number: their placeholders together.
                forms = message.string
                texts[language] = forms if isinstance(forms, str) else "\n".join(forms)
        placeholders = {language: sorted(set(PLACEHOLDER.findall(text))) for language, text in texts.items()}
        if len({tuple(p) for p in placeholders.values()}) > 1:
            problems.append(f"{key}: placeholders differ {placeholders}")
    return problems


def build_i18n(default_locale: str, locales: Path = LOCALES) -> I18n:
    """aiogram's I18n fed from translations compiled in memory instead of .mo files.

    Not a subclass: aiogram finds the current I18n through a context variable of the
    I18n class itself, which a subclass would not share.
    """
    i18n = I18n(path=locales, default_locale=default_locale, domain=DOMAIN)
    i18n.locales = compile_translations(locales)
    return i18n


def plural(key: str, n: int) -> str:
    """The form of `key` for the number `n`, by the language's plural rule (Russian: 1, 21 запись;
    2 записи; 5, 11 записей). A plural entry is symbolic like every other: msgid and msgid_plural
    are both `key`, and each language has its forms (Kazakh's two are the same text)."""
    return get_i18n().gettext(key, key, n)


class UserLanguageMiddleware(I18nMiddleware):
    """The user's chosen language; before they choose, Telegram's language if we have it."""

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        user = data.get("user")
        if user is not None:
            return user.language
        return preferred_language(data, self.i18n.default_locale)


def preferred_language(data: dict[str, Any], default: str) -> str:
    telegram_user = data.get("event_from_user")
    code = (telegram_user.language_code or "") if telegram_user else ""
    code = code.split("-")[0].lower()
    return code if code in LANGUAGES else default
