"""Coordinators' statistics: published once per closed period, one report in three views
(message, chart, CSV).

Disclosure rules (README, "Statistics: what is shown"):
- Periods are calendar months, quarters and years in local time (bot/periods.py), offered only
  once closed and settled. A month's figures are counted then, for every region and the country
  at once, and stored (stat_releases); with a month that ends a quarter or a year, that quarter or
  year too, added up from its stored months. Nothing is ever recounted: a teacher acting today, a
  late rating, a teacher moving region or deleting their data moves no figure anyone has seen.
- Before storing, bot/anonymity.protect hides cells over every sum a coordinator could form: each
  breakdown on screen, the country against its regions (with the teachers who gave no region,
  whom no screen shows), a quarter against its months and a year against its quarters; the cells
  published before are fixed and the new ones protect them.
- Every view below reads the stored counts and hidden cells, so the message, the chart and the
  CSV show the same values. Percentages and averages only over counts that are shown.
The report is figures only; bot/views/statistics.py words them in a language.
"""

from __future__ import annotations

import calendar
import functools
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.content.instruments import Band, Instrument, Scale, load_instruments
from bot.content.regions import regions
from bot.services import anonymity, tallies
from bot.services.anonymity import HIDDEN, Group
from bot.services.periods import Period, to_publish
from bot.services.periods import offered as offered_periods
from storage.models.booking import ATTENDED, CANCELLED, FORMATS, NO_SHOW, UPCOMING_STATES
from storage.models.groups import GROUP_KINDS
from storage.repo import broadcasts, groups, stats
from storage.repo.groups import GroupStats

COUNTRY, NO_REGION = "", "~"  # scopes next to the region codes; no screen shows NO_REGION
DELIVERY = ("sent", "blocked", "failed", "skipped")
STATES = ("upcoming", "attended", "no-show", "cancelled")
# What staff made, not what teachers did: exact. Group sessions, their seats and the sessions whose
# attendance was reported, by kind; the minutes of consultation times psychologists published.
PLAIN = (
    "sessions",
    "cancelled",
    "capacity",
    *(f"gs-{kind}-{what}" for kind in GROUP_KINDS for what in ("sessions", "capacity", "reported")),
    *(f"dm-{fmt}-published" for fmt in FORMATS),
)
# For averages, hours and quantiles only, each shown only beside a count that is: rating sums, the
# minutes of the booked times, and the searches by how soon their first free time was.
SUMS = (
    "rating-sum",
    "bk-rating-sum",
    *(f"dm-{fmt}-minutes" for fmt in FORMATS),
    *(tallies.wait_name(fmt, b) for fmt in FORMATS for b in tallies.BUCKETS),
)
NOT_SUMMED = ("active",)  # distinct teachers: a quarter's is not the sum of its months'
NEVER_SHOWN = (  # protected cells no screen has
    "bk-ontime",
    *(f"wait-{fmt}-found" for fmt in FORMATS),
    *(f"gs-{kind}-away" for kind in GROUP_KINDS),
)
LATER_FIGURES = ("gs-", "dm-", "wait-", "safety-")  # counted since December 2026 (migrations 0016, 0018)
NOT_COUNTED = "—"  # a figure a month published before it was counted does not have; not applicable
CellKey = tuple[str, str, str]  # a period code, a scope, a metric


@functools.cache
def instruments() -> dict[str, Instrument]:
    return load_instruments()


def parts_of(month: Period) -> list[tuple[int, int]]:
    """A month's days in sevens (1-7, 8-14, ... to its last day): its consultations by part."""
    days = calendar.monthrange(month.year, month.number)[1]
    return [(first, min(first + 6, days)) for first in range(1, days + 1, 7)]


