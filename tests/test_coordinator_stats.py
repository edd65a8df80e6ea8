"""Coordinators' statistics through the fake Bot API, and the attacks on them.

Consultations (formats, days, attendance, no-shows, cancellations, rating) and self-check bands
(decrypted in Python, counted only) for fixed periods and regions, in Kazakh and Russian; a chart
and the CSV with the same values; a forged button from a teacher refused. And every differencing
attack we know of, each shown to get nothing: two hidden cells and their total, periods that
overlap (none do), the country minus one region, a month's quarter minus its other months, and a
count moving by one right after a teacher acts (published figures never move).
"""

from __future__ import annotations

import csv
import io
import random
import re
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from sqlalchemy import delete, func, select, update

from bot.content.instruments import load_instruments
from bot.content.regions import regions
from bot.services import anonymity, periods, statistics
from bot.services.anonymity import HIDDEN, Equations, Group, protect
from bot.telegram.callbacks import Stat
from bot.telegram.i18n import compile_translations
from bot.views import statistics as view
from bot.views.stats_chart import Labels, has_bars, render_stats_chart
from storage.models import Booking, PsychologistProfile, SelfCheckResult, Slot, StatRelease, User
from storage.models.base import utcnow
from storage.repo import groups, stats, users
from tests.conftest import STATS_CEILING, stored_bytes
from tests.test_selfcheck_e2e import CASES, answer, open_instrument

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


async def make_psychologist(
    session, telegram_id: int, name: str, region: str = REGION
) -> PsychologistProfile:
    user = await make_user(session, telegram_id, region, "psychologist")
    profile = PsychologistProfile(
        user_id=user.id,
        display_name=name,
        languages="kk,ru",
        formats="video,chat",
        regions=region,
        published=True,
        demo=False,
    )
    profile.user = user
    session.add(profile)
    await session.flush()
    return profile


async def book(
    session,
    profile,
    teacher,
    hours_from_now: float,
    fmt: str,
    state: str,
    rating: int | None = None,
    *,
    start: datetime | None = None,
) -> Booking:
    """A booking `hours_from_now` after now, or after `start`."""
    slot = Slot(
        psychologist_id=profile.id,
        starts_at=(start or utcnow()) + timedelta(hours=hours_from_now),
        duration_min=60,
        format=fmt,
        removed=False,
    )
    session.add(slot)
    await session.flush()
    holds = state in ("booked", "confirmed", "attended", "no_show")
    booking = Booking(
        slot_id=slot.id,
        teacher_id=teacher.id,
        state=state,
        holds=holds,
        rating=rating,
        cancelled_by="teacher" if state == "cancelled" else None,
        late_cancel=False,
    )
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


def names(bot, lang: str, *shown: periods.Period) -> list[str]:
    with bot.app.i18n.context(), bot.app.i18n.use_locale(lang):
        return [view.period_name(period, lang) for period in shown]


def published_month(bot) -> periods.Period:
    return periods.latest_month(utcnow(), bot.settings.tz)


