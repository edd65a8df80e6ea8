"""The in-person referral's data (bot/content/referrals.toml): mental-health centres by region and
the national lines, each with a public source; checked at start like the other content."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.content.lines import Source, lines
from bot.content.regions import regions
from bot.paths import CONTENT


class Centre(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    region: str
    name_kk: str = Field(min_length=3)
    name_ru: str = Field(min_length=3)
    website: str | None = Field(default=None, pattern=r"^https?://")
    source: tuple[Source, ...] = Field(min_length=1)

    def name(self, language: str) -> str:
        return self.name_kk if language == "kk" else self.name_ru


class Referrals(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    national_lines: tuple[str, ...] = Field(min_length=1)
    where: Source
    centre: tuple[Centre, ...] = ()

    @model_validator(mode="after")
    def _known(self) -> Referrals:
        unknown = [c.region for c in self.centre if c.region not in regions()]
        unknown += [n for n in self.national_lines if n not in lines()]
        if unknown:
            raise ValueError(f"unknown regions or unsourced lines: {unknown}")
        return self

    def centres(self, region: str | None) -> list[Centre]:
        return [centre for centre in self.centre if centre.region == region]


@lru_cache(maxsize=1)
def referrals(path: Path = CONTENT / "referrals.toml") -> Referrals:
    return Referrals.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