@functools.cache
def cells(period: Period) -> list[str]:
    """The counts of one period and scope that are protected (and shown, unless NEVER_SHOWN)."""
    names = [
        "seats",
        "waitlist",
        "ratings",
        "active",
        "bc-total",
        *(f"bc-{s}" for s in DELIVERY),
        "bk-total",
        *(f"bk-format-{f}" for f in FORMATS),
        *(f"bk-{s}" for s in STATES),
        "bk-late",
        "bk-ontime",
        "bk-ratings",
        *(f"gs-{kind}-{what}" for kind in GROUP_KINDS for what in ("seats", "attended", "away")),
        *(f"dm-{fmt}-booked" for fmt in FORMATS),
        *(name for fmt in FORMATS for name in (f"wait-{fmt}", f"wait-{fmt}-none", f"wait-{fmt}-found")),
        *(tallies.safety_name(event) for event in tallies.SAFETY),
    ]
    if period.kind == "m":
        names += [f"bk-part-{n}" for n in range(1, len(parts_of(period)) + 1)]
    names.append("sc-total")
    for key, instrument in instruments().items():
        names.append(f"sc-{key}")
        names += [f"sc-{key}-{scale.key}-{band.key}" for scale in instrument.scales for band in scale.bands]
    return names


@functools.cache
def breakdowns(period: Period) -> list[Group]:
    """The sums on one screen (as metric names): each total with its parts."""
    found = [
        Group("bc-total", tuple(f"bc-{s}" for s in DELIVERY), breakdown=True),
        Group("bk-total", tuple(f"bk-format-{f}" for f in FORMATS), breakdown=True),
        Group("bk-total", tuple(f"bk-{s}" for s in STATES), breakdown=True),
        # Late cancellations are a part of all cancellations; the rest (on time) is a cell no
        # screen shows, but anyone can subtract it.
        Group("bk-cancelled", ("bk-late", "bk-ontime"), breakdown=True),
        Group("sc-total", tuple(f"sc-{key}" for key in instruments()), breakdown=True),
        Group("seats", tuple(f"gs-{kind}-seats" for kind in GROUP_KINDS), breakdown=True),
        # Those who came are a part of a kind's seats; the rest (who did not, and the seats of the
        # sessions not reported) is a cell no screen shows, but anyone can subtract it.
        *(
            Group(f"gs-{kind}-seats", (f"gs-{kind}-attended", f"gs-{kind}-away"), breakdown=True)
            for kind in GROUP_KINDS
        ),
        # The searches that found a time are a cell no screen shows (only their median, when
        # there are enough), but anyone can subtract those that found none.
        *(Group(f"wait-{f}", (f"wait-{f}-none", f"wait-{f}-found"), breakdown=True) for f in FORMATS),
    ]
    if period.kind == "m":
        found.append(
            Group(
                "bk-total", tuple(f"bk-part-{n}" for n in range(1, len(parts_of(period)) + 1)), breakdown=True
            )
        )
    for key, instrument in instruments().items():
        for scale in instrument.scales:
            bands = tuple(f"sc-{key}-{scale.key}-{band.key}" for band in scale.bands)
            found.append(Group(f"sc-{key}", bands, breakdown=True, dominance=True))
    return found


# --- counting a month ------------------------------------------------------------------------------------


async def count_month(session: AsyncSession, month: Period, tz: ZoneInfo) -> dict[str, dict[str, int]]:
    """Every count of a month, by scope: the country, each region, and the rest (no region)."""
    since, until = month.since(tz), month.until(tz)
    by_region: dict[str | None, Counter[str]] = {}

    def add(region: str | None, values: Mapping[str, int]) -> None:
        by_region.setdefault(region, Counter()).update(values)

    for region, group in (await groups.statistics(session, since, until)).items():
        add(region, _group_values(group))
    for region, delivery in (await broadcasts.statistics(session, since, until)).items():
        add(region, {"bc-total": sum(delivery.get(s, 0) for s in DELIVERY)})
        add(region, {f"bc-{s}": delivery.get(s, 0) for s in DELIVERY})
    for region, data in (await stats.bookings(session, since, until, tz)).items():
        add(region, _booking_values(data, month))
    for region, teachers in (await stats.active(session, since, until)).items():
        add(region, {"active": teachers})
    for region, place in (await stats.capacity(session, since, until)).items():
        add(region, _capacity_values(place))
    for region, counts in (await tallies.month_counts(session, month.code)).items():
        add(region, _tally_values(counts))
    country = sum(by_region.values(), Counter[str]())
    # Self-checks are counted from the decrypted results: the country in one pass, then each
    # region that has any.
    country.update(_selfcheck_values(await stats.selfchecks(session, since, until, None, bands)))
    for region in await stats.selfcheck_regions(session, since, until):
        add(region, _selfcheck_values(await stats.selfchecks(session, since, until, region, bands)))
    return _scopes(country, by_region, _names(month))


