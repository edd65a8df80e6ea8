"""Sessions a teacher can attend and stay anonymous in, end to end in Kazakh and Russian through the
fake Bot API: a private room per booking given shortly before the start; calendar files that stay
true (read by tests/ics_reader.py, not by the library that writes them); rescheduling that keeps the
psychologist; a live chat paused by the menu; reminders after downtime arriving once; group
sessions with a way in per format."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.telegram.callbacks import Book, Chat, Coord, Group, Menu, Mine, Psy, Settings
from bot.views.booking import day_label
from bot.workers.waitlist import plan_waits
from storage.models import Booking, BookingWait, GroupSession, Reminder, Slot
from storage.models.base import utcnow
from storage.repo import booking as repo
from storage.repo import groups, users
from tests.conftest import stored_bytes
from tests.ics_reader import event_of
from tests.test_booking_sessions_e2e import agree, plain, screen, texts, wait_for, ymd
from tests.test_chat_e2e import copies_to, eventually
from tests.test_reminders import worker_of

ALMATY = ZoneInfo("Asia/Almaty")
OLGA, ANNA = "Ольга (тест)", "Анна (тест)"
PERMANENT = "https://meet.example.org/olga-forever"
ROOM = re.compile(r"https://meet\.jit\.si/([a-z0-9]{20})")
# What a calendar a school manages, or a lock screen, must not show by default.
REVEALING = ("психолог", "Психолог", "консультац", "Консультац", "кеңес", "Кеңес", "Ольга", "Анна")


async def psychologist(session, telegram_id: int, lang: str, name: str, times: list[datetime]):
    user = await users.create(session, telegram_id, lang)
    user.role, user.consent_at = "psychologist", utcnow()
    profile = await repo.ensure_profile(session, user)
    profile.display_name, profile.languages, profile.formats, profile.published = name, lang, "video", True
    profile.video_link = PERMANENT  # the old permanent link: never given with a room engine
    for moment in times:
        await repo.add_slot(session, profile, moment, 50, "video")
    return profile


def shown(user):
    """The screen: the newest text message (a calendar file may have come after it)."""
    return next(m for m in reversed(user.messages) if m.kind == "text")


def ics(user, index: int = -1):
    document = user.documents[index]
    assert document.filename.endswith(".ics") and not document.protected
    return event_of(document.file.data)


def neutral(data: bytes) -> None:
    text = data.decode()
    assert not any(word in text for word in REVEALING), text
    assert "meet.jit.si" not in text and PERMANENT not in text  # the link never goes into a calendar


async def my_booking(teacher, booking_id: int) -> str:
    await teacher.press_data(Menu(item="mine").pack())
    await teacher.press_data(Mine(a="open", id=booking_id).pack())
    return screen(teacher)


@dataclass
class TwoBookings:
    bot: object
    first: object
    second: object
    a_id: int
    b_id: int
    uid: str
    soon: date
    later: date
    olga_id: int


async def two_bookings(fake_api, start_bot, lang: str) -> TwoBookings:
    """Two teachers booked with Olga (the first through the bot, with its calendar file checked);
    Anna, someone else, has a sooner time."""
    t = texts(lang)
    bot = await start_bot(booking={"min_notice_hours": 0})
    today = datetime.now(ALMATY).date()
    soon, later = today + timedelta(days=1), today + timedelta(days=2)
    at = lambda day, hour: datetime.combine(day, time(hour), ALMATY)  # noqa: E731
    async with bot.app.sessions.begin() as session:
        olga = await psychologist(session, 7301, lang, OLGA, [at(later, 10), at(later, 11), at(later, 12)])
        await psychologist(session, 7302, lang, ANNA, [at(soon, 9)])  # sooner, and someone else
    first, second = (
        fake_api.user(user_id=8301, language_code=lang),
        fake_api.user(user_id=8302, language_code=lang),
    )
    await agree(first, lang)
    await agree(second, lang)

    # The first teacher books Olga at 10:00: no link yet, and a neutral calendar file.
    await first.press_data(Menu(item="book").pack())
    await first.press(t("bk-format-video"))
    await first.press(t("book-any-language"))
    await first.press_data(Book(a="day", f="video", d=ymd(later)).pack())
    await first.press(f"10:00 · {OLGA}")
    # Before a first consultation: what to expect, then back to the same confirm screen.
    await first.press(t("sess-expect-button"))
    assert plain(t("sess-expect")) in screen(first) and "50" in screen(first)
    await first.press(t("nav-back"))
    await first.press(t("book-ok"))
    assert plain(t("book-done")) in screen(first) and not ROOM.search(screen(first))
    calendar, event = ics(first)
    assert calendar.one("METHOD").value == "PUBLISH" and event.one("SEQUENCE").value == "0"
    assert event.one("SUMMARY").text == "Demeu" and event.one("STATUS").value == "CONFIRMED"
    assert event.one("DTSTART").value == f"{ymd(later)}T100000"
    neutral(first.documents[-1].file.data)
    uid = event.one("UID").value
    # The second teacher books Olga at 11:00.
    async with bot.app.sessions.begin() as session:
        teacher = await users.by_telegram_id(session, 8302)
        slot = await session.scalar(select(Slot).where(Slot.starts_at == at(later, 11)))
        assert (await bot.app.bookings.book(session, teacher, slot.id, None, utcnow())).ok
    async with bot.app.sessions() as session:
        a_id, b_id = (await session.scalars(select(Booking.id).order_by(Booking.id))).all()
    assert plain(t("sess-link-later")) in await my_booking(first, a_id)
    return TwoBookings(bot, first, second, a_id, b_id, uid, soon, later, olga.id)


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_each_booking_has_its_own_room_given_shortly_before(fake_api, start_bot, lang):
    t = texts(lang)
    booked = await two_bookings(fake_api, start_bot, lang)
    bot, first, second, a_id, b_id = booked.bot, booked.first, booked.second, booked.a_id, booked.b_id
    # Both sessions now start within the hour: each teacher finds their own room, with how to stay private.
    async with bot.app.sessions.begin() as session:
        for minutes, booking_id in ((20, a_id), (40, b_id)):
            booking = await session.get(Booking, booking_id)
            booking.slot.starts_at = utcnow() + timedelta(minutes=minutes)
    links = []
    for teacher, booking_id in ((first, a_id), (second, b_id)):
        text = await my_booking(teacher, booking_id)
        links.append(ROOM.search(text).group(0))
        assert plain(t("sess-room-own")) in text and PERMANENT not in text
        url_buttons = [b.get("url") for row in shown(teacher).inline_keyboard for b in row if "url" in b]
        assert url_buttons and url_buttons[0].startswith(links[-1])
    assert links[0] != links[1], "two bookings with one psychologist never share a room"

    # The psychologist sees the session's room, and may give their own link for this one session.
    psy = fake_api.user(user_id=7301, language_code=lang)
    await psy.send_text("/menu")  # a fresh screen under the booking notices
    await psy.press_data(Psy(a="bk", id=b_id).pack())
    assert links[1] in shown(psy).text.replace("&amp;", "&")
    await psy.press(t("sess-own-link"))
    await psy.send_text("https://meet.example.org/just-this-once")
    assert t("sess-own-link-set") in shown(psy).text
    text = await my_booking(second, b_id)
    assert "https://meet.example.org/just-this-once" in text and not ROOM.search(text)
    # Cancelled by the psychologist: the teacher's calendar gets the cancellation too.
    await psy.press_data(Psy(a="bcxn", id=b_id).pack())
    calendar, event = ics(second)
    assert calendar.one("METHOD").value == "CANCEL" and event.one("STATUS").value == "CANCELLED"

    await bot.stop()
    raw = await stored_bytes(bot.settings.database.url)
    assert not any(ROOM.search(link).group(1).encode() in raw for link in links), "rooms are sealed"


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_the_calendar_follows_a_reschedule_with_the_same_psychologist_and_a_cancel(
    fake_api, start_bot, lang
):
    t = texts(lang)
    booked = await two_bookings(fake_api, start_bot, lang)
    bot, first, second, a_id, b_id = booked.bot, booked.first, booked.second, booked.a_id, booked.b_id
    uid = booked.uid
    soon, later = booked.soon, booked.later
    # Rescheduling offers Olga's times first; any psychologist is one explicit tap away.
    await my_booking(first, a_id)
    await first.press(t("mine-move"))
    assert re.sub(r"<[^>]+>", "", t("sess-same-days").format(name=OLGA)) in screen(first)
    assert (
        day_label(later, lang) in shown(first).buttons and day_label(soon, lang) not in shown(first).buttons
    )
    await second.press_data(Mine(a="open", id=b_id).pack())
    await second.press(t("mine-move"))
    await second.press(t("sess-any-psychologist"))
    assert day_label(soon, lang) in shown(second).buttons
    await first.press(day_label(later, lang))
    assert f"12:00 · {OLGA}" in shown(first).buttons and not any(ANNA in b for b in shown(first).buttons)
    await first.press(f"12:00 · {OLGA}")
    await first.press(t("book-move-ok"))
    assert plain(t("book-moved")) in screen(first)
    calendar, event = ics(first)
    assert event.one("UID").value == uid and event.one("SEQUENCE").value == "1"
    assert event.one("DTSTART").value == f"{ymd(later)}T120000" and calendar.one("METHOD").value == "PUBLISH"
    async with bot.app.sessions() as session:
        moved = await session.scalar(select(Booking).where(Booking.previous_id == a_id))
        assert (
            moved.slot.psychologist_id == booked.olga_id
            and moved.room != (await session.get(Booking, a_id)).room
        )

    # Cancelling sends the calendar's cancellation: the same event, one version up.
    await my_booking(first, moved.id)
    await first.press(t("mine-cancel"))
    await first.press(t("mine-cancel-yes"))
    calendar, event = ics(first)
    assert calendar.one("METHOD").value == "CANCEL" and event.one("STATUS").value == "CANCELLED"
    assert event.one("UID").value == uid and event.one("SEQUENCE").value == "2"
    assert event.one("ORGANIZER").params["CN"] == "Demeu"
    neutral(first.documents[-1].file.data)

    # A teacher who wants it may choose detailed titles.
    await second.press_data(Settings(action="cal").pack())
    await second.press(t("sess-calendar-use-detail"))
    assert t("sess-calendar-detail") in screen(second)
    await second.press_data(Mine(a="ics", id=b_id).pack())
    _calendar, event = ics(second)
    assert event.one("SUMMARY").text != "Demeu" and OLGA in event.one("DESCRIPTION").text


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_the_menu_pauses_a_live_chat_with_a_way_back(fake_api, start_bot, lang):
    t = texts(lang)
    bot = await start_bot(chat={"grace_minutes": 0})
    async with bot.app.sessions.begin() as session:
        teacher_row = await users.create(session, 8401, lang)
        psy_row = await users.create(session, 7401, lang)
        teacher_row.consent_at = psy_row.consent_at = utcnow()
        psy_row.role = "psychologist"
    async with bot.app.sessions() as session:
        now = utcnow()
        chat = await bot.app.chat_clock.plan_for_booking(
            session,
            booking_id=1,
            teacher_id=teacher_row.id,
            psychologist_id=psy_row.id,
            starts_at=now,
            ends_at=now + timedelta(hours=1),
        )
        await session.commit()
    teacher, psy = (
        fake_api.user(user_id=8401, language_code=lang),
        fake_api.user(user_id=7401, language_code=lang),
    )
    await eventually(lambda: any(t("chat-enter") in m.buttons for m in teacher.messages), "the chat opens")
    await teacher.send_text("Здравствуйте")
    assert len(copies_to(fake_api, psy.id)) == 1

    # The menu, opened during the chat: the chat is paused, said so, with the way back first.
    await teacher.send_text("/menu")
    assert plain(t("sess-chat-away")) in teacher.last_text
    assert teacher.last.buttons[0] == t("sess-chat-back")
    await teacher.send_text("а меню тоже уходит психологу?")
    assert len(copies_to(fake_api, psy.id)) == 1, "typed in the menu: not relayed"
    assert plain(t("sess-chat-not-sent")) in teacher.last_text
    await teacher.press_data(Menu(item="main").pack())  # the menu again: still says where they are
    assert plain(t("sess-chat-away")) in teacher.last_text
    # A menu press does the same for the psychologist.
    await psy.press_data(Menu(item="main").pack(), message_id=psy.messages[-1].message_id)
    await psy.send_text("это для меню")
    assert copies_to(fake_api, teacher.id) == []

    # One tap back, and the conversation goes on.
    await teacher.press(t("sess-chat-back"))
    assert t("chat-inside") in teacher.last_text
    await teacher.send_text("Я снова в чате")
    assert len(copies_to(fake_api, psy.id)) == 2
    await psy.press_data(Chat(action="enter", id=chat.id).pack(), message_id=psy.messages[-1].message_id)
    await psy.send_text("Слушаю вас")
    assert len(copies_to(fake_api, teacher.id)) == 1


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_reminders_caught_up_after_downtime_arrive_once(fake_api, start_bot, lang):
    bot = await start_bot(booking={"min_notice_hours": 0})
    starts = utcnow() + timedelta(days=2)
    async with bot.app.sessions.begin() as session:
        profile = await psychologist(session, 7501, lang, OLGA, [starts])
        teacher = await users.create(session, 8501, lang)
        teacher.consent_at = utcnow()
        slot = await session.scalar(select(Slot).where(Slot.psychologist_id == profile.id))
        assert (await bot.app.bookings.book(session, teacher, slot.id, None, utcnow())).ok
    await bot.stop()
    # The bot was down while both the 24 h and the 1 h reminder came due: the session is in 30 minutes.
    async with bot.app.sessions.begin() as session:
        slot = await session.get(Slot, slot.id)
        slot.starts_at = utcnow() + timedelta(minutes=30)
        for reminder in (await session.scalars(select(Reminder))).all():
            offset = timedelta(seconds=int(reminder.key.rsplit(":", 1)[-1]))
            reminder.due_at, reminder.expires_at = slot.starts_at - offset, slot.starts_at

    again = await start_bot(booking={"min_notice_hours": 0})
    person = fake_api.user(user_id=8501, language_code=lang)
    await wait_for(lambda: any("⏰" in (m.text or "") for m in person.messages))
    await fake_api.wait_idle()
    reminders = [m.text for m in person.messages if "⏰" in (m.text or "")]
    assert len(reminders) == 1 and ROOM.search(reminders[0]), reminders  # the nearest, with the room
    async with again.app.sessions() as session:
        statuses = sorted(
            (r.key.rsplit(":", 2)[-2], r.status) for r in await session.scalars(select(Reminder))
        )
    assert statuses.count(("teacher", "sent")) == 1 and ("teacher", "cancelled") in statuses


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_group_sessions_give_an_enrolled_teacher_a_way_in(fake_api, start_bot, lang):
    t = texts(lang)
    bot = await start_bot()
    place = "ул. Абая 10, корпус Б, 3 этаж, кабинет 312, вход со двора"
    coordinator = fake_api.user(user_id=7601, language_code=lang)
    await agree(coordinator, lang)
    async with bot.app.sessions.begin() as session:
        (await users.by_telegram_id(session, 7601)).role = "coordinator"

    # The coordinator's form asks an office session for its full address and how to find the cabinet.
    await coordinator.send_text("/menu")
    await coordinator.press(t("menu-coord"))
    await coordinator.press(t("co-gnew"))
    await coordinator.press(t("groups-kind-consult"))
    await coordinator.send_text("Кездесу\nСипаттама")
    await coordinator.send_text("Встреча\nОписание")
    starts = (utcnow() + timedelta(days=3)).astimezone(bot.settings.tz)
    await coordinator.send_text(starts.strftime("%d.%m.%Y") + " 15:00")
    await coordinator.press(t("co-g-minutes").format(minutes=60))
    await coordinator.send_text("5")
    await coordinator.press(t("groups-format-offline"))
    await coordinator.press_data(coordinator.last.callback_data[0])  # the first region
    assert plain(t("sess-place-ask")) in coordinator.last_text
    await coordinator.send_text(place)
    await coordinator.press(t("groups-language-" + lang))
    await coordinator.press(t("co-g-fac-none"))
    assert plain(t("co-g-created")) in coordinator.last_text
    async with bot.app.sessions.begin() as session:
        office = await session.scalar(select(GroupSession))
        online = await groups.create_session(
            session,
            title_kk="Онлайн",
            title_ru="Онлайн",
            starts_at=utcnow() + timedelta(minutes=30),
            duration_min=60,
            capacity=5,
            format="online",
            language=lang,
        )
    assert office.place == place and office.format == "offline"

    teacher = fake_api.user(user_id=8601, language_code=lang)
    await agree(teacher, lang)
    await teacher.press_data(Group(a="join", s=office.id).pack())
    assert place in screen(teacher)
    await teacher.press(t("sess-ics-button"))
    _calendar, event = ics(teacher)
    neutral(teacher.documents[-1].file.data)
    uid = event.one("UID").value
    await teacher.press_data(Group(a="join", s=online.id).pack())
    room = ROOM.search(screen(teacher))
    assert room and plain(t("sess-room-group")) in screen(teacher)
    await teacher.press(t("sess-ics-button"))
    _calendar, other = ics(teacher)
    online_uid = other.one("UID").value
    assert online_uid != uid

    # Leaving the office session cancels its calendar event.
    await teacher.press_data(Group(a="leave", s=office.id).pack())
    await teacher.press(t("groups-leave-confirm"))
    calendar, event = ics(teacher)
    assert calendar.one("METHOD").value == "CANCEL" and event.one("STATUS").value == "CANCELLED"
    assert event.one("UID").value == uid and event.one("SEQUENCE").value == "1"
    assert event.one("DTSTART").value == starts.strftime("%Y%m%d") + "T150000"

    # The coordinator calls the online session off: its calendar event is cancelled too, for those
    # who were given one (and no file at all for a teacher who never took one).
    other = fake_api.user(user_id=8602, language_code=lang)
    await agree(other, lang)
    await other.press_data(Group(a="join", s=online.id).pack())
    await coordinator.press_data(Coord(a="gkill", i=online.id).pack())
    calendar, event = ics(teacher)
    assert calendar.one("METHOD").value == "CANCEL" and event.one("UID").value == online_uid
    assert other.documents == [] and plain(t("groups-session-cancelled")) in other.last_text


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_a_teacher_waiting_for_a_time_is_told_once(fake_api, start_bot, lang):
    t = texts(lang)
    bot = await start_bot(booking={"min_notice_hours": 0})
    async with bot.app.sessions.begin() as session:
        profile = await psychologist(session, 7701, lang, OLGA, [])
    waiting = [fake_api.user(user_id=8700 + n, language_code=lang) for n in (1, 2)]
    for teacher in waiting:
        await agree(teacher, lang)
        for _twice in range(2):  # asking again changes nothing
            await teacher.press_data(Menu(item="book").pack())
            await teacher.press(t("bk-format-video"))
            await teacher.press(t("book-any-language"))
            assert plain(t("book-no-days")) in screen(teacher)
            await teacher.press(t("sess-wait"))
            assert plain(t("sess-wait-saved")) in screen(teacher)
    async with bot.app.sessions.begin() as session:
        # One who asked longer ago than times are published ahead is let go, not told.
        stale = await users.create(session, 8709, lang)
        stale.consent_at = utcnow()
        session.add(
            BookingWait(teacher_id=stale.id, format="video", created_at=utcnow() - timedelta(days=40))
        )
        slot = await repo.add_slot(session, profile, utcnow() + timedelta(days=1), 50, "video")

    def told(teacher) -> list[str]:
        return [m.text for m in teacher.messages if m.text and plain(t("sess-wait-found")) in m.text]

    # One free time: the longest waiting is told first, the next one a look later, then nobody again.
    worker = worker_of(bot.app)
    for expected in ([1, 0], [1, 1], [1, 1]):
        await plan_waits(worker, bot.app.bookings)
        await wait_for(lambda expected=expected: [len(told(u)) for u in waiting] == expected)
        await fake_api.wait_idle()
        assert [len(told(u)) for u in waiting] == expected
    assert fake_api.user(user_id=8709, language_code=lang).messages == []
    # Waiting shows in My bookings, and stops with one tap.
    second = waiting[1]
    await second.press_data(Book(a="wait", f="office").pack())
    await second.press_data(Menu(item="mine").pack())
    assert t("sess-waiting").format(count=1) in screen(second)
    await second.press(t("sess-wait-stop"))
    assert t("sess-wait-stopped") in screen(second) and t("sess-wait-stop") not in shown(second).buttons
    async with bot.app.sessions() as session:
        assert await session.scalar(select(BookingWait)) is None
    # Its button leads to that day's free times.
    first = waiting[0]
    message = next(m for m in first.messages if m.text in told(first))
    await first.press(t("sess-wait-see"), message_id=message.message_id)
    day = slot.starts_at.astimezone(ALMATY)
    assert any(
        b.startswith(f"{day:%H:%M}")
        for b in next(m for m in first.messages if m.message_id == message.message_id).buttons
    )