async def seed(bot, other_consultations: int = 5, other_phq9: int = 0) -> list[int]:
    """In the latest published month, KZ-61: 18 consultations on days 8-10 (9 attended, 5 of them
    rated 5, 3 no-shows, 6 cancelled; 12 video, 6 chat) and 2 moved (not counted); PHQ-9 x7
    (5 minimal, 2 mild), GAD-7 x6 (all minimal). KZ-75: `other_consultations` attended video
    consultations, `other_phq9` mild PHQ-9 results. The ids of KZ-61's teachers."""
    start = published_month(bot).since(bot.settings.tz) + timedelta(days=7)
    async with bot.app.sessions() as session:
        teachers = [await make_user(session, 700_000 + n, REGION) for n in range(12)]
        others = [
            await make_user(session, 701_000 + n, OTHER) for n in range(max(other_consultations, other_phq9))
        ]
        profile = await make_psychologist(session, 720_000, "Айгүл П.")
        plan = (
            [("video", "attended", 5)] * 5
            + [("video", "attended", None)] * 4
            + [("video", "no_show", None)] * 3
            + [("chat", "cancelled", None)] * 6
            + [("chat", "moved", None)] * 2
        )
        for n, (fmt, state, rating) in enumerate(plan):
            await book(session, profile, teachers[n % len(teachers)], 3 * n, fmt, state, rating, start=start)
        for n in range(other_consultations):
            await book(session, profile, others[n], 3 * (len(plan) + n), "video", "attended", start=start)
        gad7 = [item.key for item in load_instruments()["gad7"].items]
        for n in range(7):
            session.add(
                SelfCheckResult(
                    user_id=teachers[n].id, instrument="phq9", data=phq9(6 if n < 2 else 1), created_at=start
                )
            )
        for n in range(6):
            session.add(
                SelfCheckResult(
                    user_id=teachers[n].id,
                    instrument="gad7",
                    data=scored("gad7", dict.fromkeys(gad7, 0)),
                    created_at=start,
                )
            )
        for n in range(other_phq9):
            session.add(
                SelfCheckResult(user_id=others[n].id, instrument="phq9", data=phq9(6), created_at=start)
            )
        await session.commit()
        return [teacher.id for teacher in teachers]


async def coordinator_of(fake_api, bot, lang: str, region: str | None = REGION):
    coordinator = fake_api.user(user_id=COORDINATOR, language_code=lang)
    await agree(coordinator, lang)
    async with bot.app.sessions() as session:
        user = await users.by_telegram_id(session, COORDINATOR)
        user.role, user.region = "coordinator", region
        await session.commit()
    await coordinator.send_text("/menu")
    await coordinator.press(TRANSLATIONS[lang].gettext("menu-coord"))
    return coordinator


def band_line(t, lang: str, instrument: str, values: dict[str, str]) -> str:
    scale = load_instruments()[instrument].scales[0]
    parts = "; ".join(
        t("co-stat-sc-band").format(band=band.label(lang), value=values[band.key]) for band in scale.bands
    )
    return t("co-stat-sc-bands").format(scale=load_instruments()[instrument].abbreviation, bands=parts)


def csv_values(document) -> dict[str, str]:
    return dict(csv.reader(io.StringIO(document.file.data.decode("utf-8-sig"))))


async def csv_by_metric(bot, document, lang: str, region: str | None) -> dict[str, str]:
    """The CSV's values by metric (the file names each in the coordinator's language)."""
    async with bot.app.sessions() as session:
        settings = bot.settings
        report = await statistics.build(
            session, published_month(bot), region, settings.broadcast.min_cell, settings.tz, utcnow()
        )
    with bot.app.i18n.context(), bot.app.i18n.use_locale(lang):
        metrics = {name: key for key, name, _value in view.csv_rows(report, lang)}
    values = csv_values(document)
    assert len(metrics) == len(values) - 3, "one name a metric, after the header, period and region"
    return {metrics[name]: value for name, value in values.items() if name in metrics}


