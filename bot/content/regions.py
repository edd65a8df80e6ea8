"""Kazakhstan's 17 regions and 3 cities of republican significance (2022 reform),
with ISO 3166-2 codes, in Kazakh and Russian: data in bot/content/regions.tsv."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache

from bot.paths import CONTENT


@dataclass(frozen=True)
class Region:
    code: str
    kk: str
    ru: str
    kind: str

    def name(self, language: str) -> str:
        return self.kk if language == "kk" else self.ru


@lru_cache(maxsize=1)
def regions() -> dict[str, Region]:
    with (CONTENT / "regions.tsv").open(encoding="utf-8") as handle:
        rows = [
            Region(row["iso"], row["kk"], row["ru"], row["kind"])
            for row in csv.DictReader(handle, delimiter="\t")
        ]
    if len(rows) != 20 or len({r.code for r in rows}) != 20:
        raise ValueError("regions.tsv must list 17 regions and 3 cities with distinct codes")
    return {region.code: region for region in rows}


def region_name(code: str | None, language: str) -> str | None:
    region = regions().get(code or "")
    return region.name(language) if region else None