def _group_values(group: GroupStats) -> dict[str, int]:
    return {
        "sessions": group.sessions,
        "cancelled": group.cancelled_sessions,
        "capacity": group.capacity,
        "seats": group.seats_taken,
        "waitlist": group.waitlisted,
        "ratings": group.ratings,
        "rating-sum": group.rating_sum,
        **{f"gs-{k}-sessions": group.kind_sessions.get(k, 0) for k in GROUP_KINDS},
        **{f"gs-{k}-capacity": group.kind_capacity.get(k, 0) for k in GROUP_KINDS},
        **{f"gs-{k}-seats": group.kind_seats.get(k, 0) for k in GROUP_KINDS},
        **{f"gs-{k}-reported": group.kind_reported.get(k, 0) for k in GROUP_KINDS},
        **{f"gs-{k}-attended": group.kind_attended.get(k, 0) for k in GROUP_KINDS},
        # At least 0: a teacher who came and then deleted their data takes their seat with them.
        **{f"gs-{k}-away": max(group.kind_seats[k] - group.kind_attended[k], 0) for k in GROUP_KINDS},
    }


def _capacity_values(place: stats.Capacity) -> dict[str, int]:
    values = {}
    for fmt in FORMATS:
        values[f"dm-{fmt}-published"] = place.published.get(fmt, 0)
        values[f"dm-{fmt}-booked"] = place.booked.get(fmt, 0)
        values[f"dm-{fmt}-minutes"] = place.booked_minutes.get(fmt, 0)
    return values


def _tally_values(counts: Mapping[str, int]) -> dict[str, int]:
    values = {tallies.safety_name(e): counts.get(tallies.safety_name(e), 0) for e in tallies.SAFETY}
    for fmt in FORMATS:
        found = {tallies.wait_name(fmt, b): counts.get(tallies.wait_name(fmt, b), 0) for b in tallies.BUCKETS}
        none = counts.get(tallies.wait_name(fmt, tallies.NONE), 0)
        values |= found
        values |= {f"wait-{fmt}": sum(found.values()) + none, f"wait-{fmt}-none": none}
        values[f"wait-{fmt}-found"] = sum(found.values())
    return values


def _booking_values(data: stats.BookingStats, month: Period) -> dict[str, int]:
    cancelled = data.by_state.get(CANCELLED, 0)
    values = {
        "bk-total": data.total,
        **{f"bk-format-{f}": data.by_format.get(f, 0) for f in FORMATS},
        "bk-upcoming": sum(data.by_state.get(s, 0) for s in UPCOMING_STATES),
        "bk-attended": data.by_state.get(ATTENDED, 0),
        "bk-no-show": data.by_state.get(NO_SHOW, 0),
        "bk-cancelled": cancelled,
        "bk-late": data.late_cancels,
        "bk-ontime": cancelled - data.late_cancels,
        "bk-ratings": data.ratings,
        "bk-rating-sum": data.rating_sum,
    }
    for n, (first, last) in enumerate(parts_of(month), start=1):
        values[f"bk-part-{n}"] = sum(v for day, v in data.by_day.items() if first <= day.day <= last)
    return values


def _selfcheck_values(data: stats.SelfCheckStats) -> dict[str, int]:
    values = {"sc-total": sum(data.taken.values())}
    for key, instrument in instruments().items():
        values[f"sc-{key}"] = data.taken.get(key, 0)
        for scale in instrument.scales:
            for band in scale.bands:
                values[f"sc-{key}-{scale.key}-{band.key}"] = data.bands.get((key, scale.key, band.key), 0)
    return values


def _names(period: Period) -> list[str]:
    return [*PLAIN, *SUMS, *cells(period)]


def _scopes(
    country: Mapping[str, int], by_region: Mapping[str | None, Mapping[str, int]], names: list[str]
) -> dict[str, dict[str, int]]:
    """The country, every region (zeros included), and what the regions leave of the country."""
    scopes = {COUNTRY: {n: country.get(n, 0) for n in names}}
    for code in regions():
        scopes[code] = {n: by_region.get(code, {}).get(n, 0) for n in names}
    scopes[NO_REGION] = {n: scopes[COUNTRY][n] - sum(scopes[code][n] for code in regions()) for n in names}
    return scopes


