"""Group sessions end to end through the fake Bot API, in Kazakh and Russian: a coordinator creates
one, teachers join, wait in line, get a held seat, let it lapse, the session is cancelled, stale
buttons are answered, ratings come back encrypted and only as aggregates."""

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from bot.telegram.callbacks import Coord, CoordAction, Group
from bot.telegram.i18n import compile_translations
from bot.views import dates
from storage.models import GroupSeat, GroupSession
from storage.models.base import utcnow
from storage.repo import groups, users
from tests.conftest import stored_bytes
from tests.test_coordinator_stats import make_psychologist
from tests.waiting import wait_for

CATALOGUES = compile_translations()
AGREE = {"kk": ("Қазақша", "Келісемін"), "ru": ("Русский", "Согласен")}
TITLES = {"kk": "Күйзеліспен күресу", "ru": "Как справиться со стрессом"}
SECRET_COMMENT = "Ведущая Сауле Маратовна очень помогла"


def texts(lang: str):
    return lambda key: CATALOGUES[lang].gettext(key)


async def agree(user, lang: str) -> str:
    await user.send_text("/start")
    await user.press(AGREE[lang][0])
    await user.press(AGREE[lang][1])
    return re.search(r"T-[0-9A-Z]{6}", user.last_text).group(0)


async def set_role(bot, telegram_id: int, role: str, region: str | None = None) -> None:
    async with bot.app.sessions() as session:
        user = await users.by_telegram_id(session, telegram_id)
        user.role, user.region = role, region
        await session.commit()


