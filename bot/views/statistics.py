"""Coordinators' statistics in words: the message, the chart's labels and the screen's buttons of a
report (bot/services/statistics.py), in the current locale (call inside the handler's i18n context)."""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Sequence
from typing import cast

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from babel.numbers import format_decimal

from bot.content.instruments import Lang
from bot.content.regions import region_name, regions
from bot.services import periods, tallies
from bot.services.anonymity import HIDDEN
from bot.services.periods import SETTLE, Period
from bot.services.statistics import (
    FORMATS,
    NOT_COUNTED,
    DemandFigure,
    Figure,
    FormatFigure,
    KindFigure,
    Part,
    Report,
    ScaleBands,
    Taken,
)
from bot.telegram import callbacks as cb
from bot.telegram.keyboards import KeyboardBuilder, with_nav
from bot.views import dates
from bot.views.stats_chart import Labels

Action = cb.StatAction
Bar = tuple[str, int | None]
Row = tuple[str, int, list[Bar]]


def period_name(period: Period, language: str) -> str:
    if period.kind == "m":
        return dates.month(period.first, language)
    if period.kind == "q":
        return _("co-period-quarter").format(quarter=period.number, year=period.year)
    return _("co-period-year").format(year=period.year)


def area_name(region: str | None, language: str) -> str:
    return region_name(region, language) or _("co-stats-all-regions")


SCREEN = 1000  # characters: one screen of a phone, the summary and each details step
# Details: consultations; group sessions and broadcasts; group sessions by kind; hours published and
# booked; how soon a free time was found; self-checks; safety events.
SECTIONS = ("bk", "ac", "gr", "dm", "wt", "sc", "sf")
WAITS = ("searches", "none", "median", "p90")  # the "wt" section's measures; the rest are "dm"'s
SUMMARY = (  # the summary's lines, in this order; the rest is in the details
    "active",
    "bk-total",
    *(f"bk-format-{fmt}" for fmt in FORMATS),
    "bk-attended",
    "bk-no-show",
    "bk-cancelled",
    "bk-rating",
    "sessions",
    "sc-total",
)


def report_text(report: Report, language: str, minimum: int, section: str = "") -> str:
    """The summary of a report, or one section of its details: each fits one phone screen."""
    title = _("co-stats-title").format(
        period=period_name(report.period, language), region=html.escape(area_name(report.region, language))
    )
    if section == "bk":
        body = [
            *_lines(report.consultations, language),
            parts_heading(report),
            *_lines(report.parts, language),
        ]
    elif section == "ac":
        body = _lines(report.activity, language)
    elif section == "sc":
        body = _lines(report.selfchecks, language)
    elif section == "gr":
        body = _lines(report.groups, language)
    elif section in ("dm", "wt"):
        waits = section == "wt"
        body = _lines(
            [e for e in report.demand if isinstance(e, DemandFigure) and (e.measure in WAITS) == waits],
            language,
        )
        if not waits and report.region is not None:
            body.append(_("co-stats-dm-everywhere").format(mark=NOT_COUNTED))
    elif section == "sf":
        body = [*_lines(report.safety, language), _("co-stats-sf-note")]
    else:
        entries = [*report.activity, *report.consultations, *report.selfchecks]
        by_key = {entry.key: entry for entry in entries if isinstance(entry, Figure)}
        body = [
            line for key in SUMMARY if key in by_key and (line := _line(by_key[key], language)) is not None
        ]
    note = _("co-stats-note").format(mark=HIDDEN, minimum=minimum, days=SETTLE.days)
    return fit("\n".join([title, *body, "", note]), SCREEN)


def parts_heading(report: Report) -> str:
    return _("co-stat-bk-by-days") if report.period.kind == "m" else _("co-stat-bk-by-months")


def csv_rows(report: Report, language: str) -> list[tuple[str, str, str]]:
    """(metric, its name in this language, value) for every published figure of the report: a
    part is named with the whole it is part of («Отменены — из них поздно»)."""
    rows, whole = [], ""
    for entry in [*figures_of(report)]:
        if isinstance(entry, ScaleBands):
            scale = scale_label(entry, language)
            rows += [(c.key, f"{scale} — {c.band.label(_lang(language))}", c.value) for c in entry.cells]
            continue
        name = _csv_name(entry, report, language)
        if name.startswith("— "):
            name = f"{whole} — {name[2:]}"
        else:
            whole = name
        rows.append((entry.key, name, value_text(entry, language)))
    return rows


