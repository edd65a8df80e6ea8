"""Coordinators' statistics for a period and region: one report, three views (message, chart, CSV).

Every count goes through bot.anonymity before it leaves here: below the threshold it is "<5", and
where parts add up to a shown total one more part is hidden ("*") so the small one cannot be
worked out. The chart gets the same suppressed numbers (None = hidden), never the raw ones.
Text lines are rendered in the current locale (call inside the handler's i18n context).
"""
from __future__ import annotations

import functools
import html
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot import anonymity
from bot.instruments import Instrument, load_instruments
from storage.models.base import utcnow
from storage.models.booking import ATTENDED, CANCELLED, FORMATS, NO_SHOW, UPCOMING_STATES
from storage.repo import broadcasts, groups, stats

PERIODS = (30, 90, 365)
WEEK_LINES_UP_TO = 90  # a year of weeks is for the chart and the CSV, not for a phone screen


@functools.cache
def instruments() -> dict[str, Instrument]:
    return load_instruments()


@dataclass
class Report:
    rows: list[tuple[str, str]] = field(default_factory=list)  # CSV: metric, suppressed value
    lines: list[str] = field(default_factory=list)  # the message, in the current locale
    weeks: list[tuple[date, int | None]] = field(default_factory=list)  # chart: None = hidden
    bands: list[tuple[str, int, list[tuple[str, int | None]]]] = field(default_factory=list)  # chart rows


def bands(instrument: str, answers: dict[str, int]) -> list[tuple[str, str]]:
    """(scale, band) of one stored result, scored by its instrument."""
    known = instruments().get(instrument)
    if known is None:
        return []
    return [(scale.key, scale.band) for scale in known.score(answers).scales.values()]