def small(value: str) -> bool:
    return value.isdigit() and 0 < int(value) < 5


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_statistics_message_chart_and_csv(fake_api, start_bot, lang):
    t = TRANSLATIONS[lang].gettext
    bot = await start_bot()
    await seed(bot)
    coordinator = await coordinator_of(fake_api, bot, lang)
    await coordinator.press(t("co-stats"), timeout=STATS_CEILING)
    text = coordinator.last_text
    month = published_month(bot)
    assert names(bot, lang, month)[0] in text.splitlines()[0]
    assert t("co-stat-bk-total").format(value="18") in text
    assert t("co-stat-bk-format").format(format=t("bk-format-video"), value="12") in text
    assert t("co-stat-bk-format").format(format=t("bk-format-chat"), value="6") in text
    assert t("co-stat-bk-attended").format(value="9") in text
    # 3 no-shows is a small cell; the cancellations would give it away from the total: hidden too,
    # with the same mark, so that which one is small is not told either.
    assert t("co-stat-bk-no-show").format(value=HIDDEN) in text
    assert t("co-stat-bk-cancelled").format(value=HIDDEN) in text
    assert t("co-stat-bk-rating").format(value="5,0") in text
    assert t("co-stat-sc-total").format(value="13") in text
    assert len(text) <= view.SCREEN, "the summary fits one phone screen"
    summary = text

    # The details, a step each, each on one screen (bot/views/statistics.py cuts any longer).
    await coordinator.press(t("co-stats-more-bk"), timeout=STATS_CEILING)
    text = coordinator.last_text
    assert t("co-stat-bk-no-show-rate").format(value=HIDDEN) in text, "a rate would reveal the hidden count"
    assert t("co-stat-bk-part").format(part="8–14", value="18") in text and len(text) <= view.SCREEN
    await coordinator.press(t("co-stats-more-sc"), timeout=STATS_CEILING)
    text = coordinator.last_text
    assert len(text) <= view.SCREEN
    assert t("co-stat-sc-taken").format(name="PHQ-9", value="7") in text
    # 2 mild is small, the 5 minimal would reveal it from the 7: both hidden.
    assert (
        band_line(
            t,
            lang,
            "phq9",
            {"minimal": HIDDEN, "mild": HIDDEN, "moderate": "0", "moderately_severe": "0", "severe": "0"},
        )
        in text
    )
    # All six GAD-7 results minimal: a teacher known to have taken it would be placed, so the band
    # is hidden with another one.
    assert (
        band_line(t, lang, "gad7", {"minimal": HIDDEN, "mild": HIDDEN, "moderate": "0", "severe": "0"})
        in text
    )
    await coordinator.press(t("nav-back"))
    assert coordinator.last_text == summary

    # Only fixed, closed periods: the latest months, quarters and year, this one marked.
    offered = periods.offered(utcnow(), bot.settings.tz)
    buttons = coordinator.last.buttons
    assert "✓ " + names(bot, lang, month)[0] in buttons
    assert all(name in " ".join(buttons) for name in names(bot, lang, *offered))

    # The chart: a PNG photo with Back to the statistics.
    await coordinator.press(t("co-stats-chart"), timeout=STATS_CEILING)
    photo = coordinator.last
    assert photo.kind == "photo" and photo.file.data.startswith(PNG)
    actions = [c.params["action"] for c in fake_api.calls if c.method == "sendChatAction"]
    assert actions == ["upload_photo"], "the coordinator sees it being prepared"
    assert t("co-chart-caption").split("{")[0].strip() in photo.caption
    await coordinator.press(t("nav-back"))
    assert t("co-stat-bk-total").format(value="18") in coordinator.last_text

    # The CSV of the same numbers, then another period.
    await coordinator.press(t("co-stats-csv"), timeout=STATS_CEILING)
    shown = csv_values(coordinator.documents[-1])
    assert shown[t("co-csv-metric")] == t("co-csv-value"), "headers in the coordinator's language"
    assert shown[t("co-csv-period")] == names(bot, lang, month)[0]
    assert not any(re.fullmatch(r"[a-z]+(-[a-z0-9]+)+", cell) for row in shown.items() for cell in row)
    data = await csv_by_metric(bot, coordinator.documents[-1], lang, REGION)
    assert data["bk-no-show"] == HIDDEN and data["bk-cancelled"] == HIDDEN and data["bk-attended"] == "9"
    assert data["sc-phq9-total-mild"] == HIDDEN and data["sc-phq9-total-minimal"] == HIDDEN
    assert not any(small(value) for value in data.values()), "no small count anywhere in the file"
    await coordinator.press(t("nav-back"))
    await coordinator.press(names(bot, lang, offered[-1])[0])
    assert "✓ " + names(bot, lang, offered[-1])[0] in coordinator.last.buttons

    # A regional coordinator forging another region still sees their own; a forged open period
    # (this month) gets the latest published one.
    now = utcnow().astimezone(bot.settings.tz)
    await coordinator.press_data(Stat(a="show", p=periods.month_of(now.year, now.month).code, r=OTHER).pack())
    assert t("co-stat-bk-total").format(value="18") in coordinator.last_text
    assert "✓ " + names(bot, lang, month)[0] in coordinator.last.buttons


