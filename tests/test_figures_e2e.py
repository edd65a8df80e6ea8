"""The ministry's further figures end to end, in Kazakh and Russian: group sessions by kind, hours
published and booked, how soon a search found its first free time (median, p90) and safety events,
published with the month and suppressed like every count; the statistics screen, its CSV, the XLSX
(openpyxl) and the PDF (pypdf) show the same values for the same period and region. A teacher's
real search and crisis message are counted in the month's sealed tallies, and the capacity view
shows this month's searches, waits and the hours ahead of the coordinator's region."""

import itertools
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.content.regions import region_name
from bot.services import tallies
from bot.services.anonymity import HIDDEN
from bot.telegram.callbacks import Menu
from bot.views import statistics as view
from storage.models import Booking, BookingWait, GroupSeat, GroupSession, PsychologistProfile, Slot, User
from storage.models.base import utcnow
from storage.repo import users
from tests.conftest import STATS_CEILING
from tests.test_coordinator_stats import (
    REGION,
    TRANSLATIONS,
    agree,
    book,
    coordinator_of,
    csv_by_metric,
    published_month,
    seed,
    small,
)
from tests.test_reports_e2e import reports_read_back
from tests.test_safety_e2e import CRISIS

TEACHER = 7300
NEW_IDS = itertools.count(760_000)  # Telegram ids of the group sessions' teachers


def untagged(html: str) -> str:
    """A screen's text as Telegram shows it: its HTML tags are formatting."""
    return re.sub(r"<[^>]+>", "", html)


async def group(session, start, kind: str, seats: int, status: str = "enrolled") -> None:
    """An office group session of `kind` in KZ-61 for 10, with `seats` teachers of that status."""
    row = GroupSession(
        title_kk="Топ",
        title_ru="Группа",
        starts_at=start,
        capacity=10,
        format="offline",
        kind=kind,
        region=REGION,
        language="ru",
    )
    session.add(row)
    await session.flush()
    for n in range(seats):
        user = await users.create(session, next(NEW_IDS), "ru")
        session.add(GroupSeat(session_id=row.id, user_id=user.id, status=status, position=n))


