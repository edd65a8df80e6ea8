"""Fixed reporting periods for coordinators' statistics: calendar months, quarters and years in
local time (settings' `tz`), never free windows ending "now".

Two periods are either disjoint or one holds the other (a month in its quarter, a quarter in its
year), so no two views differ by a few days; the sums between nested ones are protected like any
other sum (bot/anonymity.py). A period is offered only once it has closed and SETTLE has passed:
its figures are published once then and never change (bot/statistics.py), so nothing a teacher
does today can be seen moving a number. The open period is not shown rounded instead: a rounded
count still changes, at a rounding boundary, when one teacher acts (one time in five with base
5), and random rounding averages out over repeated looks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

# Time for what belongs to a closed month to arrive: psychologists' attendance marks and ratings
# (group sessions are rated within 48 h of their end, [groups] rating_window_hours).
SETTLE = timedelta(days=3)
OFFERED = {"m": 3, "q": 2, "y": 1}  # how many of the latest published months, quarters and years
_CODE = re.compile(r"(?:m(\d{4})(0[1-9]|1[0-2])|q(\d{4})([1-4])|y(\d{4}))")


@dataclass(frozen=True)
class Period:
    kind: str  # "m" month, "q" quarter, "y" year
    year: int
    number: int = 0  # month 1-12 or quarter 1-4; 0 for a year

    @property
    def code(self) -> str:
        """ "m202610", "q20263", "y2026": short enough for any callback."""
        return {
            "m": f"m{self.year}{self.number:02d}",
            "q": f"q{self.year}{self.number}",
            "y": f"y{self.year}",
        }[self.kind]

    @classmethod
    def parse(cls, code: str) -> Period | None:
        match = _CODE.fullmatch(code or "")
        if match is None:
            return None
        if match[1]:
            return cls("m", int(match[1]), int(match[2]))
        if match[3]:
            return cls("q", int(match[3]), int(match[4]))
        return cls("y", int(match[5]))

    @property
    def first(self) -> date:
        month = {"m": self.number, "q": 3 * self.number - 2, "y": 1}[self.kind]
        return date(self.year, month, 1)

    @property
    def after(self) -> date:
        """The first day after the period."""
        months = {"m": 1, "q": 3, "y": 12}[self.kind]
        index = self.first.month - 1 + months
        return date(self.year + index // 12, index % 12 + 1, 1)

    def since(self, tz: ZoneInfo) -> datetime:
        return datetime.combine(self.first, datetime.min.time(), tz).astimezone(UTC)

    def until(self, tz: ZoneInfo) -> datetime:
        return datetime.combine(self.after, datetime.min.time(), tz).astimezone(UTC)

    @property
    def months(self) -> list[Period]:
        return [
            month_of(self.first.year, self.first.month + n)
            for n in range({"m": 1, "q": 3, "y": 12}[self.kind])
        ]

    @property
    def parts(self) -> list[Period]:
        """What it adds up from: a quarter its months, a year its quarters; a month nothing here."""
        if self.kind == "q":
            return self.months
        if self.kind == "y":
            return [Period("q", self.year, n) for n in range(1, 5)]
        return []

    @property
    def quarter(self) -> Period:
        return Period("q", self.year, (self.first.month - 1) // 3 + 1)

    @property
    def closing(self) -> list[Period]:
        """The periods that end with this month: itself, and its quarter and year if it is their last."""
        assert self.kind == "m"
        return [self] + [p for p in (self.quarter, Period("y", self.year)) if p.after == self.after]

    def contains(self, other: Period) -> bool:
        return self.first <= other.first and other.after <= self.after

    def overlaps(self, other: Period) -> bool:
        return self.first < other.after and other.first < self.after


def month_of(year: int, month: int) -> Period:
    """A month, counted on from January of `year` (month 13 is next January)."""
    return Period("m", year + (month - 1) // 12, (month - 1) % 12 + 1)


def latest_month(now: datetime, tz: ZoneInfo) -> Period:
    """The last month that has closed and settled by `now`."""
    today = now.astimezone(tz)
    month = month_of(today.year, today.month - 1)
    while datetime.combine(month.after, datetime.min.time(), tz) + SETTLE > today:
        month = month_of(month.year, month.number - 1)
    return month


def offered(now: datetime, tz: ZoneInfo) -> list[Period]:
    """The periods a coordinator may pick: the latest published months, quarters and years."""
    last = latest_month(now, tz)
    months = [month_of(last.year, last.number - n) for n in range(OFFERED["m"])]
    # The latest quarter and year whose last month is published, and the ones before them.
    quarter = (
        last.quarter if last.number % 3 == 0 else month_of(last.year, last.number - last.number % 3).quarter
    )
    quarters = [month_of(quarter.year, 3 * (quarter.number - n)).quarter for n in range(OFFERED["q"])]
    year = last.year if last.number == 12 else last.year - 1
    return months + quarters + [Period("y", year - n) for n in range(OFFERED["y"])]


def to_publish(now: datetime, tz: ZoneInfo) -> list[Period]:
    """Every month to have published before the offered periods can be shown, oldest first:
    from January of the oldest offered year (a year is published from its months) to the latest."""
    last = latest_month(now, tz)
    first = min(p.first for p in offered(now, tz))
    months = []
    month = Period("m", first.year, 1)
    while month.first <= last.first:
        months.append(month)
        month = month_of(month.year, month.number + 1)
    return months