async def count_sum(
    session: AsyncSession, period: Period, tz: ZoneInfo, months: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, int]]:
    """A quarter's or year's counts: its stored months added up, so they agree with them exactly;
    only the teachers who used Demeu are counted anew (one teacher in three months is one, not three)."""
    names = _names(period)
    country: Counter[str] = Counter()
    by_region: dict[str | None, Counter[str]] = {}
    for month in period.months:
        raw = months[month.code]["raw"]
        country.update({n: raw[COUNTRY].get(n, 0) for n in names if n not in NOT_SUMMED})
        for code in regions():
            by_region.setdefault(code, Counter()).update(
                {n: raw.get(code, {}).get(n, 0) for n in names if n not in NOT_SUMMED}
            )
    active = await stats.active(session, period.since(tz), period.until(tz))
    country["active"] = sum(active.values())
    for code in regions():
        by_region[code]["active"] = active.get(code, 0)
    return _scopes(country, by_region, names)


# --- publishing -------------------------------------------------------------------------------------------


async def publish_due(session: AsyncSession, now: datetime, tz: ZoneInfo, minimum: int) -> None:
    """Publish every month (with the quarter and year it closes) that the offered periods need and
    that is not published yet, oldest first: what is published before fixes what comes after."""
    months = to_publish(now, tz)
    have = await stats.published(session, [p.code for month in months for p in month.closing])
    due = [month for month in months if any(p.code not in have for p in month.closing)]
    if not due:
        return
    years = {month.year for month in due}  # no period spans two years: only these are linked to the new ones
    stored = await stats.releases(session, [code for code in have if stored_period(code).year in years])
    for month in due:
        fresh = [p for p in month.closing if p.code not in stored]
        counts: dict[str, dict[str, dict[str, int]]] = {}
        for period in fresh:  # the month first: its quarter and year add it up
            if period.kind == "m":
                counts[period.code] = await count_month(session, period, tz)
            else:
                months_so_far = {**stored, **{code: {"raw": raw} for code, raw in counts.items()}}
                counts[period.code] = await count_sum(session, period, tz, months_so_far)
        hidden = protect_new(stored, counts, minimum)
        for period in fresh:
            data = {"raw": counts[period.code], "hidden": hidden[period.code]}
            stored[period.code] = await stats.publish(session, period.code, data, now)


def protect_new(
    stored: Mapping[str, Mapping[str, Any]],
    counts: Mapping[str, Mapping[str, Mapping[str, int]]],
    minimum: int,
) -> dict[str, dict[str, list[str]]]:
    """Which of the new counts (a month, and the quarter and year it closes) to hide, given what
    was published before. Only sums can link periods: a month alone is linked to nothing else
    yet, a new quarter to its months, a new year to its quarters and their months."""
    linked = {p.code for code in counts for p in _inside(stored_period(code))}
    old = {code: stored[code] for code in linked - set(counts)}
    raws = {**{code: data["raw"] for code, data in old.items()}, **counts}
    scopes = [COUNTRY, *regions()]
    values: dict[CellKey, int] = {}
    sums: list[Group] = []
    for code, raw in raws.items():
        period = stored_period(code)
        names = cells(period)
        for scope in (*scopes, NO_REGION):
            # A month published before a figure existed counts it as 0 here (Shown says "—").
            values.update({(code, scope, n): raw[scope].get(n, 0) for n in names})
        sums += _sums(code, period, names)
    fixed = {
        (code, scope, n)
        for code, data in old.items()
        for scope, names in data["hidden"].items()
        for n in names
    }
    never = {cell for cell in values if cell[1] == NO_REGION or cell[2] in NEVER_SHOWN}
    new = {cell for cell in values if cell[0] in counts}
    # protect() takes cells of any kind and hides some of those it is given: ours.
    hide = anonymity.protect(
        cast(Mapping[Hashable, int], values), sums, minimum, new=new, hidden=fixed, never_shown=never
    )
    result: dict[str, dict[str, list[str]]] = {
        code: {scope: [] for scope in (*scopes, NO_REGION)} for code in counts
    }
    for code, scope, name in sorted(c for c in cast(set[CellKey], hide) if c[0] in counts):
        result[code][scope].append(name)
    return result