async def test_a_teacher_acting_moves_no_published_figure(fake_api, start_bot):
    """The coordinator looks; a teacher completes a self-check, a consultation of the published
    month is recorded late and another one rated, a teacher moves region, one deletes a result;
    the coordinator looks again and every screen (message, CSV, chart) is the same. Recounting
    now would differ."""
    t = TRANSLATIONS["ru"].gettext
    bot = await start_bot()
    teacher_ids = await seed(bot)
    coordinator = await coordinator_of(fake_api, bot, "ru")
    screens = []

    async def look() -> None:
        await coordinator.send_text("/menu")
        await coordinator.press(t("menu-coord"))
        await coordinator.press(t("co-stats"), timeout=STATS_CEILING)
        text = coordinator.last_text
        await coordinator.press(t("co-stats-chart"), timeout=STATS_CEILING)
        chart = coordinator.last.file.data
        await coordinator.press(t("nav-back"))
        await coordinator.press(t("co-stats-csv"), timeout=STATS_CEILING)
        screens.append((text, chart, coordinator.documents[-1].file.data))

    await look()
    teacher = fake_api.user(user_id=TEACHER, language_code="ru")
    await agree(teacher, "ru")
    async with bot.app.sessions() as session:
        (await users.by_telegram_id(session, TEACHER)).region = REGION
        await session.commit()
    await open_instrument(teacher, "who5", "ru")
    await teacher.press("Начать")
    await answer(teacher, "who5", CASES["who5"][0], "ru")
    month = published_month(bot)
    tz = bot.settings.tz
    async with bot.app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(SelfCheckResult)) == 14
        attended = await session.scalars(select(Booking).where(Booking.state == "attended"))
        unrated = next(booking for booking in attended if booking.rating is None)  # sealed: told apart here
        unrated.rating = 1
        await session.execute(update(User).where(User.id == teacher_ids[0]).values(region=OTHER))
        await session.execute(
            delete(SelfCheckResult).where(
                SelfCheckResult.user_id == teacher_ids[1], SelfCheckResult.instrument == "phq9"
            )
        )
        profile = await session.scalar(select(PsychologistProfile))
        late = await session.get(User, teacher_ids[2])
        await book(session, profile, late, 0, "video", "attended", start=month.since(tz) + timedelta(days=20))
        await session.commit()
        stored = (await stats.releases(session, [month.code]))[month.code]["raw"]
        recount = await statistics.count_month(session, month, tz)
    assert recount[REGION] != stored[REGION], "the changes do reach this month's counts"
    await look()
    assert screens[0] == screens[1]
    now = utcnow().astimezone(tz)
    assert names(bot, "ru", periods.month_of(now.year, now.month))[0] not in " ".join(
        coordinator.last.buttons
    )


async def test_the_country_minus_a_region_gives_nothing_away(fake_api, start_bot):
    """KZ-75 has 2 consultations and 1 PHQ-9: every screen of an admin (the country, each region),
    put together and solved, gives no small count; and a teacher is refused the buttons."""
    t = TRANSLATIONS["kk"].gettext
    bot = await start_bot(bot={"admins": [ADMIN]})
    await seed(bot, other_consultations=2, other_phq9=1)
    admin = fake_api.user(user_id=ADMIN, language_code="kk")
    await agree(admin, "kk")
    await admin.send_text("/menu")
    await admin.press(t("menu-coord"))
    screens = {}
    for region in (None, REGION, OTHER):
        await admin.press_data(Stat(a="csv", r=region or "").pack())
        screens[region] = await csv_by_metric(bot, admin.documents[-1], "kk", region)
    assert screens[OTHER]["bk-total"] == HIDDEN and screens[OTHER]["sc-phq9"] == HIDDEN
    derived = solve(screens, published_month(bot), [(None, [REGION, OTHER])])
    assert not any(0 < value < 5 for value in derived.values()), derived
    await admin.press_data(Stat(a="more", r=OTHER, s="sc").pack())
    text = admin.last_text
    assert "Алматы" in text and t("co-stat-sc-bands").split("{")[0] + "PHQ-9" not in text, (
        "a hidden count is not split"
    )

    teacher = fake_api.user(user_id=TEACHER, language_code="kk")
    await agree(teacher, "kk")
    for action in ("show", "chart", "csv"):
        await teacher.press_data(Stat(a=action).pack())
    assert teacher.alerts.count(t("role-refused")) == 3
    assert not any(m.kind in ("photo", "document") for m in teacher.messages)


