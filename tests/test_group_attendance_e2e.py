"""How many came to a group session, end to end in Kazakh and Russian: after the session its
facilitator is asked once (a restart asks nothing again), answers with a number, corrects it from
the session's card; another psychologist's forged press is refused; a coordinator tells it for a
session nobody led; the published month's statistics show per kind the sessions reported and how
many came, the latter suppressed like seats, the same on the screen, in the CSV, the XLSX and the PDF."""

import itertools
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.content.regions import regions
from bot.services import statistics
from bot.services.anonymity import HIDDEN
from bot.services.periods import Period
from bot.telegram.callbacks import Group, GroupAction
from storage.models import GroupSeat, GroupSession, Reminder
from storage.models.base import utcnow
from storage.repo import users
from tests.conftest import STATS_CEILING
from tests.test_coordinator_stats import (
    REGION,
    TRANSLATIONS,
    coordinator_of,
    csv_by_metric,
    make_psychologist,
    published_month,
    small,
)
from tests.test_groups_e2e import plain
from tests.test_reports_e2e import reports_read_back
from tests.waiting import wait_for

FACILITATOR, OTHER = 8401, 8402
NEW_IDS = itertools.count(770_000)  # Telegram ids of the seated teachers
ASKED = "notice-group-attendance"


async def held(session, start, kind: str, enrolled: int, *, facilitator=None, attended=None) -> GroupSession:
    """An office session of `kind` in the region, for 10, with `enrolled` seated teachers."""
    row = GroupSession(
        title_kk=f"Топ {kind}",
        title_ru=f"Группа {kind}",
        starts_at=start,
        duration_min=60,
        capacity=10,
        format="offline",
        kind=kind,
        region=REGION,
        language="ru",
        facilitator_id=facilitator,
        attended=attended,
    )
    session.add(row)
    await session.flush()
    for n in range(enrolled):
        user = await users.create(session, next(NEW_IDS), "ru")
        session.add(GroupSeat(session_id=row.id, user_id=user.id, status="enrolled", position=n))
    return row


