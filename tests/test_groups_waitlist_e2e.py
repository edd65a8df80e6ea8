"""Waitlist promotion end to end, in Kazakh and Russian: a freed seat is offered to the first in
line with Accept / Decline; a decline and a lapsed hold each pass the offer to the next teacher;
late and stale buttons (a lapsed offer, a cancelled session) are answered, never a dead end;
browsing with the format, language and region filters shows seats left."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.telegram.callbacks import Group
from bot.telegram.i18n import compile_translations
from bot.workers.groups import GroupSweeper
from storage.models import GroupSeat
from storage.models.base import utcnow
from storage.repo import groups, users
from tests.waiting import wait_for

CATALOGUES = compile_translations()
AGREE = {"kk": ("Қазақша", "Келісемін"), "ru": ("Русский", "Согласен")}
TITLES = {"kk": "Шаршаудан қалай арыламыз", "ru": "Как восстановиться после усталости"}


def plain(text: str) -> str:
    """A catalogue text as the user sees it (HTML tags gone), cut before the first placeholder."""
    return re.sub(r"<[^>]+>", "", text).split("{")[0].strip()


async def agree(user, lang: str) -> None:
    await user.send_text("/start")
    await user.press(AGREE[lang][0])
    await user.press(AGREE[lang][1])


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_decline_and_lapsed_hold_pass_the_seat_down_the_line(fake_api, start_bot, lang):
    def t(key: str) -> str:
        return CATALOGUES[lang].gettext(key)

    bot = await start_bot()
    title = TITLES[lang]
    async with bot.app.sessions.begin() as session:
        group = await groups.create_session(
            session,
            title_kk=TITLES["kk"],
            title_ru=TITLES["ru"],
            starts_at=utcnow() + timedelta(days=3),
            duration_min=60,
            capacity=1,
            format="online",
            language=lang,
        )
    group_id = group.id

    a, b, c, d = (fake_api.user(user_id=8400 + n, language_code=lang) for n in range(4))
    for teacher in (a, b, c, d):
        await agree(teacher, lang)

    async def open_session(teacher) -> None:
        await teacher.send_text("/menu")
        await teacher.press(t("menu-groups"))
        await teacher.press(title)

    await open_session(a)
    await a.press(t("groups-join"))
    assert plain(t("groups-you-enrolled")) in a.last_text
    for place, teacher in ((1, b), (2, c), (3, d)):
        await open_session(teacher)
        await teacher.press(t("groups-join-waitlist"))
        assert t("groups-you-waitlisted").format(place=place) in teacher.last_text

    # A leaves: only B (first in line) is offered the seat, with Accept / Decline and the hold.
    await open_session(a)
    await a.press(t("groups-leave"))
    await a.press(t("groups-leave-confirm"))
    assert plain(t("groups-offer")) in b.last_text and title in b.last_text
    assert t("groups-accept") in b.last.buttons and t("groups-decline") in b.last.buttons
    assert plain(t("groups-offer")) not in c.last_text
    b_offer = b.last.message_id

    # B declines: the offer passes to C; B is back at the list.
    await b.press(t("groups-decline"))
    assert t("groups-declined") in b.alerts
    assert plain(t("groups-title")) in b.last_text
    assert plain(t("groups-offer")) in c.last_text
    c_offer = c.last.message_id
    assert plain(t("groups-offer")) not in d.last_text

    # C lets the hold lapse: C is told, the offer passes to D.
    sweeper = next(w for w in bot.app.workers if isinstance(w, GroupSweeper))
    await sweeper.sweep(now=utcnow() + bot.settings.groups.offer_hold + timedelta(minutes=1))
    await wait_for(lambda: t("groups-offer-lapsed") in c.last_text)  # notices, sent by the outbox
    await wait_for(lambda: plain(t("groups-offer")) in d.last_text)
    assert plain(t("groups-offer")) in d.last_text
    # A late Accept on the lapsed offer: refused with an alert, the card shows C can join the line again.
    await c.press(t("groups-accept"), message_id=c_offer)
    assert t("groups-offer-too-late") in c.alerts
    card = next(m for m in c.messages if m.message_id == c_offer)  # the offer, edited in place
    assert title in card.text and t("groups-join-waitlist") in card.buttons

    await d.press(t("groups-accept"))
    assert t("groups-joined") in d.alerts
    assert plain(t("groups-you-enrolled")) in d.last_text

    async with bot.app.sessions() as session:
        seats = {seat.user_id: seat.status for seat in await session.scalars(select(GroupSeat))}
        assert sorted(seats.values()) == ["cancelled", "cancelled", "cancelled", "enrolled"]
        assert await groups.taken(session, group_id) == 1

    # The session is cancelled; the old offer buttons are answered with an alert and the current list.
    async with bot.app.sessions.begin() as session:
        assert len(await groups.cancel_session(session, group_id)) == 1
    await d.press(t("groups-leave"))  # on D's card, now stale
    assert t("groups-gone") in d.alerts
    assert plain(t("groups-title")) in d.last_text and any(t("nav-main") in x for x in d.last.buttons)
    # The same Accept data once more (as from an old copy of the offer): answered, not ignored.
    await b.press_data(Group(a="acc", s=group_id).pack(), message_id=b_offer)
    assert t("groups-gone") in b.alerts


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_browsing_with_format_language_and_region_filters_shows_seats_left(fake_api, start_bot, lang):
    def t(key: str) -> str:
        return CATALOGUES[lang].gettext(key)

    bot = await start_bot()
    teacher = fake_api.user(user_id=8501, language_code=lang)
    other = fake_api.user(user_id=8502, language_code=lang)
    await agree(teacher, lang)
    await agree(other, lang)
    soon = utcnow() + timedelta(days=2)
    # title, format, region, language, capacity
    plan = [
        ("Тыныс алу", "online", None, "kk", 3),
        ("Очная встреча", "offline", "KZ-75", "ru", 4),
        ("Чат-клуб", "chat", None, "ru", 6),
        ("Алыстағы филиал", "offline", "KZ-61", "kk", 5),
    ]
    async with bot.app.sessions.begin() as session:
        for number, (title, fmt, region, language, capacity) in enumerate(plan):
            group = await groups.create_session(
                session,
                title_kk=title,
                title_ru=title,
                starts_at=soon + timedelta(hours=number),
                duration_min=60,
                capacity=capacity,
                format=fmt,
                region=region,
                language=language,
            )
            if number == 0:
                seated = await users.by_telegram_id(session, other.id)
                assert (await groups.enroll(session, group.id, seated.id, utcnow())).status == "enrolled"
        (await users.by_telegram_id(session, teacher.id)).region = "KZ-75"

    def shown() -> list[str]:
        return [title for title, *_ in plan if any(title in button for button in teacher.last.buttons)]

    await teacher.send_text("/menu")
    await teacher.press(t("menu-groups"))
    # By default: the teacher's region and online sessions, every format and language; seats left shown.
    assert shown() == ["Тыныс алу", "Очная встреча", "Чат-клуб"]
    assert any("Тыныс алу" in b and b.endswith(" 2") for b in teacher.last.buttons)
    # A filter opens its picker: "any" and every value, the current one marked; one tap chooses and
    # shows the list, Back leaves it as it was.
    await teacher.press(t("groups-filter-format").format(value=t("groups-any")))
    assert teacher.last_text == t("groups-pick-format")
    chosen = t("groups-pick-current").format(value=t("groups-any"))
    picks = [chosen, t("groups-format-online"), t("groups-format-offline")]
    assert teacher.last.buttons == [*picks, t("nav-back"), t("nav-main")]
    await teacher.press(t("groups-format-online"))
    assert shown() == ["Тыныс алу"]
    online = t("groups-filter-format").format(value=t("groups-format-online"))
    await teacher.press(online)
    assert t("groups-pick-current").format(value=t("groups-format-online")) in teacher.last.buttons
    await teacher.press(t("nav-back"))
    assert shown() == ["Тыныс алу"]
    await teacher.press(online)
    await teacher.press(t("groups-format-offline"))
    assert shown() == ["Очная встреча"]
    await teacher.press(t("groups-filter-mine"))
    assert shown() == ["Очная встреча", "Алыстағы филиал"]
    await teacher.press(t("groups-filter-language").format(value=t("groups-any")))
    assert teacher.last_text == t("groups-pick-language")
    await teacher.press(t("groups-language-kk"))
    assert shown() == ["Алыстағы филиал"]
    await teacher.press("Алыстағы филиал")
    assert t("groups-seats-left").format(left=5, capacity=5) in teacher.last_text
    # Back keeps the filters.
    await teacher.press(t("nav-back"))
    assert shown() == ["Алыстағы филиал"]