def plain(key_text: str) -> str:
    """A catalogue text as the user sees it (HTML tags gone), cut before the first placeholder."""
    return re.sub(r"<[^>]+>", "", key_text).split("{")[0].strip()


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_group_session_lifecycle(fake_api, start_bot, lang):
    t = texts(lang)
    bot = await start_bot()
    title = TITLES[lang]

    coordinator = fake_api.user(user_id=8101, language_code=lang)
    await agree(coordinator, lang)
    await set_role(bot, 8101, "coordinator")
    psychologist = fake_api.user(user_id=8102, language_code=lang)
    psy_code = await agree(psychologist, lang)
    await set_role(bot, 8102, "psychologist")

    # The coordinator creates a two-seat online session led by the psychologist.
    await coordinator.send_text("/menu")
    await coordinator.press(t("menu-coord"))
    await coordinator.press(t("co-gnew"))
    await coordinator.press(t("groups-kind-consult"))
    await coordinator.send_text(TITLES["kk"] + "\nШаршау мен күйзеліс туралы әңгіме")
    await coordinator.send_text(TITLES["ru"] + "\nРазговор об усталости и стрессе")
    starts = (utcnow() + timedelta(days=3)).astimezone(bot.settings.tz)
    await coordinator.send_text(starts.strftime("%d.%m.%Y") + " 15:00")
    await coordinator.press(t("co-g-minutes").format(minutes=60))
    await coordinator.send_text("2")
    await coordinator.press(t("groups-format-online"))
    await coordinator.press(t("groups-language-" + lang))
    await coordinator.press(psy_code)
    assert plain(t("co-g-created")) in coordinator.last_text and title in coordinator.last_text

    teachers = {}
    for name, telegram_id in (("a", 8201), ("b", 8202), ("c", 8203), ("d", 8204), ("e", 8205)):
        teacher = fake_api.user(user_id=telegram_id, language_code=lang)
        teacher.code = await agree(teacher, lang)
        teachers[name] = teacher
    a, b, c, d, e = teachers.values()

    async def open_session(teacher):
        await teacher.send_text("/menu")
        await teacher.press(t("menu-groups"))
        await teacher.press(title)

    # A and B take both seats; C and D wait in line and are told their places.
    for teacher in (a, b):
        await open_session(teacher)
        await teacher.press(t("groups-join"))
        assert plain(t("groups-you-enrolled")) in teacher.last_text
    for place, teacher in ((1, c), (2, d)):
        await open_session(teacher)
        assert plain(t("groups-full")) in teacher.last_text
        await teacher.press(t("groups-join-waitlist"))
        assert t("groups-you-waitlisted").format(place=place) in teacher.last_text

    # Participants never see each other; the facilitator sees the count and the codes of the seated.
    for teacher in teachers.values():
        seen = " ".join((m.text or "") for m in teacher.messages)
        assert not any(other.code in seen for other in teachers.values() if other is not teacher)
    await psychologist.send_text("/menu")
    await psychologist.press(t("menu-groups"))
    await psychologist.press(t("groups-led"))
    await psychologist.press(title)
    assert a.code in psychologist.last_text and b.code in psychologist.last_text
    assert c.code not in psychologist.last_text
    # A teacher forging the facilitator's button learns nothing: it is for staff only.
    async with bot.app.sessions() as session:
        group = await session.scalar(select(GroupSession))
    await a.press_data(Group(a="who", s=group.id).pack())
    assert t("role-refused") in a.alerts
    assert b.code not in a.last_text

    # A leaves: C is offered the seat at once, with Accept / Decline, and accepts.
    await open_session(a)
    await a.press(t("groups-leave"))
    await a.press(t("groups-leave-confirm"))
    offer = c.last
    assert plain(t("groups-offer")) in offer.text and title in offer.text
    await c.press(t("groups-accept"))
    assert plain(t("groups-you-enrolled")) in c.last_text

    # B leaves: D is offered the seat but lets the hold expire; D is told, a late Accept is refused.
    await open_session(b)
    await b.press(t("groups-leave"))
    await b.press(t("groups-leave-confirm"))
    assert plain(t("groups-offer")) in d.last_text
    offer_message = d.last.message_id
    sweeper = bot.app.sweeper
    await sweeper.sweep(now=utcnow() + bot.settings.groups.offer_hold + timedelta(minutes=1))
    await wait_for(lambda: t("groups-offer-lapsed") in d.last_text)  # a notice, sent by the outbox
    await d.press(t("groups-accept"), message_id=offer_message)
    assert t("groups-offer-too-late") in d.alerts

    # E takes the free seat; D joins the line again; the coordinator cancels the whole session.
    await open_session(e)
    await e.press(t("groups-join"))
    await open_session(d)
    await d.press(t("groups-join-waitlist"))
    stale_view = d.last.message_id
    await coordinator.send_text("/menu")
    await coordinator.press(t("menu-coord"))
    await coordinator.press(t("co-glist"))
    await coordinator.press(title)
    assert t("co-g-counts").format(taken=2, capacity=2, waiting=1) in coordinator.last_text
    await coordinator.press(t("co-g-cancel"))
    await coordinator.press(t("co-g-cancel-confirm"))
    assert t("co-g-cancelled").format(count=3) in coordinator.last_text
    for teacher in (c, e, d):  # seated and waiting alike
        assert plain(t("groups-session-cancelled")) in teacher.last_text and title in teacher.last_text
    for teacher in (a, b):
        assert plain(t("groups-session-cancelled")) not in teacher.last_text

    # A stale button on the cancelled session: an alert, then the current list, never a dead end.
    await d.press(t("groups-leave-waitlist"), message_id=stale_view)
    assert t("groups-gone") in d.alerts
    screen = next(m for m in d.messages if m.message_id == stale_view)
    assert plain(t("groups-title")) in screen.text and title not in screen.text
    assert any(t("nav-main") in button for button in screen.buttons)
    await e.press_data(Group(a="join", s=group.id).pack())
    assert t("groups-gone") in e.alerts


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_rating_after_session_is_encrypted_and_aggregated(fake_api, start_bot, lang):
    t = texts(lang)
    bot = await start_bot()
    teacher = fake_api.user(user_id=8301, language_code=lang)
    await agree(teacher, lang)
    async with bot.app.sessions() as session:
        user = await users.by_telegram_id(session, 8301)
        group = await groups.create_session(
            session,
            title_kk=TITLES["kk"],
            title_ru=TITLES["ru"],
            starts_at=utcnow() + timedelta(minutes=5),
            duration_min=60,
            capacity=10,
            format="online",
            language=lang,
        )
        assert (await groups.enroll(session, group.id, user.id, utcnow())).status == "enrolled"
        await session.commit()

    # Rating before the session ended: refused politely.
    await teacher.press_data(Group(a="rate", s=group.id, score=5).pack())
    assert t("groups-rate-closed") in teacher.alerts

    await bot.app.sweeper.sweep(now=utcnow() + timedelta(minutes=70))
    await wait_for(lambda: TITLES[lang] in teacher.last_text)  # a notice, sent by the outbox
    await teacher.press("5")
    assert plain(t("groups-rate-thanks")) in teacher.last_text
    await teacher.press(t("groups-comment-add"))
    await teacher.send_text(SECRET_COMMENT)
    assert t("groups-comment-thanks") in teacher.last_text
    # The sweep asks once only.
    await bot.app.sweeper.sweep(now=utcnow() + timedelta(minutes=80))
    assert t("groups-comment-thanks") in teacher.last_text

    async with bot.app.sessions() as session:
        seat = await session.scalar(select(GroupSeat).where(GroupSeat.session_id == group.id))
        assert (seat.rating, seat.rating_comment) == (5, SECRET_COMMENT)
        stats = await groups.statistics(session, utcnow() - timedelta(days=1), utcnow() + timedelta(days=1))
        assert [(s.ratings, s.rating_sum) for s in stats.values()] == [(1, 5)]

    await bot.stop()
    raw = await stored_bytes(bot.settings.database.url)
    assert SECRET_COMMENT.encode() not in raw


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_a_coordinator_picks_the_date_in_a_calendar_and_the_facilitator_by_name(
    fake_api, start_bot, lang
):
    t = texts(lang)
    bot = await start_bot()
    coordinator = fake_api.user(user_id=8111, language_code=lang)
    await agree(coordinator, lang)
    await set_role(bot, 8111, "coordinator")
    async with bot.app.sessions() as session:
        profile = await make_psychologist(session, 8112, "Айгүл П.")
        psychologist_id = profile.user_id
        await session.commit()

    await coordinator.send_text("/menu")
    await coordinator.press(t("menu-coord"))
    await coordinator.press(t("co-gnew"))
    await coordinator.press(t("groups-kind-training"))
    await coordinator.send_text(TITLES["kk"])
    await coordinator.send_text(TITLES["ru"])
    today = utcnow().astimezone(bot.settings.tz).date()
    assert dates.month(today, lang) in coordinator.last.buttons, "the calendar says its month and year"
    day = today + timedelta(days=3)
    await coordinator.press_data(Coord(a=CoordAction.GROUP_DAY, v=f"{day:%Y%m%d}").pack())
    assert dates.day(day, lang) in coordinator.last_text
    await coordinator.press("15:00")
    await coordinator.press(t("co-g-minutes").format(minutes=90))
    await coordinator.send_text("12")
    await coordinator.press(t("groups-format-online"))
    await coordinator.press(t("groups-language-" + lang))
    assert "Айгүл П." in coordinator.last.buttons, "psychologists by the name teachers know them by"
    await coordinator.press("Айгүл П.")
    assert plain(t("co-g-created")) in coordinator.last_text
    async with bot.app.sessions() as session:
        group = await session.scalar(select(GroupSession))
        assert group.facilitator_id == psychologist_id and group.duration_min == 90
        assert group.starts_at.astimezone(bot.settings.tz).replace(tzinfo=None) == datetime(
            day.year, day.month, day.day, 15, 0
        )