def solve(
    screens: dict, month: periods.Period, sums: list[tuple[object, list[object]]]
) -> dict[tuple[object, str], int]:
    """What an attacker works out from the shown values: every total equals its parts, for each
    breakdown on a screen and for each (total screen, part screens) in `sums`; a hidden value
    follows once it is the only unknown. (Everyone seeded has a region, so the regions add up
    to the country exactly.)"""
    known = {
        (screen, key): int(value)
        for screen, values in screens.items()
        for key, value in values.items()
        if value.isdigit()
    }
    relations = []
    for screen in screens:
        for group in statistics.breakdowns(month):
            if "bk-ontime" not in group.parts:  # on-time cancellations are on no screen
                relations.append(((screen, group.total), [(screen, p) for p in group.parts]))
    for total, parts in sums:
        for key in screens[total]:
            relations.append(((total, key), [(part, key) for part in parts]))
    derived = {}
    while True:
        found = False
        for total, parts in relations:
            unknown = [c for c in (total, *parts) if c not in known]
            if len(unknown) == 1:
                cell = unknown[0]
                rest = sum(known[p] for p in parts if p in known)
                value = rest if cell == total else known[total] - rest
                known[cell] = derived[cell] = value
                found = True
        if not found:
            return derived


def test_offered_periods_never_overlap_partially_and_are_closed():
    tz = periods.ZoneInfo("Asia/Almaty")
    start = datetime(2025, 12, 20, tzinfo=UTC)
    for day in range(3 * 366):
        for hour in (0, 19, 23):
            now = start + timedelta(days=day, hours=hour)
            offered = periods.offered(now, tz)
            assert len(offered) == len(set(offered)) == sum(periods.OFFERED.values())
            for a in offered:
                assert a.until(tz) + periods.SETTLE <= now, (now, a)
                assert len(Stat(a="chart", p=a.code, r="KZ-10").pack().encode()) <= 64
                for b in offered:
                    assert not a.overlaps(b) or a.contains(b) or b.contains(a), (now, a, b)
            assert offered[0] == periods.latest_month(now, tz)
            assert [p.code for p in periods.to_publish(now, tz)][-1] == offered[0].code


def test_two_hidden_cells_and_their_total_give_nothing():
    """10, 6, 2, 1, 0 of 18: hiding only the 2 and the 1 would leave 18 - 16 = 3 for both, so the
    6 is hidden too and the hidden ones add up to 9."""
    cells = {"a": 10, "b": 6, "c": 2, "d": 1, "e": 0, "total": 18}
    group = Group("total", ("a", "b", "c", "d", "e"))
    hidden = protect(cells, [group], 5, new=cells)
    assert hidden == {"b", "c", "d"}
    assert protect({"a": 3, "b": 40, "c": 12, "t": 55}, [Group("t", ("a", "b", "c"))], 5, new="abct") == {
        "a",
        "c",
    }
    assert protect({"a": 0, "b": 40, "t": 40}, [Group("t", ("a", "b"))], 5, new="abt") == set()
    # A hidden total is not the plain sum of its shown parts.
    assert protect({"a": 3, "b": 0, "t": 3}, [Group("t", ("a", "b"))], 5, new="abt") == {"a", "t"}