async def seed_figures(bot, teachers: list[int]) -> None:
    """In the published month, KZ-61: a training with 6 seats taken, an art-therapy group with 7, a
    relaxation session with 2; 7 office hours of which 5 booked; video searches 3 the same day, 2
    within 3 days, 1 within 7 and 2 with no free time; 1 chat search with none; 1 crisis screen, 6
    Urgent help, no hand-off. Now and ahead: 5 video searches this month, 6 video hours in the
    next days of which 2 booked, 5 teachers waiting for a chat time, 3 on a group's waitlist."""
    tz, now = bot.settings.tz, utcnow()
    start = published_month(bot).since(tz) + timedelta(days=7)
    async with bot.app.sessions() as session:
        profile = await session.scalar(select(PsychologistProfile))
        for kind, seats in (("training", 6), ("art", 7), ("relax", 2)):
            await group(session, start, kind, seats)
        for n in range(7):
            teacher = await session.get(User, teachers[n])
            if n < 5:
                await book(session, profile, teacher, 100 + n, "office", "attended", start=start)
            else:
                session.add(
                    Slot(
                        psychologist_id=profile.id,
                        starts_at=start + timedelta(hours=100 + n),
                        duration_min=60,
                        format="office",
                    )
                )
        for days, count in ((0, 3), (3, 2), (7, 1)):
            for _ in range(count):
                await tallies.searched(session, REGION, "video", start + timedelta(days=days), start, tz)
        for fmt, count in (("video", 2), ("chat", 1)):
            for _ in range(count):
                await tallies.searched(session, REGION, fmt, None, start, tz)
        for event, count in (("crisis", 1), ("button", 6)):
            for _ in range(count):
                await tallies.safety_event(session, REGION, event, start, tz)

        soon = now + timedelta(hours=26)
        for n in range(6):
            slot = Slot(
                psychologist_id=profile.id,
                starts_at=soon + timedelta(hours=n),
                duration_min=60,
                format="video",
            )
            session.add(slot)
            await session.flush()
            if n >= 4:
                session.add(Booking(slot_id=slot.id, teacher_id=teachers[n], state="booked", holds=True))
        for _ in range(5):
            await tallies.searched(session, REGION, "video", soon, now, tz)
        for teacher_id in teachers[:5]:
            session.add(BookingWait(teacher_id=teacher_id, format="chat"))
        await group(session, now + timedelta(days=3), "consult", 3, status="waitlisted")
        await session.commit()


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_further_figures_agree_everywhere_and_the_capacity_view(fake_api, start_bot, lang):
    t = TRANSLATIONS[lang].gettext
    bot = await start_bot()
    teachers = await seed(bot)
    await seed_figures(bot, teachers)
    tz = bot.settings.tz

    # A teacher's real search (one, however many screens it takes) and a crisis message, now.
    teacher = fake_api.user(user_id=TEACHER, language_code=lang)
    await agree(teacher, lang)
    async with bot.app.sessions() as session:
        (await users.by_telegram_id(session, TEACHER)).region = REGION
        await session.commit()
    await teacher.press_data(Menu(item="book").pack())
    await teacher.press(t("bk-format-video"))
    await teacher.press(t("book-any-language"))
    assert untagged(t("book-choose-day").format(format=t("bk-format-video"))) in teacher.last_text
    await teacher.press(t("nav-back"))
    await teacher.send_text(CRISIS[lang])
    async with bot.app.sessions() as session:
        month = await tallies.month_counts(session, tallies.month_code(utcnow(), tz))
    first = tallies.bucket(utcnow() + timedelta(hours=26), utcnow(), tz)
    assert month[REGION][tallies.wait_name("video", first)] == 6, "five seeded and the teacher's one"
    assert month[REGION]["safety-crisis"] == 1 and sum(month[REGION].values()) == 7

    # The statistics: each new details step, then the CSV, the XLSX and the PDF.
    coordinator = await coordinator_of(fake_api, bot, lang)
    await coordinator.press(t("co-stats"), timeout=STATS_CEILING)
    screens = {}
    for section in ("gr", "dm", "wt", "sf"):
        await coordinator.press(t("co-stats-more-" + section), timeout=STATS_CEILING)
        screens[section] = coordinator.last_text
    await coordinator.press(t("co-stats-csv"), timeout=STATS_CEILING)
    shown = await csv_by_metric(bot, coordinator.documents[-1], lang, REGION)
    expected = {
        "gs-training-sessions": "1",
        "gs-art-sessions": "1",
        "gs-relax-sessions": "1",
        "gs-consult-sessions": "0",
        "gs-art-seats": "7",
        "gs-art-fill": "70%",
        "gs-relax-seats": HIDDEN,
        "dm-office-published": view.local_number("7.0", lang),
        "dm-office-booked": "—",  # the country's only: a region's would give away hidden counts
        "dm-office-share": "—",
        "dm-video-published": "—",  # open to every region: the country's report has it
        "wait-video": "8",
        "wait-video-none": HIDDEN,
        "wait-video-median": t("co-wait-today"),
        "wait-video-p90": t("co-wait-days").format(days=7),
        "wait-chat": HIDDEN,
        "wait-chat-median": "—",
        "safety-crisis": HIDDEN,
        "safety-button": "6",
        "safety-handoff": "0",
    }
    assert {key: shown[key] for key in expected} == expected
    exact = {key for key in shown if key.endswith("sessions")}  # what coordinators made: exact
    assert not [key for key, value in shown.items() if small(value) and key not in exact], "no small count"
    kind = t("groups-kind-art")
    assert t("co-stat-gs-seats").format(kind=kind, value="7") in screens["gr"]
    assert t("co-stat-gs-seats").format(kind=t("groups-kind-relax"), value=HIDDEN) in screens["gr"]
    video, office = t("bk-format-video"), t("bk-format-office")
    assert t("co-stat-dm-booked").format(format=office, value=expected["dm-office-booked"]) in screens["dm"]
    assert t("co-stats-dm-everywhere").format(mark="—") in screens["dm"]
    assert t("co-stat-dm-median").format(format=video, value=expected["wait-video-median"]) in screens["wt"]
    assert t("co-stat-dm-p90").format(format=video, value=expected["wait-video-p90"]) in screens["wt"]
    assert t("co-stat-safety-crisis").format(value=HIDDEN) in screens["sf"]
    assert t("co-stat-safety-button").format(value="6") in screens["sf"]

    await coordinator.press(t("nav-back"))
    await reports_read_back(coordinator, t, shown, expected)

    # The capacity view, off the coordinator's home: this month so far and the days ahead.
    await coordinator.press_data(Menu(item="coord").pack())
    await coordinator.press(t("co-capacity"))
    screen = next(m for m in reversed(coordinator.messages) if m.inline_keyboard)  # the pressed one, edited
    text = screen.text
    assert untagged(t("co-cap-title")).format(region=region_name(REGION, lang)) in text
    assert (
        untagged(t("co-cap-format")).format(
            format=video,
            searches=6,
            none=0,
            median=t("co-wait-days").format(days=first[1:]) if first != "d0" else t("co-wait-today"),
            waiting=0,
            published=view.local_number("6.0", lang),
            booked=HIDDEN,
            share=HIDDEN,
            days=14,
        )
        in text
    )
    chat = untagged(t("co-cap-format")).format(
        format=t("bk-format-chat"),
        searches=0,
        none=0,
        median="—",
        waiting=5,
        published="0.0",
        booked="0.0",
        share="—",
        days=14,
    )
    assert chat.split("\n")[3] in text, "five teachers waiting for a chat time"
    assert t("co-cap-groups").format(value=3) in text
    assert {t("nav-back"), t("nav-main")} <= set(screen.buttons)
