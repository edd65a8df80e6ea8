"""Reports for the ministry end to end, in Kazakh and Russian: from the statistics screen a regional
coordinator gets the shown period and region as XLSX and PDF, made in the background behind a
progress message and sent as unprotected documents. Read back with independent readers (openpyxl,
pypdf), every figure equals the statistics screen's (its CSV and its lines), small cells hidden with
the same mark; a forged press for the country still gets the coordinator's own region."""

import io

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from bot.content.regions import region_name
from bot.services import periods, statistics
from bot.services.anonymity import HIDDEN
from bot.telegram.callbacks import Report
from bot.views import reports
from bot.views import statistics as view
from storage.models.base import utcnow
from tests.conftest import STATS_CEILING
from tests.test_coordinator_stats import (
    REGION,
    TRANSLATIONS,
    coordinator_of,
    csv_by_metric,
    names,
    published_month,
    seed,
    small,
)

XLSX = b"PK"  # a zip
PDF = b"%PDF"


def workbook_rows(data: bytes) -> list[tuple]:
    sheet = load_workbook(io.BytesIO(data)).active
    return list(sheet.iter_rows(values_only=True))


def figures(rows: list[tuple]) -> dict[str, str]:
    """The figure rows (label, value, key) under the header, by key, values as the CSV writes them."""
    return {
        key: str(value)
        for _label, value, key in rows
        if key and value is not None and rows.index((_label, value, key)) > 4
    }


async def reports_read_back(coordinator, t, shown: dict[str, str], expected: dict[str, str]) -> None:
    """From the statistics screen: the XLSX holds every figure of its CSV (`shown`) with the same
    value, and the PDF has each `expected` figure as its label and value on one line."""
    await coordinator.press(t("rep-open"))
    await coordinator.press(t("rep-make-xlsx"), timeout=STATS_CEILING)
    rows = workbook_rows(coordinator.documents[-1].file.data)
    assert figures(rows) == shown, "the XLSX: every figure of the CSV, the same value"
    await coordinator.press(t("nav-back"))
    await coordinator.press(t("rep-make-pdf"), timeout=STATS_CEILING)
    pdf = PdfReader(io.BytesIO(coordinator.documents[-1].file.data))
    lines = {" ".join(line.split()) for page in pdf.pages for line in page.extract_text().splitlines()}
    for label, value, key in rows[5:]:
        if key in expected:
            assert f"{label} {value}" in lines, (key, label, value)


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_reports_read_back_equal_the_statistics_screen(fake_api, start_bot, lang):
    t = TRANSLATIONS[lang].gettext
    bot = await start_bot()
    await seed(bot)
    coordinator = await coordinator_of(fake_api, bot, lang)
    await coordinator.press(t("co-stats"), timeout=STATS_CEILING)
    screen = coordinator.last_text
    await coordinator.press(t("co-stats-csv"), timeout=STATS_CEILING)
    shown = await csv_by_metric(bot, coordinator.documents[-1], lang, REGION)
    await coordinator.press(t("nav-back"))

    await coordinator.press(t("rep-open"))
    month = published_month(bot)
    assert names(bot, lang, month)[0] in coordinator.last_text
    await coordinator.press(t("rep-make-xlsx"), timeout=STATS_CEILING)
    progress = coordinator.messages[-2]
    assert progress.text == t("rep-done")  # the progress message, edited when the report is sent
    document = coordinator.documents[-1]
    assert document.filename.endswith(".xlsx") and document.file.data.startswith(XLSX)
    assert not document.protected, "made to be saved and passed on, like the CSV"
    rows = workbook_rows(document.file.data)
    title = rows[0][0]
    assert names(bot, lang, month)[0] in title and region_name(REGION, lang) in title
    values = figures(rows)
    assert values == shown, "every figure of the statistics screen's CSV, the same value"
    assert values["bk-no-show"] == HIDDEN and values["bk-attended"] == "9" and values["bk-total"] == "18"
    assert not any(small(value) for value in values.values()), "no small count anywhere in the report"
    assert t("co-stat-bk-total").format(value=values["bk-total"]) in screen
    assert t("co-stat-bk-no-show").format(value=values["bk-no-show"]) in screen

    # The PDF: the same rows, label and value on one line each.
    await coordinator.press(t("nav-back"))
    await coordinator.press(t("rep-make-pdf"), timeout=STATS_CEILING)
    document = coordinator.documents[-1]
    assert (
        document.filename.endswith(".pdf") and document.file.data.startswith(PDF) and not document.protected
    )
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(document.file.data)).pages)
    lines = {" ".join(line.split()) for line in text.splitlines()}
    assert title in " ".join(text.split())  # the title wraps
    for label, value, key in rows[5:]:
        if key and value is not None:
            assert f"{label} {value}" in lines, (key, label, value)

    # A regional coordinator asking for the country (a forged press) gets their own region.
    await coordinator.press_data(Report(a="make", p=month.code, r="", f="xlsx").pack(), timeout=STATS_CEILING)
    rows = workbook_rows(coordinator.documents[-1].file.data)
    assert region_name(REGION, lang) in rows[0][0] and figures(rows) == shown


async def test_every_offered_period_for_the_region_and_the_country_on_both_databases(
    start_bot, fake_api, database_url
):
    """Monthly, quarterly and yearly reports, per region and for the country, in both languages,
    read back: the XLSX holds exactly the statistics report's figures (what the screen, chart and CSV
    show), the PDF a line for each, with the country named as on the screen."""
    bot = await start_bot(database_url)
    await seed(bot, other_consultations=6, other_phq9=1)
    tz, now = bot.settings.tz, utcnow()
    offered = periods.offered(now, tz)
    month, quarter, year = (next(p for p in offered if p.kind == kind) for kind in "mqy")
    async with bot.app.sessions() as session:
        for period, region in ((month, REGION), (month, None), (quarter, None), (year, REGION)):
            report = await statistics.build(session, period, region, 5, tz, now)
            for lang in ("kk", "ru"):
                with bot.app.i18n.context(), bot.app.i18n.use_locale(lang):
                    document = reports.sections(report, lang, 5, now.date())
                    area = view.area_name(region, lang)
                    shown = {key: value for key, _name, value in view.csv_rows(report, lang)}
                rows = workbook_rows(reports.xlsx(document))
                assert rows[0][0] == document.title and area in document.title
                assert figures(rows) == shown, (period.code, region, lang)
            if (period, region) == (month, None):
                country, country_document = shown, document
        await session.commit()
    assert country["bk-total"] == "24" and not any(small(value) for value in country.values())
    text = " ".join(PdfReader(io.BytesIO(reports.pdf(country_document))).pages[0].extract_text().split())
    assert country_document.title in text and "24" in text