def figures_of(report: Report) -> list[Figure | ScaleBands]:
    """Every figure of a report, in the order of the CSV and the reports for the ministry."""
    return [
        *report.activity,
        *report.groups,
        *report.consultations,
        *report.parts,
        *report.demand,
        *report.selfchecks,
        *report.safety,
    ]


def value_text(entry: Figure, language: str) -> str:
    """A figure's value as written: a wait's bucket in words («≤ 3 дн.»), a number as the language
    writes it, the hidden mark as is."""
    if isinstance(entry, DemandFigure) and entry.measure in ("median", "p90"):
        return wait_text(entry.value)
    return local_number(entry.value, language)


def wait_text(bucket: str) -> str:
    """A wait bucket of bot/services/tallies.py in words: the same day, at most N days, more."""
    if bucket == "d0":
        return _("co-wait-today")
    if bucket == "more":
        return _("co-wait-more").format(days=tallies.LIMITS[-1])
    if bucket.startswith("d") and bucket[1:].isdigit():
        return _("co-wait-days").format(days=bucket[1:])
    return bucket  # the hidden mark, or "—"


def figure_label(entry: KindFigure | DemandFigure, value: str) -> str:
    """A group kind's or a format's measure in words, with its value."""
    if isinstance(entry, KindFigure):
        return _("co-stat-gs-" + entry.measure).format(kind=_("groups-kind-" + entry.kind), value=value)
    return _("co-stat-dm-" + entry.measure).format(format=_("bk-format-" + entry.format), value=value)


def _csv_name(entry: Figure, report: Report, language: str) -> str:
    match entry:
        case KindFigure() | DemandFigure():
            return plain(figure_label(entry, "{value}").replace("{value}", "").strip().rstrip(":").strip())
        case Part():
            return f"{parts_heading(report).rstrip(':')} — {part_label(entry, language)}"
        case FormatFigure():
            return "— " + plain(_("bk-format-" + entry.format))
        case Taken():
            return "— " + entry.instrument.abbreviation
    template = _("co-stat-" + entry.key)
    return template.replace("{value}", "").strip().rstrip(":").strip()


def plain(label: str) -> str:
    """A label without its emoji."""
    return label.lstrip("".join(ch for ch in label if not ch.isalnum() and ch not in "«(")).strip()