def _sums(code: str, period: Period, names: list[str]) -> list[Group]:
    """Every sum over one period's cells a coordinator could form: each screen's breakdowns in
    each scope, the country from its regions, and a quarter or year from its parts."""
    scopes = [COUNTRY, *regions()]
    found = [
        Group((code, scope, g.total), tuple((code, scope, p) for p in g.parts), g.breakdown, g.dominance)
        for scope in scopes
        for g in breakdowns(period)
    ]
    found += [Group((code, COUNTRY, n), tuple((code, s, n) for s in (*regions(), NO_REGION))) for n in names]
    parts = [p.code for p in period.parts]
    if parts:
        found += [
            Group((code, scope, n), tuple((part, scope, n) for part in parts))
            for scope in scopes
            for n in names
            if n not in NOT_SUMMED
        ]
    return found


def stored_period(code: str) -> Period:
    """The period of a code this module stored."""
    period = Period.parse(code)
    if period is None:
        raise ValueError(f"not a period code: {code!r}")
    return period


def _inside(period: Period) -> list[Period]:
    """The period and every period that adds up into it."""
    return [period, *(inner for part in period.parts for inner in _inside(part))]


# --- the report ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """One published value (a count, a share, an average, or the hidden mark): a CSV row and,
    unless not `listed`, a line of the message."""

    key: str
    value: str
    listed: bool = True


@dataclass(frozen=True, kw_only=True)
class FormatFigure(Figure):
    """Consultations of one format."""

    format: str


@dataclass(frozen=True, kw_only=True)
class KindFigure(Figure):
    """One measure (sessions, seats, fill, reported, attended) of the group sessions of one kind."""

    kind: str
    measure: str


@dataclass(frozen=True, kw_only=True)
class DemandFigure(Figure):
    """One measure of the consultations of one format: hours published and booked, searches and
    how soon they found a free time. A wait's `value` is its bucket ("d3": at most 3 days)."""

    format: str
    measure: str


@dataclass(frozen=True, kw_only=True)
class Taken(Figure):
    """Results of one self-check instrument."""

    instrument: Instrument


@dataclass(frozen=True, kw_only=True)
class Part(Figure):
    """Consultations in one part of the period: a month's days `first`-`last`, or a `month` of a
    quarter or year. `count` is the chart's bar, None when hidden."""

    count: int | None
    first: int = 0
    last: int = 0
    month: Period | None = None


@dataclass(frozen=True)
class Cell:
    band: Band
    key: str
    value: str
    count: int | None  # None when hidden


@dataclass(frozen=True)
class ScaleBands:
    """One scale's results by band: CSV rows always; a line and a chart row only when the
    instrument's count is `shown` (a hidden count is not split, nor is a zero)."""

    instrument: Instrument
    scale: Scale
    total: int
    cells: tuple[Cell, ...]
    shown: bool


@dataclass
class Report:
    """An offered period for a region (None: the country), in the order the message lists it."""

    period: Period
    region: str | None
    activity: list[Figure] = field(default_factory=list)  # group sessions, teachers, broadcasts
    consultations: list[Figure] = field(default_factory=list)
    parts: list[Part] = field(default_factory=list)
    selfchecks: list[Figure | ScaleBands] = field(default_factory=list)
    groups: list[Figure] = field(default_factory=list)  # group sessions by kind
    demand: list[Figure] = field(default_factory=list)  # hours and waits by format
    safety: list[Figure] = field(default_factory=list)

    @property
    def scales(self) -> list[ScaleBands]:
        """The bands drawn: those the message lists."""
        return [entry for entry in self.selfchecks if isinstance(entry, ScaleBands) and entry.shown]


def bands(instrument: str, answers: dict[str, int]) -> list[tuple[str, str]]:
    """(scale, band) of one stored result, scored by its instrument."""
    known = instruments().get(instrument)
    if known is None:
        return []
    return [(scale.key, scale.band) for scale in known.score(answers).scales.values()]


class Shown:
    """One period and scope as published: a count, or the hidden mark."""

    def __init__(self, data: Mapping[str, Any], scope: str) -> None:
        self.raw, self.hidden = data["raw"][scope], set(data["hidden"][scope])

    def __getitem__(self, name: str) -> str:
        if name not in self.raw:
            return NOT_COUNTED
        return HIDDEN if name in self.hidden else str(self.raw[name])

    def number(self, name: str) -> int | None:
        return None if name in self.hidden or name not in self.raw else self.raw[name]


