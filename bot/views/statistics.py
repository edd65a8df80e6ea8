"""Coordinators' statistics in words: the message, the chart's labels and the screen's buttons of a
report (bot/services/statistics.py), in the current locale (call inside the handler's i18n context)."""

from __future__ import annotations

import html
from typing import cast

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from babel.dates import format_date

from bot.content.instruments import Lang
from bot.content.regions import region_name, regions
from bot.services import periods
from bot.services.anonymity import HIDDEN
from bot.services.periods import SETTLE, Period
from bot.services.statistics import Figure, FormatFigure, Part, Report, ScaleBands, Taken
from bot.telegram import callbacks as cb
from bot.telegram.keyboards import KeyboardBuilder, with_nav
from bot.views.stats_chart import Labels

Action = cb.StatAction
Bar = tuple[str, int | None]
Row = tuple[str, int, list[Bar]]


def period_name(period: Period, language: str) -> str:
    if period.kind == "m":
        name = format_date(period.first, "LLLL yyyy", locale=language)
        return name[:1].upper() + name[1:]
    if period.kind == "q":
        return _("co-period-quarter").format(quarter=period.number, year=period.year)
    return _("co-period-year").format(year=period.year)


def area_name(region: str | None, language: str) -> str:
    return region_name(region, language) or _("co-stats-all-regions")


def report_text(report: Report, language: str, minimum: int) -> str:
    title = _("co-stats-title").format(
        period=period_name(report.period, language), region=html.escape(area_name(report.region, language))
    )
    heading = _("co-stat-bk-by-days") if report.period.kind == "m" else _("co-stat-bk-by-months")
    lines = [
        title,
        *_lines(report.activity, language),
        "",
        *_lines(report.consultations, language),
        heading,
        *_lines(report.parts, language),
        "",
        *_lines(report.selfchecks, language),
        "",
        _("co-stats-note").format(mark=HIDDEN, minimum=minimum, days=SETTLE.days),
    ]
    return fit("\n".join(lines))


def _lines(entries: list[Figure | ScaleBands] | list[Figure] | list[Part], language: str) -> list[str]:
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
        case Taken():
            return _("co-stat-sc-taken").format(
                name=html.escape(entry.instrument.abbreviation), value=html.escape(entry.value)
            )
    return _("co-stat-" + entry.key).format(value=html.escape(entry.value))


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
    builder.button(text=_("co-stats-chart"), callback_data=cb.Stat(a=Action.CHART, p=period.code, r=region))
    builder.button(text=_("co-stats-csv"), callback_data=cb.Stat(a=Action.CSV, p=period.code, r=region))
    builder.button(  # reports for the ministry: handlers/coordinator/reports.py
        text=_("rep-open"), callback_data=cb.Report(a=cb.ReportAction.OPEN, p=period.code, r=region)
    )
    if pick_region:
        builder.button(text=_("co-stats-region"), callback_data=cb.Stat(a=Action.REGION, p=period.code))
    builder.adjust(periods.OFFERED["m"], periods.OFFERED["q"], periods.OFFERED["y"], 2, 1)
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