async def attended(bot, group_id: int) -> int | None:
    async with bot.app.sessions() as session:
        return (await session.get(GroupSession, group_id)).attended


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_the_facilitator_tells_once_how_many_came_and_the_statistics_count_it(
    fake_api, start_bot, lang
):
    t = TRANSLATIONS[lang].gettext
    bot = await start_bot()
    now = utcnow()
    async with bot.app.sessions() as session:
        leader = await make_psychologist(session, FACILITATOR, "Айгүл П.")
        leader.user.language = lang
        (await make_psychologist(session, OTHER, "Ерлан С.")).user.language = lang
        # Ended an hour ago: one led, one nobody led (a coordinator tells it).
        led = await held(session, now - timedelta(hours=2), "art", 6, facilitator=leader.user_id)
        unled = await held(session, now - timedelta(hours=3), "relax", 4)
        # The published month: of art's 11 seats 4 + 2 came (both reported), of relax's 3, 2 (so
        # few it is hidden, its seats too, and the training's 6 seats for theirs; not reported).
        month = published_month(bot).since(bot.settings.tz) + timedelta(days=9)
        for kind, enrolled, came in (("art", 6, 4), ("art", 5, 2), ("relax", 3, 2), ("training", 6, None)):
            await held(session, month, kind, enrolled, attended=came)
        await session.commit()

    # The session ended: its facilitator is asked, with the numbers 0 to the 6 enrolled.
    facilitator = fake_api.user(user_id=FACILITATOR, language_code=lang)
    await bot.app.sweeper.sweep()
    asked = plain(t("groups-attendance-ask"))
    await wait_for(lambda: any(asked in (m.text or "") for m in facilitator.messages))
    question = next(m for m in facilitator.messages if asked in (m.text or ""))
    assert [str(n) for n in range(7)] == question.buttons[:7] and "7" not in question.buttons
    assert {t("nav-back"), t("nav-main")} <= set(question.buttons)

    # A restart sweeps again: nothing more is asked, the question is one outbox row, sent.
    await bot.stop()
    bot = await start_bot()
    await bot.app.sweeper.sweep()
    async with bot.app.sessions() as session:
        rows = (await session.scalars(select(Reminder).where(Reminder.kind == ASKED))).all()
        assert [row.status for row in rows] == ["sent"]
    assert sum(asked in (m.text or "") for m in facilitator.messages) == 1

    # Another psychologist's forged press is refused and changes nothing.
    other = fake_api.user(user_id=OTHER, language_code=lang)
    await other.send_text("/menu")
    await other.press_data(Group(a=GroupAction.COUNTED, s=led.id, score=3).pack())
    assert t("groups-not-yours") in other.alerts
    assert await attended(bot, led.id) is None

    # The facilitator answers 5, then corrects it to 4 from the session's card.
    await facilitator.press("5", message_id=question.message_id)
    assert t("groups-attendance-thanks") in facilitator.alerts
    assert t("groups-attended").format(count=5) in facilitator.last_text
    assert await attended(bot, led.id) == 5
    await facilitator.press(t("groups-attendance-set"))
    await facilitator.press("4")
    assert await attended(bot, led.id) == 4
    await facilitator.press(t("nav-back"))
    label = t("groups-led-ended").format(label="", count=4)
    assert any(button.endswith(label) for button in facilitator.last.buttons), "the list of the sessions led"

    # The coordinator tells it for the session nobody led, from the ended sessions' list.
    coordinator = await coordinator_of(fake_api, bot, lang)
    await coordinator.press(t("co-glist"))
    await coordinator.press(t("co-g-ended"))
    await coordinator.press(t("groups-led-unreported").format(label=unled.title(lang)))
    assert plain(t("groups-attended-none")) in coordinator.last_text
    await coordinator.press(t("groups-attendance-set"))
    assert [str(n) for n in range(5)] == coordinator.last.buttons[:5] and "5" not in coordinator.last.buttons
    await coordinator.press("3")
    assert t("groups-attended").format(count=3) in coordinator.last_text
    assert await attended(bot, unled.id) == 3
    async with bot.app.sessions() as session:
        assert await session.scalar(select(func.count()).where(Reminder.kind == ASKED)) == 1, "none unled"

    # The published month's statistics: the details, the CSV, the XLSX and the PDF agree.
    await coordinator.press(t("nav-main"))
    await coordinator.send_text("/menu")
    await coordinator.press(t("menu-coord"))
    await coordinator.press(t("co-stats"), timeout=STATS_CEILING)
    await coordinator.press(t("co-stats-more-gr"), timeout=STATS_CEILING)
    screen = coordinator.last_text
    await coordinator.press(t("co-stats-csv"), timeout=STATS_CEILING)
    shown = await csv_by_metric(bot, coordinator.documents[-1], lang, REGION)
    expected = {
        "gs-art-seats": "11",
        "gs-art-reported": "2",
        "gs-art-attended": "6",
        "gs-relax-reported": "1",  # what staff did: exact
        "gs-relax-attended": HIDDEN,
        "gs-training-seats": HIDDEN,
        "gs-training-reported": "0",
        "gs-training-attended": "0",  # a zero reveals nobody
        "gs-consult-attended": "0",
    }
    assert {key: shown[key] for key in expected} == expected
    assert not [key for key in shown if key.endswith("-attended") and small(shown[key])], "no small count"
    for kind, measure in (("art", "reported"), ("art", "attended"), ("relax", "attended")):
        value = expected[f"gs-{kind}-{measure}"]
        assert t(f"co-stat-gs-{measure}").format(kind=t("groups-kind-" + kind), value=value) in screen

    await coordinator.press(t("nav-back"))
    await reports_read_back(coordinator, t, shown, expected)


def test_who_did_not_come_is_protected_like_a_count():
    """Of a kind's 9 seats 7 came: shown next to the seats, the 2 who did not would follow, so
    those who came are hidden; of 12 seats 7 came (5 did not) both are shown."""
    month = Period("m", 2026, 10)
    region = next(iter(regions()))

    def shown(seats: int, came: int) -> dict[str, str]:
        values = Counter({"gs-art-seats": seats, "seats": seats, "gs-art-attended": came})
        values |= {"gs-art-away": seats - came, "gs-art-reported": 2, "gs-art-sessions": 2}
        raw = statistics._scopes(values, {region: values}, statistics._names(month))
        hidden = statistics.protect_new({}, {month.code: raw}, 5)[month.code]
        view = statistics.Shown({"raw": raw, "hidden": hidden}, region)
        return {name: view[name] for name in ("gs-art-seats", "gs-art-attended", "gs-art-reported")}

    assert shown(9, 7) == {"gs-art-seats": "9", "gs-art-attended": HIDDEN, "gs-art-reported": "2"}
    assert shown(12, 7) == {"gs-art-seats": "12", "gs-art-attended": "7", "gs-art-reported": "2"}