def share(part: int | None, whole: int | None) -> str:
    """A percentage of two shown counts."""
    if part is None or whole is None:
        return HIDDEN
    return f"{round(100 * part / whole)}%" if whole else "—"


def average(total: int, count: int | None) -> str:
    if count is None:
        return HIDDEN
    return f"{total / count:.1f}" if count else "—"


def permitted(
    period_code: str, region_code: str, limit: str | None, now: datetime, tz: ZoneInfo
) -> tuple[Period, str | None]:
    """What a coordinator may see of the period and region asked for: an offered period only (else
    the latest month), and a regional coordinator's own region (`limit`) whatever was asked."""
    offered = offered_periods(now, tz)
    period = Period.parse(period_code)
    region = limit if limit is not None else (region_code if region_code in regions() else None)
    return (period if period in offered else offered[0]), region


async def build(
    session: AsyncSession, period: Period, region: str | None, minimum: int, tz: ZoneInfo, now: datetime
) -> Report:
    """The report of an offered period for a region (None: the country), publishing what is due."""
    await publish_due(session, now, tz, minimum)
    published = await stats.releases(session, [period.code, *(m.code for m in period.months)])
    scope = region or COUNTRY
    shown = Shown(published[period.code], scope)
    months = {p.code: Shown(published[p.code], scope) for p in period.months}
    if period.kind != "m":  # a figure some month was published without: not a partial sum as if whole
        shown.raw = {
            name: value
            for name, value in shown.raw.items()
            if not name.startswith(LATER_FIGURES) or all(name in month.raw for month in months.values())
        }
    return Report(
        period,
        region,
        _activity(shown),
        _consultations(shown),
        _parts(shown, period, months),
        _selfchecks(shown),
        _groups(shown),
        _demand(shown, region, minimum, months.values()),
        [Figure(tallies.safety_name(e), shown[tallies.safety_name(e)]) for e in tallies.SAFETY],
    )


def _groups(shown: Shown) -> list[Figure]:
    found: list[Figure] = []
    for kind in GROUP_KINDS:
        seats, capacity = f"gs-{kind}-seats", shown.raw.get(f"gs-{kind}-capacity")
        found += [
            KindFigure(f"gs-{kind}-sessions", shown[f"gs-{kind}-sessions"], kind=kind, measure="sessions"),
            KindFigure(seats, shown[seats], kind=kind, measure="seats"),
            KindFigure(
                f"gs-{kind}-fill",
                NOT_COUNTED if capacity is None else share(shown.number(seats), capacity),
                kind=kind,
                measure="fill",
            ),
            KindFigure(f"gs-{kind}-reported", shown[f"gs-{kind}-reported"], kind=kind, measure="reported"),
            KindFigure(f"gs-{kind}-attended", shown[f"gs-{kind}-attended"], kind=kind, measure="attended"),
        ]
    return found


def hours(minutes: int | None) -> str:
    return HIDDEN if minutes is None else f"{minutes / 60:.1f}"


def _wait(buckets: Mapping[str, int], counted: bool, minimum: int) -> Callable[[float], str]:
    """A quantile's bucket of these searches' waits: "—" when none found a time (or they were not
    counted), hidden when fewer than `minimum` did."""
    found = sum(buckets.values())

    def value(q: float) -> str:
        if not counted or not found:
            return NOT_COUNTED
        return cast(str, tallies.quantile(buckets, q)) if found >= minimum else HIDDEN

    return value


