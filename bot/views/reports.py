"""Reports for the ministry: one statistics report (bot/services/statistics.py: the same stored,
suppressed figures as the statistics screen, chart and CSV) as an XLSX workbook or a PDF, in the
current locale.

`sections` words the figures (call it inside an i18n context); `xlsx` and `pdf` only lay out what
it returns, so they run off the event loop with no locale around. Every figure of the CSV is a row,
under the same key, with the same value: a hidden count is the same mark.
"""

from __future__ import annotations

import io
import unicodedata
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import cast

from aiogram.utils.i18n import gettext as _

from bot.content.instruments import Lang
from bot.services.anonymity import HIDDEN
from bot.services.periods import SETTLE
from bot.services.statistics import (
    DemandFigure,
    Figure,
    FormatFigure,
    KindFigure,
    Part,
    Report,
    ScaleBands,
    Taken,
)
from bot.views.statistics import (
    area_name,
    figure_label,
    local_number,
    part_label,
    period_name,
    scale_label,
    value_text,
)


def font_dir() -> Path:
    """DejaVu Sans has every Kazakh letter; matplotlib (a dependency, for the charts) ships it.
    matplotlib, fpdf2 and openpyxl are imported when a document is first made, not at start
    (with numpy and Pillow, 60 MB and a second of a bot that may never make one)."""
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


FORMATS = ("xlsx", "pdf")


@dataclass(frozen=True)
class Row:
    label: str
    value: str
    key: str  # the CSV's metric


@dataclass(frozen=True)
class Document:
    """A report in words: what the files show, in one language."""

    title: str
    subtitle: str
    note: str
    headers: tuple[str, str, str]
    sections: tuple[tuple[str, tuple[Row, ...]], ...]
    filename: str


def plain(text: str) -> str:
    """Words for a document: no emoji (screens have them; the font and an official paper do not)."""
    kept = "".join(c for c in text if unicodedata.category(c) != "So" and c not in "\ufe0f\u200d")
    return " ".join(kept.split())


def label(template: str) -> str:
    """A screen line's words without its value ("Консультаций за период: {value}")."""
    return template.replace("{value}", "").rstrip(" :")


def rows_of(entry: Figure | ScaleBands, language: str) -> list[Row]:
    match entry:
        case ScaleBands():
            scale = scale_label(entry, language)
            return [
                Row(f"— {scale} · {cell.band.label(cast(Lang, language))}", cell.value, cell.key)
                for cell in entry.cells
            ]
        case Part():
            return [Row("— " + part_label(entry, language), entry.value, entry.key)]
        case FormatFigure():
            return [Row("— " + _("bk-format-" + entry.format), entry.value, entry.key)]
        case KindFigure() | DemandFigure():
            return [Row(label(figure_label(entry, "{value}")), value_text(entry, language), entry.key)]
        case Taken():
            return [Row("— " + entry.instrument.abbreviation, entry.value, entry.key)]
        case Figure(listed=False):
            return [Row(label(_("rep-" + entry.key)), entry.value, entry.key)]
    return [Row(label(_("co-stat-" + entry.key)), entry.value, entry.key)]


def sections(report: Report, language: str, minimum: int, today: date) -> Document:
    parts = _("co-stat-bk-by-days") if report.period.kind == "m" else _("co-stat-bk-by-months")
    grouped = (
        (_("rep-section-activity"), report.activity),
        (_("rep-section-groups"), report.groups),
        (_("rep-section-consultations"), report.consultations),
        (parts.rstrip(" :"), report.parts),
        (_("rep-section-demand"), report.demand),
        (_("rep-section-selfchecks"), report.selfchecks),
        (_("rep-section-safety"), report.safety),
    )
    area = area_name(report.region, language)
    return Document(
        title=_("rep-title").format(period=period_name(report.period, language), region=area),
        subtitle=_("rep-made").format(date=today.strftime("%d.%m.%Y")),
        note=_("co-stats-note").format(mark=HIDDEN, minimum=minimum, days=SETTLE.days),
        headers=(_("rep-col-metric"), _("rep-col-value"), _("rep-col-key")),
        sections=tuple(
            (
                heading,
                tuple(
                    Row(plain(row.label), local_number(row.value, language), row.key)
                    for e in entries
                    for row in rows_of(e, language)
                ),
            )
            for heading, entries in grouped
        ),
        filename=f"demeu-report-{report.period.code}-{report.region or 'KZ'}-{language}",
    )


def cell_value(value: str) -> int | str:
    """Counts as numbers (a spreadsheet adds them up); shares, averages and the mark as written."""
    return int(value) if value.isdigit() else value


def xlsx(document: Document) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None, "a new workbook has a sheet"
    sheet.title = "Demeu"
    sheet.append([document.title])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append([document.subtitle])
    sheet.append([document.note])
    sheet["A3"].alignment = Alignment(wrap_text=True, vertical="top")
    sheet.merge_cells("A3:C3")
    sheet.row_dimensions[3].height = 60
    sheet.append([])
    sheet.append(list(document.headers))
    for cell in sheet[5]:
        cell.font = Font(bold=True)
    for heading, rows in document.sections:
        sheet.append([heading])
        sheet.cell(row=sheet.max_row, column=1).font = Font(bold=True)
        for row in rows:
            sheet.append([row.label, cell_value(row.value), row.key])
            sheet.cell(row=sheet.max_row, column=2).alignment = Alignment(horizontal="right")
    sheet.column_dimensions["A"].width = 60
    sheet.column_dimensions["B"].width = 14
    sheet.column_dimensions["C"].width = 32
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def pdf(document: Document) -> bytes:
    from fpdf import FPDF

    page = FPDF(format="A4")
    page.set_creator("Demeu")
    page.set_title(document.title)
    page.add_font("DejaVu", "", str(font_dir() / "DejaVuSans.ttf"))
    page.add_font("DejaVu", "B", str(font_dir() / "DejaVuSans-Bold.ttf"))
    page.set_auto_page_break(auto=True, margin=15)
    page.add_page()
    width = page.epw
    page.set_font("DejaVu", "B", 14)
    page.multi_cell(width, 8, document.title, new_x="LMARGIN", new_y="NEXT")
    page.set_font("DejaVu", "", 9)
    page.multi_cell(width, 5, document.subtitle, new_x="LMARGIN", new_y="NEXT")
    page.multi_cell(width, 5, document.note, new_x="LMARGIN", new_y="NEXT")
    for heading, rows in document.sections:
        page.ln(3)
        page.set_font("DejaVu", "B", 11)
        page.cell(width, 7, heading, new_x="LMARGIN", new_y="NEXT")
        page.set_font("DejaVu", "", 10)
        for row in rows:
            size = 10.0
            while page.get_string_width(row.label) > width - 32 and size > 6:  # a long label, smaller
                size -= 0.5
                page.set_font("DejaVu", "", size)
            page.cell(width - 30, 6, row.label, border="B")
            page.set_font("DejaVu", "", 10)
            page.cell(30, 6, row.value, border="B", align="R", new_x="LMARGIN", new_y="NEXT")
    return bytes(page.output())


def render(document: Document, kind: str) -> bytes:
    return xlsx(document) if kind == "xlsx" else pdf(document)