def test_a_quarter_minus_its_months_gives_nothing():
    """October and November are published (fixed); December comes with the quarter: the new cells
    protect the old hidden one (November's 2), whichever way the sums are solved."""
    values = {"oct": 8, "nov": 2, "dec": 9, "q4": 19}
    hidden = protect(values, [Group("q4", ("oct", "nov", "dec"))], 5, new={"dec", "q4"}, hidden={"nov"})
    assert "nov" in hidden and hidden & {"dec", "q4"}
    assert "nov" not in Equations([Group("q4", ("oct", "nov", "dec"))], hidden).determined()


def test_random_tables_keep_every_rule():
    """Two crossed breakdowns (regions x bands) with the country and the totals: every group keeps
    its hidden cells at 0 or at least the minimum, no hidden total is the sum of shown parts, and
    no small count follows from all the equations together (checked with exact rationals)."""
    rng = random.Random(7)
    for _trial in range(150):
        rows, columns = rng.randint(2, 5), rng.randint(2, 4)
        values = {
            (r, c): rng.choice([0, 0, 1, 2, 3, 4, 5, 7, 12]) for r in range(rows) for c in range(columns)
        }
        for r in range(rows):
            values[(r, "all")] = sum(values[(r, c)] for c in range(columns))
        for c in [*range(columns), "all"]:
            values[("country", c)] = sum(values[(r, c)] for r in range(rows))
        sums = [
            Group((r, "all"), tuple((r, c) for c in range(columns)), breakdown=True)
            for r in [*range(rows), "country"]
        ]
        sums += [Group(("country", c), tuple((r, c) for r in range(rows))) for c in [*range(columns), "all"]]
        hidden = protect(values, sums, 5, new=values)
        for group in sums:
            if group.total not in hidden:
                assert sum(values[p] for p in group.parts if p in hidden) in (0, *range(5, 10_000))
            elif values[group.total]:
                assert any(p in hidden for p in group.parts)
        determined = exactly_determined(hidden, sums)
        assert not [c for c in determined if 0 < values[c] < 5]


def exactly_determined(hidden: set, sums: list[Group]) -> set:
    """The reference: over the rationals, a cell is determined when adding its unit row to the
    equations does not raise their rank."""
    cells = sorted(hidden, key=repr)
    matrix = [[Fraction(sum(p == c for p in g.parts) - (g.total == c)) for c in cells] for g in sums]
    base = rank(matrix)
    return {
        cell
        for j, cell in enumerate(cells)
        if rank([*matrix, [Fraction(k == j) for k in range(len(cells))]]) == base
    }


def rank(matrix: list[list[Fraction]]) -> int:
    rows = [list(row) for row in matrix if any(row)]
    found = 0
    for column in range(len(rows[0]) if rows else 0):
        pivot = next((r for r in range(found, len(rows)) if rows[r][column]), None)
        if pivot is None:
            continue
        rows[found], rows[pivot] = rows[pivot], rows[found]
        for r in range(len(rows)):
            if r != found and rows[r][column]:
                factor = rows[r][column] / rows[found][column]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[found], strict=True)]
        found += 1
    return found


def test_elimination_modulo_the_prime_agrees_with_the_rationals():
    rng = random.Random(3)
    for _trial in range(150):
        cells = [f"c{n}" for n in range(rng.randint(3, 18))]
        sums = []
        for _ in range(rng.randint(1, 12)):
            members = rng.sample(cells, rng.randint(2, min(6, len(cells))))
            sums.append(Group(members[0], tuple(members[1:])))
        hidden = set(rng.sample(cells, rng.randint(1, len(cells))))
        equations = Equations(sums, hidden)
        assert set(equations.determined()) == exactly_determined(hidden, sums)
        for cell in rng.sample(cells, rng.randint(0, len(cells))):  # hidden one by one, as protect does
            hidden.add(cell)
            equations.hide(cell)
            assert set(equations.determined()) == exactly_determined(hidden, sums)
        for cell, proof in equations.determined().items():  # each proof adds up to its cell alone
            total = {}
            for group, weight in proof.items():
                for member, sign in ((group.total, -1), *((p, 1) for p in group.parts)):
                    if member in hidden:
                        total[member] = (total.get(member, 0) + sign * weight) % anonymity.PRIME
            assert {k: v for k, v in total.items() if v} == {cell: 1}


