"""Coordinators' statistics through the fake Bot API: consultations (formats, weeks, attendance,
no-shows, cancellations, rating), self-check bands per instrument (decrypted in Python, counted
only), per period and region, small cells hidden also where a total would give them away; a chart
image and the CSV; a forged button from a teacher refused. In Kazakh and Russian."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot import statistics
from bot.callbacks import Coord
from bot.i18n import compile_translations
from bot.instruments import load_instruments
from bot.stats_chart import Labels, render_stats_chart
from storage.models import Booking, PsychologistProfile, SelfCheckResult, Slot
from storage.models.base import utcnow
from storage.repo import stats, users

TRANSLATIONS = compile_translations()
LANG_BUTTON = {"kk": "Қазақша", "ru": "Русский"}
AGREE = {"kk": "Келісемін", "ru": "Согласен"}
PNG = b"\x89PNG"
COORDINATOR, ADMIN, TEACHER = 7100, 7101, 7102
REGION, OTHER = "KZ-61", "KZ-75"


async def agree(user, lang: str) -> None:
    await user.send_text("/start")
    await user.press(LANG_BUTTON[lang])
    await user.press(AGREE[lang])


async def make_user(session, telegram_id: int, region: str, role: str = "teacher", language: str = "ru"):
    user = await users.create(session, telegram_id, language)
    user.consent_at, user.region, user.role = utcnow(), region, role
    return user


async def make_psychologist(session, telegram_id: int, name: str, region: str = REGION) -> PsychologistProfile:
    user = await make_user(session, telegram_id, region, "psychologist")
    profile = PsychologistProfile(user_id=user.id, display_name=name, languages="kk,ru", formats="video,chat",
                                  regions=region, published=True, demo=False)
    profile.user = user
    session.add(profile)
    await session.flush()
    return profile


async def book(session, profile, teacher, hours_from_now: float, fmt: str, state: str, rating: int | None = None) -> Booking:
    slot = Slot(psychologist_id=profile.id, starts_at=utcnow() + timedelta(hours=hours_from_now), duration_min=60,
                format=fmt, removed=False)
    session.add(slot)
    await session.flush()
    holds = state in ("booked", "confirmed", "attended", "no_show")
    booking = Booking(slot_id=slot.id, teacher_id=teacher.id, state=state, holds=holds, rating=rating,
                      cancelled_by="teacher" if state == "cancelled" else None, late_cancel=False)
    session.add(booking)
    await session.flush()
    return booking


def scored(instrument: str, answers: dict[str, int]) -> dict:
    result = load_instruments()[instrument].score(answers)
    return {"answers": answers, "result": result.to_dict(), "safety_screen": False}


def phq9(total: int) -> dict:
    items = [item.key for item in load_instruments()["phq9"].items]
    answers = dict.fromkeys(items, 0)
    answers[items[0]], answers[items[1]] = min(total, 3), max(total - 3, 0)
    return scored("phq9", answers)


async def seed(bot) -> None:
    """KZ-61: 18 consultations (9 attended, 3 no-shows, 6 cancelled; 12 video, 6 chat), 2 moved
    (not counted); PHQ-9 x7 (5 minimal, 2 mild), GAD-7 x6 (minimal). KZ-75: 2 consultations."""
    async with bot.app.sessions() as session:
        teachers = [await make_user(session, 700_000 + n, REGION) for n in range(12)]
        others = [await make_user(session, 701_000 + n, OTHER) for n in range(2)]
        profile = await make_psychologist(session, 720_000, "Айгүл П.")
        hour = -24.0
        plan = [("video", "attended", 5)] * 5 + [("video", "attended", None)] * 4 + [("video", "no_show", None)] * 3 \
            + [("chat", "cancelled", None)] * 6 + [("chat", "moved", None)] * 2
        for n, (fmt, state, rating) in enumerate(plan):
            await book(session, profile, teachers[n % len(teachers)], hour, fmt, state, rating)
            hour -= 3
        for teacher in others:
            await book(session, profile, teacher, hour, "video", "attended")
            hour -= 3
        gad7 = [item.key for item in load_instruments()["gad7"].items]
        for n in range(7):
            session.add(SelfCheckResult(user_id=teachers[n].id, instrument="phq9", data=phq9(6 if n < 2 else 1)))
        for n in range(6):
            session.add(SelfCheckResult(user_id=teachers[n].id, instrument="gad7", data=scored("gad7", dict.fromkeys(gad7, 0))))
        session.add(SelfCheckResult(user_id=others[0].id, instrument="phq9", data=phq9(6)))
        await session.commit()


def band_line(t, lang: str, instrument: str, values: dict[str, str]) -> str:
    scale = load_instruments()[instrument].scales[0]
    parts = "; ".join(t("co-stat-sc-band").format(band=band.label(lang), value=values[band.key]) for band in scale.bands)
    return t("co-stat-sc-bands").format(scale=load_instruments()[instrument].abbreviation, bands=parts)


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_statistics_message_chart_and_csv(fake_api, start_bot, lang):
    t = TRANSLATIONS[lang].gettext
    bot = await start_bot()
    await seed(bot)
    coordinator = fake_api.user(user_id=COORDINATOR, language_code=lang)
    await agree(coordinator, lang)
    async with bot.app.sessions() as session:
        user = await users.by_telegram_id(session, COORDINATOR)
        user.role, user.region = "coordinator", REGION
        await session.commit()

    await coordinator.send_text("/menu")
    await coordinator.press(t("menu-coord"))
    await coordinator.press(t("co-stats"))
    text = coordinator.last_text
    assert t("co-stat-bk-total").format(value="18") in text
    assert t("co-stat-bk-format").format(format=t("bk-format-video"), value="12") in text
    assert t("co-stat-bk-format").format(format=t("bk-format-chat"), value="6") in text
    assert t("co-stat-bk-attended").format(value="9") in text
    # 3 no-shows is a small cell; the cancellations would give it away from the total: hidden too.
    assert t("co-stat-bk-no-show").format(value="<5") in text
    assert t("co-stat-bk-cancelled").format(value="*") in text
    assert t("co-stat-bk-no-show").format(value="3") not in text
    assert t("co-stat-bk-no-show-rate").format(value="<5") in text, "a rate would reveal the hidden count"
    assert t("co-stat-bk-rating").format(value="5.0") in text
    assert t("co-stat-sc-total").format(value="13") in text
    assert t("co-stat-sc-taken").format(name="PHQ-9", value="7") in text
    # 2 mild is small, the 5 minimal would reveal it from the 7: both hidden.
    assert band_line(t, lang, "phq9", {"minimal": "*", "mild": "<5", "moderate": "0", "moderately_severe": "0", "severe": "0"}) in text
    assert band_line(t, lang, "gad7", {"minimal": "6", "mild": "0", "moderate": "0", "severe": "0"}) in text
    assert len(text) <= 4096

    # The chart: a PNG photo with Back to the statistics.
    await coordinator.press(t("co-stats-chart"))
    photo = coordinator.last
    assert photo.kind == "photo" and photo.file.data.startswith(PNG)
    assert t("co-chart-caption").split("{")[0].strip() in photo.caption
    await coordinator.press(t("nav-back"))
    assert t("co-stat-bk-total").format(value="18") in coordinator.last_text

    # A longer period, then the CSV of the same numbers.
    await coordinator.press(t("co-stats-days").format(days=90))
    assert "✓ " + t("co-stats-days").format(days=90) in coordinator.last.buttons
    await coordinator.press(t("co-stats-csv"))
    data = coordinator.documents[-1].file.data.decode("utf-8-sig")
    assert "period-days,90" in data and f"region,{REGION}" in data
    assert "bk-no-show,<5" in data and "bk-cancelled,*" in data and "bk-attended,9" in data
    assert "sc-phq9-total-mild,<5" in data and "sc-phq9-total-minimal,*" in data
    assert ",3\r\n" not in data and ",2\r\n" not in data, "no small count anywhere in the file"

    # A regional coordinator forging another region still sees their own.
    await coordinator.press_data(Coord(a="stats", v=statistics.pack(30, OTHER)).pack())
    assert t("co-stat-bk-total").format(value="18") in coordinator.last_text


async def test_admin_chooses_a_region_and_a_teacher_is_refused(fake_api, start_bot):
    t = TRANSLATIONS["kk"].gettext
    bot = await start_bot(bot={"admins": [ADMIN]})
    await seed(bot)
    admin = fake_api.user(user_id=ADMIN, language_code="kk")
    await agree(admin, "kk")
    await admin.send_text("/menu")
    await admin.press(t("menu-coord"))
    await admin.press(t("co-stats"))
    assert t("co-stat-bk-total").format(value="20") in admin.last_text  # every region
    await admin.press(t("co-stats-region"))
    await admin.press("Алматы")
    text = admin.last_text
    assert "Алматы" in text and t("co-stat-bk-total").format(value="<5") in text
    assert t("co-stat-sc-taken").format(name="PHQ-9", value="<5") in text
    assert t("co-stat-sc-bands").split("{")[0] + "PHQ-9" not in text, "a hidden count is not split into bands"

    teacher = fake_api.user(user_id=TEACHER, language_code="kk")
    await agree(teacher, "kk")
    for action in ("stats", "chart", "csv"):
        await teacher.press_data(Coord(a=action, v="30").pack())
    assert teacher.alerts.count(t("role-refused")) == 3
    assert not any(m.kind in ("photo", "document") for m in teacher.messages)


async def test_aggregates_on_both_databases(start_bot, fake_api, database_url):
    """The queries behind the report, on SQLite and PostgreSQL: moved bookings not counted,
    bands counted from the decrypted results, region filter, and no band in the table in plain."""
    bot = await start_bot(database_url)
    await seed(bot)
    async with bot.app.sessions() as session:
        since, until = utcnow() - timedelta(days=30), utcnow()
        data = await stats.bookings(session, since, until, REGION)
        assert data.total == 18 and data.by_format == {"video": 12, "chat": 6}
        assert stats.attendance(data) == (9, 12) and data.ratings == 5
        everywhere = await stats.bookings(session, since, until, None)
        assert everywhere.total == 20 and sum(everywhere.by_week.values()) == 20
        checks = await stats.selfchecks(session, since, until, REGION, statistics.bands)
        assert checks.taken == {"phq9": 7, "gad7": 6}
        assert checks.bands[("phq9", "total", "mild")] == 2 and checks.bands[("phq9", "total", "minimal")] == 5
        assert (await stats.selfchecks(session, since, until, OTHER, statistics.bands)).taken == {"phq9": 1}
        raw = await session.execute(select(func.count()).select_from(SelfCheckResult))
        assert raw.scalar() == 14
        stored = (await session.connection()).exec_driver_sql("SELECT data FROM selfcheck_results")
        assert not any("mild" in str(row[0]) for row in (await stored).all()), "bands are encrypted at rest"


def test_chart_draws_only_suppressed_numbers():
    today = utcnow().date()
    labels = Labels(title="Demeu: 30 күн, Түркістан облысы", weeks="Апта", bands="Нәтижелер", hidden="<5", empty="—")
    png = render_stats_chart(labels, [(today - timedelta(days=7 * n), v) for n, v in enumerate((12, None, 0, 7))],
                             [("PHQ-9", 7, [("Ең аз", None), ("Жеңіл", None), ("Орташа", 0)]), ("GAD-7", 6, [("Ең аз", 6)])])
    assert png.startswith(PNG)
    assert render_stats_chart(labels, [], []).startswith(PNG), "an empty period still draws"