def _demand(shown: Shown, region: str | None, minimum: int, months: Iterable[Shown]) -> list[Figure]:
    """Per format: hours published and booked, searches, those with no free time, and the median
    and 90th percentile of how soon the others found one, when there are at least `minimum` of them.

    A video or chat time is open to every region, so a region's published hours are the country's:
    "—". Booked hours are the country's only, and only beside a shown booking count whose months'
    counts are all shown too: the minutes are not protected cells, so a region's, or a month's
    beside its quarter's, would give away by difference (with the slots' known lengths) a count
    that is hidden."""
    found: list[Figure] = []
    months = list(months)
    for fmt in FORMATS:
        everywhere = region is not None and fmt != "office"
        booked = shown.number(f"dm-{fmt}-booked")
        parts_shown = all(month.number(f"dm-{fmt}-booked") is not None for month in months)
        minutes = None if booked is None or not parts_shown else shown.raw.get(f"dm-{fmt}-minutes")
        published = shown.raw.get(f"dm-{fmt}-published")
        capacity = {
            "published": NOT_COUNTED if published is None else hours(published),
            "booked": NOT_COUNTED
            if region is not None or f"dm-{fmt}-booked" not in shown.raw
            else hours(minutes),
            "share": NOT_COUNTED if region is not None or published is None else share(minutes, published),
        }
        for measure, value in capacity.items():
            found.append(
                DemandFigure(
                    f"dm-{fmt}-{measure}", NOT_COUNTED if everywhere else value, format=fmt, measure=measure
                )
            )
        buckets = {b: shown.raw.get(tallies.wait_name(fmt, b), 0) for b in tallies.BUCKETS}
        wait = _wait(buckets, f"wait-{fmt}" in shown.raw, minimum)
        found += [
            DemandFigure(f"wait-{fmt}", shown[f"wait-{fmt}"], format=fmt, measure="searches"),
            DemandFigure(f"wait-{fmt}-none", shown[f"wait-{fmt}-none"], format=fmt, measure="none"),
            *(
                DemandFigure(
                    f"wait-{fmt}-{name}",
                    wait(q),
                    format=fmt,
                    measure=name,
                )
                for name, q in (("median", 0.5), ("p90", 0.9))
            ),
        ]
    return found


def _activity(shown: Shown) -> list[Figure]:
    return [
        Figure(key, value)
        for key, value in (
            ("sessions", shown["sessions"]),
            ("cancelled", shown["cancelled"]),
            ("seats", shown["seats"]),
            ("fill", share(shown.number("seats"), shown.raw["capacity"])),
            ("waitlist", shown["waitlist"]),
            ("ratings", shown["ratings"]),
            ("rating", average(shown.raw["rating-sum"], shown.number("ratings"))),
            ("active", shown["active"]),
            ("bc-total", shown["bc-total"]),
            *((f"bc-{state}", shown[f"bc-{state}"]) for state in DELIVERY),
        )
    ]


def _consultations(shown: Shown) -> list[Figure]:
    attended, missed = shown.number("bk-attended"), shown.number("bk-no-show")
    marked = None if attended is None or missed is None else attended + missed
    return [
        Figure("bk-total", shown["bk-total"]),
        *(FormatFigure(f"bk-format-{fmt}", shown[f"bk-format-{fmt}"], format=fmt) for fmt in FORMATS),
        *(Figure(f"bk-{state}", shown[f"bk-{state}"]) for state in STATES),
        Figure("bk-late", shown["bk-late"]),
        Figure("bk-attendance", share(attended, marked)),
        Figure("bk-no-show-rate", share(missed, marked)),
        Figure("bk-ratings", shown["bk-ratings"], listed=False),
        Figure("bk-rating", average(shown.raw["bk-rating-sum"], shown.number("bk-ratings"))),
    ]


def _parts(shown: Shown, period: Period, months: Mapping[str, Shown]) -> list[Part]:
    if period.kind == "m":
        names = [f"bk-part-{n}" for n in range(1, len(parts_of(period)) + 1)]
        return [
            Part(name, shown[name], count=shown.number(name), first=first, last=last)
            for name, (first, last) in zip(names, parts_of(period), strict=True)
        ]
    return [
        Part(
            f"bk-month-{m.code[1:]}",
            months[m.code]["bk-total"],
            count=months[m.code].number("bk-total"),
            month=m,
        )
        for m in period.months
    ]


def _selfchecks(shown: Shown) -> list[Figure | ScaleBands]:
    found: list[Figure | ScaleBands] = [Figure("sc-total", shown["sc-total"])]
    for key, instrument in instruments().items():
        found.append(Taken(f"sc-{key}", shown[f"sc-{key}"], instrument=instrument))
        split = bool(shown.number(f"sc-{key}"))
        for scale in instrument.scales:
            names = [f"sc-{key}-{scale.key}-{band.key}" for band in scale.bands]
            cells = tuple(
                Cell(band, name, shown[name], shown.number(name))
                for band, name in zip(scale.bands, names, strict=True)
            )
            found.append(ScaleBands(instrument, scale, shown.raw[f"sc-{key}"], cells, split))
    return found
