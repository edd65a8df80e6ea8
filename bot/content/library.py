"""The self-help library: short practical readings (bot/content/library.toml), each a few phone
screens in Kazakh and Russian with the public sources it rests on, checked once at start.

A reading names the self-check instruments whose results it may help with (`instruments`): the
result screen offers it under "what may help now".
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    ValidationError,
    model_validator,
)

from bot.paths import CONTENT

PAGES = (3, 5)  # phone screens per reading: at least, at most
PAGE_LIMIT = 1200  # characters of one screen (the title and the page counter come on top)
Id = Annotated[
    str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,11}$")
]  # short: it travels in callback data
Words = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=PAGE_LIMIT)]


class LibraryError(ValueError):
    """The library file is wrong; the message names the file and the field."""


class _Content(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Content):
    """A public source a reading rests on: who published it, what, when, where it can be read."""

    by: Words
    title: Words
    year: StrictInt = Field(ge=1950, le=2100)
    url: str | None = Field(default=None, pattern=r"^https://")

    def cite(self) -> str:
        return f"{self.by}. {self.title} ({self.year})" + (f" {self.url}" if self.url else "")


class Page(_Content):
    kk: Words
    ru: Words


class Title(_Content):
    kk: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=40)]
    ru: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=40)]


class Reading(_Content):
    id: Id
    title: Title
    instruments: tuple[Id, ...] = Field(min_length=1)
    page: tuple[Page, ...] = Field(min_length=PAGES[0], max_length=PAGES[1])
    source: tuple[Source, ...] = Field(min_length=1)

    def name(self, language: str) -> str:
        return self.title.kk if language == "kk" else self.title.ru

    def text(self, number: int, language: str) -> str:
        page = self.page[number]
        return page.kk if language == "kk" else page.ru


class _File(_Content):
    reading: tuple[Reading, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> _File:
        ids = [reading.id for reading in self.reading]
        if len(ids) != len(set(ids)):
            raise ValueError("two readings share an id")
        return self


class Library:
    """Readings in file order (the list's order), looked up by id."""

    def __init__(self, readings: tuple[Reading, ...]) -> None:
        self._by_id = {reading.id: reading for reading in readings}

    def __iter__(self):
        return iter(self._by_id.values())

    def get(self, reading_id: str) -> Reading | None:
        return self._by_id.get(reading_id)

    def for_instrument(self, instrument: str) -> list[Reading]:
        return [reading for reading in self if instrument in reading.instruments]

    def problems(self, instruments: set[str]) -> list[str]:
        """Instruments named that do not exist, and instruments with nothing to offer."""
        named = {key for reading in self for key in reading.instruments}
        return [f"library: {key}: no such self-check instrument" for key in sorted(named - instruments)] + [
            f"library: no reading for the self-check {key}" for key in sorted(instruments - named)
        ]


def load_library(path: Path = CONTENT / "library.toml") -> Library:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        return Library(_File.model_validate(raw).reading)
    except (OSError, tomllib.TOMLDecodeError, ValidationError) as exc:
        raise LibraryError(f"{path}: {exc}") from None


@lru_cache(maxsize=1)
def library() -> Library:
    """The shipped library, loaded once."""
    return load_library()
