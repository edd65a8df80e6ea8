"""The phone lines shown to people, as content data with a source for every number
(bot/content/lines.toml), checked at start like the other content."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

from aiogram.utils.i18n import gettext as _
from pydantic import BaseModel, ConfigDict, Field

from bot.paths import CONTENT


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(pattern=r"^https?://")
    title: str = Field(min_length=3)
    says: str = Field(min_length=3)


class Line(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    number: str = Field(pattern=r"^[0-9]{3,12}$")
    source: tuple[Source, ...] = Field(min_length=1)


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    line: tuple[Line, ...] = Field(min_length=1)


@lru_cache(maxsize=1)
def lines(path: Path = CONTENT / "lines.toml") -> dict[str, Line]:
    return {
        line.number: line
        for line in _File.model_validate(tomllib.loads(path.read_text(encoding="utf-8"))).line
    }


def problems(numbers: list[str], catalogues: dict) -> list[str]:
    """Configured numbers without a sourced entry or without their text in a language."""
    found = []
    for number in numbers:
        if number not in lines():
            found.append(f"{number}: not in bot/content/lines.toml (every number needs a cited source)")
        for language, catalogue in catalogues.items():
            if catalogue.get("line-" + number) is None:
                found.append(f"{language}: no text line-{number}")
    return found


def text(numbers: list[str]) -> str:
    """One line each, the number copyable (<code>), in the current locale."""
    return "\n".join(_("line-" + number) for number in numbers)