def number(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def _add(report: Report, key: str, value: str, line: str | None = None) -> None:
    report.rows.append((key, value))
    report.lines.append(line if line is not None else _("co-stat-" + key).format(value=html.escape(value)))


async def build(session: AsyncSession, days: int, region: str | None, minimum: int, language: str) -> Report:
    until = utcnow()
    since = until - timedelta(days=days)
    report = Report()
    await _groups_and_broadcasts(report, session, since, until, region, minimum)
    await _consultations(report, session, since, until, region, minimum)
    await _selfchecks(report, session, since, until, region, minimum, language)
    return report


async def _groups_and_broadcasts(report: Report, session, since: datetime, until: datetime, region, minimum: int) -> None:
    group = await groups.statistics(session, since, until, region)
    delivery = await broadcasts.statistics(session, since, until, region)
    parts = {state: delivery.get(state, 0) for state in ("sent", "blocked", "failed", "skipped")}
    total = sum(parts.values())
    shown = anonymity.suppress(parts, minimum, total)
    average = f"{group.rating_sum / group.ratings:.1f}" if group.ratings >= minimum else anonymity.hidden(minimum)
    for key, value in (
        ("sessions", anonymity.count(group.sessions, minimum)),
        ("cancelled", anonymity.count(group.cancelled_sessions, minimum)),
        ("seats", anonymity.count(group.seats_taken, minimum)),
        ("fill", anonymity.ratio(group.seats_taken, group.capacity, minimum)),
        ("waitlist", anonymity.count(group.waitlisted, minimum)),
        ("ratings", anonymity.count(group.ratings, minimum)),
        ("rating", average),
        ("active", anonymity.count(await groups.active_teachers(session, since, region), minimum)),
        ("bc-total", anonymity.count(total, minimum)),
        *((f"bc-{state}", shown[state]) for state in parts),
    ):
        _add(report, key, value)


async def _consultations(report: Report, session, since: datetime, until: datetime, region, minimum: int) -> None:
    data = await stats.bookings(session, since, until, region)
    total = data.total
    report.lines.append("")
    _add(report, "bk-total", anonymity.count(total, minimum))
    formats = anonymity.suppress({fmt: data.by_format.get(fmt, 0) for fmt in FORMATS}, minimum, total)
    for fmt, value in formats.items():
        _add(report, f"bk-format-{fmt}", value, _("co-stat-bk-format").format(format=_("bk-format-" + fmt), value=html.escape(value)))
    states = {
        "upcoming": sum(data.by_state.get(state, 0) for state in UPCOMING_STATES),
        "attended": data.by_state.get(ATTENDED, 0),
        "no-show": data.by_state.get(NO_SHOW, 0),
        "cancelled": data.by_state.get(CANCELLED, 0),
    }
    shown_states = anonymity.suppress(states, minimum, total)
    for state, value in shown_states.items():
        _add(report, f"bk-{state}", value)
    _add(report, "bk-late", anonymity.count(data.late_cancels, minimum))
    attended, marked = stats.attendance(data)
    # A rate next to shown counts would give a hidden count away: rates only when both are shown.
    both_shown = all(number(shown_states[state]) is not None for state in ("attended", "no-show"))
    for key, part in (("bk-attendance", attended), ("bk-no-show-rate", marked - attended)):
        _add(report, key, anonymity.ratio(part, marked, minimum) if both_shown else anonymity.hidden(minimum))
    average = f"{data.rating_sum / data.ratings:.1f}" if data.ratings >= minimum else anonymity.hidden(minimum)
    _add(report, "bk-rating", average)

    weeks = {}
    week = stats.week_of(since)
    while week < until.date():
        weeks[week] = data.by_week.get(week, 0)
        week += timedelta(days=7)
    shown = anonymity.suppress({day.isoformat(): value for day, value in weeks.items()}, minimum, total)
    show_lines = (until - since).days <= WEEK_LINES_UP_TO
    for day in weeks:
        value = shown[day.isoformat()]
        report.weeks.append((day, number(value)))
        line = _("co-stat-bk-week").format(week=day.strftime("%d.%m"), value=html.escape(value))
        report.rows.append((f"bk-week-{day.isoformat()}", value))
        if show_lines:
            report.lines.append(line)


async def _selfchecks(report: Report, session, since: datetime, until: datetime, region, minimum: int, language: str) -> None:
    data = await stats.selfchecks(session, since, until, region, bands)
    known = instruments()
    total = sum(data.taken.values())
    report.lines.append("")
    _add(report, "sc-total", anonymity.count(total, minimum))
    taken = anonymity.suppress({key: data.taken.get(key, 0) for key in known}, minimum, total)
    for key, instrument in known.items():
        line = _("co-stat-sc-taken").format(name=html.escape(instrument.abbreviation), value=html.escape(taken[key]))
        _add(report, f"sc-{key}", taken[key], line)
        if number(taken[key]) is None or data.taken[key] < minimum:
            continue  # what is hidden is not split further: its parts would add it up again
        for scale in instrument.scales:
            cells = {band.key: data.bands.get((key, scale.key, band.key), 0) for band in scale.bands}
            if sum(cells.values()) < minimum:
                continue
            shown = anonymity.suppress(cells, minimum, sum(cells.values()))
            label = instrument.abbreviation if len(instrument.scales) == 1 else f"{instrument.abbreviation} · {scale.name(language)}"
            parts = []
            for band in scale.bands:
                report.rows.append((f"sc-{key}-{scale.key}-{band.key}", shown[band.key]))
                parts.append(_("co-stat-sc-band").format(band=html.escape(band.label(language)), value=html.escape(shown[band.key])))
            report.lines.append(_("co-stat-sc-bands").format(scale=html.escape(label), bands="; ".join(parts)))
            report.bands.append((label, sum(cells.values()), [(band.label(language), number(shown[band.key])) for band in scale.bands]))


def parse(value: str) -> tuple[int, str]:
    """Callback value "30" or "30.KZ-61" -> (days, region code or "")."""
    days, _dot, region = value.partition(".")
    return (int(days) if days.isdigit() and int(days) in PERIODS else PERIODS[0]), region


def pack(days: int, region: str | None) -> str:
    return f"{days}.{region}" if region else str(days)