async def test_aggregates_and_publication_on_both_databases(start_bot, fake_api, database_url):
    """The queries behind the report, on SQLite and PostgreSQL: by region, moved bookings not
    counted, bands counted from the decrypted results; published once (a second publisher finds
    it done), encrypted at rest."""
    bot = await start_bot(database_url)
    await seed(bot, other_consultations=2, other_phq9=1)
    month, tz = published_month(bot), bot.settings.tz
    since, until = month.since(tz), month.until(tz)
    async with bot.app.sessions() as session:
        data = await stats.bookings(session, since, until, tz)
        assert data[REGION].total == 18 and data[REGION].by_format == {"video": 12, "chat": 6}
        assert stats.attendance(data[REGION]) == (9, 12) and data[REGION].ratings == 5
        assert data[OTHER].total == 2 and sum(data[REGION].by_day.values()) == 18
        assert {d.day for d in data[REGION].by_day} <= set(range(8, 15))
        checks = await stats.selfchecks(session, since, until, REGION, statistics.bands)
        assert checks.taken == {"phq9": 7, "gad7": 6}
        assert (
            checks.bands[("phq9", "total", "mild")] == 2 and checks.bands[("phq9", "total", "minimal")] == 5
        )
        assert await stats.selfcheck_regions(session, since, until) == [REGION, OTHER]
        assert (await stats.active(session, since, until)) == {REGION: 12, OTHER: 2}
        counts = await statistics.count_month(session, month, tz)
        assert counts[""]["bk-total"] == 20 and counts[statistics.NO_REGION]["bk-total"] == 0
        assert counts[OTHER]["sc-phq9-total-mild"] == 1 and set(counts) == {
            "",
            statistics.NO_REGION,
            *regions(),
        }
        assert (await groups.statistics(session, since, until)) == {}

        await statistics.publish_due(session, utcnow(), tz, 5)
        await session.commit()
        codes = {p.code for m in periods.to_publish(utcnow(), tz) for p in m.closing}
        assert set(await session.scalars(select(StatRelease.period))) == codes
        first = (await stats.releases(session, [month.code]))[month.code]
        assert first["raw"][OTHER]["bk-total"] == 2 and "bk-total" in first["hidden"][OTHER]
        again = await stats.publish(session, month.code, {"raw": {}, "hidden": {}}, utcnow())
        assert again == first, "what is published stays"
        await session.commit()
    await bot.stop()
    raw = await stored_bytes(database_url)
    assert b"stat_releases" in raw and b"sc-phq9-total-mild" not in raw, "published counts are encrypted"


def test_chart_draws_only_suppressed_numbers():
    labels = Labels(
        title="Demeu: Қазан 2026, Түркістан облысы",
        bars="Ай күндері",
        bands="Нәтижелер",
        hidden=HIDDEN,
        empty="—",
    )
    png = render_stats_chart(
        labels,
        [("1–7", 12), ("8–14", None), ("15–21", 0), ("22–28", 7), ("29–31", 0)],
        [("PHQ-9", 7, [("Ең аз", None), ("Жеңіл", None), ("Орташа", 0)]), ("GAD-7", 6, [("Ең аз", 6)])],
    )
    assert png.startswith(PNG)
    assert render_stats_chart(labels, [], []).startswith(PNG), "an empty period still draws"
    # A panel with nothing to draw is left out ("no data" is drawn once, only when all are empty).
    assert not has_bars([("1–7", 0), ("8–14", 0)]) and has_bars([("1–7", 0), ("8–14", None)])
    assert render_stats_chart(labels, [("1–7", 0)], [("GAD-7", 6, [("Ең аз", 6)])]).startswith(PNG)