def report_csv(report: Report, language: str) -> bytes:
    """The CSV file in the coordinator's language, with a BOM so that spreadsheet programs read it
    as UTF-8."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([_("co-csv-metric"), _("co-csv-value")])
    writer.writerow([_("co-csv-period"), period_name(report.period, language)])
    writer.writerow([_("co-csv-region"), area_name(report.region, language)])
    writer.writerows((name, value) for _key, name, value in csv_rows(report, language))
    return buffer.getvalue().encode("utf-8-sig")


def _lines(entries: Sequence[Figure | ScaleBands], language: str) -> list[str]:
    return [line for entry in entries if (line := _line(entry, language)) is not None]


def _line(entry: Figure | ScaleBands, language: str) -> str | None:
    match entry:
        case ScaleBands(shown=False) | Figure(listed=False):
            return None
        case ScaleBands():
            parts = [
                _("co-stat-sc-band").format(
                    band=html.escape(cell.band.label(_lang(language))), value=html.escape(cell.value)
                )
                for cell in entry.cells
            ]
            label = html.escape(scale_label(entry, language))
            return _("co-stat-sc-bands").format(scale=label, bands="; ".join(parts))
        case Part():
            label = html.escape(part_label(entry, language))
            return _("co-stat-bk-part").format(part=label, value=html.escape(entry.value))
        case FormatFigure():
            return _("co-stat-bk-format").format(
                format=_("bk-format-" + entry.format), value=html.escape(entry.value)
            )
        case KindFigure() | DemandFigure():
            return figure_label(entry, html.escape(value_text(entry, language)))
        case Taken():
            return _("co-stat-sc-taken").format(
                name=html.escape(entry.instrument.abbreviation), value=html.escape(entry.value)
            )
    return _("co-stat-" + entry.key).format(value=html.escape(local_number(entry.value, language)))


def local_number(value: str, language: str) -> str:
    """An average as the language writes it («4,5»); a count, a share or the hidden mark as is."""
    try:
        number = float(value)
    except ValueError:
        return value
    return (
        value if number.is_integer() and "." not in value else format_decimal(number, "0.0", locale=language)
    )


def _lang(language: str) -> Lang:
    return cast(Lang, language)  # a user's language is one of the two (chosen at /start)


def part_label(part: Part, language: str) -> str:
    return period_name(part.month, language) if part.month else f"{part.first}–{part.last}"


def scale_label(bands: ScaleBands, language: str) -> str:
    name = bands.instrument.abbreviation
    return name if len(bands.instrument.scales) == 1 else f"{name} · {bands.scale.name(_lang(language))}"


def chart_input(report: Report, language: str) -> tuple[Labels, list[Bar], list[Row]]:
    """What render_stats_chart draws: the labels in this language, the bars and the band rows."""
    labels = Labels(
        title=_("co-chart-title").format(
            period=period_name(report.period, language), region=area_name(report.region, language)
        ),
        bars=_("co-chart-days") if report.period.kind == "m" else _("co-chart-months"),
        bands=_("co-chart-bands"),
        hidden=HIDDEN,
        empty=_("co-chart-empty"),
    )
    bars = [(part_label(part, language), part.count) for part in report.parts]
    rows = [
        (
            scale_label(scale, language),
            scale.total,
            [(cell.band.label(_lang(language)), cell.count) for cell in scale.cells],
        )
        for scale in report.scales
    ]
    return labels, bars, rows


def chart_caption(report: Report, language: str, minimum: int) -> str:
    return _("co-chart-caption").format(
        period=period_name(report.period, language),
        region=html.escape(area_name(report.region, language)),
        mark=HIDDEN,
        minimum=minimum,
    )


def csv_caption(report: Report, language: str) -> str:
    return _("co-stats-csv-caption").format(period=period_name(report.period, language))


def _add_report_buttons(builder: KeyboardBuilder, period: Period, region: str) -> None:
    """The details steps, the chart and the file of one report: under the summary and under a step."""
    for section in SECTIONS:
        builder.button(
            text=_("co-stats-more-" + section),
            callback_data=cb.Stat(a=Action.DETAILS, p=period.code, r=region, s=section),
        )
    builder.button(text=_("co-stats-chart"), callback_data=cb.Stat(a=Action.CHART, p=period.code, r=region))
    builder.button(text=_("co-stats-csv"), callback_data=cb.Stat(a=Action.CSV, p=period.code, r=region))


def details_keyboard(report: Report) -> InlineKeyboardMarkup:
    """Under a details step: the other steps, the chart and the file, and Back to the summary."""
    period, region = report.period, report.region or ""
    builder = KeyboardBuilder()
    _add_report_buttons(builder, period, region)
    builder.adjust(2, 2, 2, 1, 2)
    return with_nav(builder, cb.Stat(a=Action.SHOW, p=period.code, r=region))


def back_to_report(report: Report) -> InlineKeyboardMarkup:
    return with_nav(KeyboardBuilder(), cb.Stat(a=Action.SHOW, p=report.period.code, r=report.region or ""))


def report_keyboard(
    report: Report, offered: list[Period], language: str, pick_region: bool, home: cb.Coord
) -> InlineKeyboardMarkup:
    """The offered periods (this one marked), the chart, the CSV and, for whoever sees every region,
    another region."""
    period, region = report.period, report.region or ""
    builder = KeyboardBuilder()
    for each in offered:
        mark = "✓ " if each == period else ""
        builder.button(
            text=mark + period_name(each, language),
            callback_data=cb.Stat(a=Action.SHOW, p=each.code, r=region),
        )
    _add_report_buttons(builder, period, region)
    builder.button(  # reports for the ministry: handlers/coordinator/reports.py
        text=_("rep-open"), callback_data=cb.Report(a=cb.ReportAction.OPEN, p=period.code, r=region)
    )
    if pick_region:
        builder.button(text=_("co-stats-region"), callback_data=cb.Stat(a=Action.REGION, p=period.code))
    builder.adjust(periods.OFFERED["m"], periods.OFFERED["q"], periods.OFFERED["y"], 2, 2, 2, 1, 2, 1, 1)
    return with_nav(builder, home)


def region_keyboard(period: Period, language: str) -> InlineKeyboardMarkup:
    builder = KeyboardBuilder()
    builder.button(text=_("co-stats-all-regions"), callback_data=cb.Stat(a=Action.SHOW, p=period.code))
    for region in regions().values():
        builder.button(
            text=region.name(language), callback_data=cb.Stat(a=Action.SHOW, p=period.code, r=region.code)
        )
    builder.adjust(1, 2)
    return with_nav(builder, cb.Stat(a=Action.SHOW, p=period.code))


def fit(text: str, limit: int = 4096) -> str:
    """Telegram's message limit: a long report loses its last lines, never the send."""
    return text if len(text) <= limit else text[: text.rfind("\n", 0, limit - 2)] + "\n…"
