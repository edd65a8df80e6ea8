"""Booking end to end, the parts around the booking itself, in Kazakh and Russian through the fake
Bot API: after the session the psychologist marks attended / no-show and the teacher rates it 1-5
with an optional encrypted comment (a booked chat's end asks nothing before it: one question a
session); the psychologist's weekly template, week and day views with
bookings and removing a free slot; two teachers on the same confirm screen (the late one is told);
the whole profile and the teacher's filters; `python -m bot seed-demo` and `--remove` (both databases)."""

from __future__ import annotations

import logging
import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.__main__ import parse_args
from bot.cli.admin import dispatch
from bot.config import BookingConfig
from bot.content.regions import regions
from bot.events import Events
from bot.services.bookings import Bookings
from bot.telegram.callbacks import Book, Menu, Mine, Psy
from bot.telegram.i18n import compile_translations
from bot.views import dates
from bot.views.booking import day_label
from storage import db
from storage.models import Booking, ChatSession, GroupSession, PsychologistProfile, Slot, User
from storage.models.base import utcnow
from storage.repo import booking as repo
from storage.repo import groups, users
from tests.conftest import make_settings, stored_bytes
from tests.waiting import wait_for

ALMATY = ZoneInfo("Asia/Almaty")
CATALOGUES = compile_translations()
AGREE = {"kk": ("Қазақша", "Келісемін"), "ru": ("Русский", "Согласен")}
NAME = "Сауле (тест)"
COMMENT = "Стало легче, спасибо Сауле за терпение"


def texts(lang: str):
    return lambda key: CATALOGUES[lang].gettext(key)


def plain(text: str) -> str:
    """A catalogue text as the user sees it (HTML tags gone), cut before the first placeholder."""
    return re.sub(r"<[^>]+>", "", text).split("{")[0].strip()


def rating_prompts(fake_api, user) -> list:
    """Messages sent to the user with the 1-5 rating buttons."""
    return [
        c
        for c in fake_api.calls
        if c.method == "sendMessage"
        and c.status == 200
        and c.chat_id == user.id
        and "mb:rate" in str(c.params.get("reply_markup"))
    ]


def ymd(day: date) -> str:
    return day.strftime("%Y%m%d")


def screen(user) -> str:
    """The newest text message (the .ics document may follow it)."""
    return next(m.text for m in reversed(user.messages) if m.kind == "text")


async def agree(user, lang: str) -> str:
    await user.send_text("/start")
    await user.press(AGREE[lang][0])
    await user.press(AGREE[lang][1])
    return re.search(r"T-[0-9A-Z]{6}", user.last_text).group(0)


async def make_psychologist(bot, telegram_id: int, lang: str, day: date | None = None, times=()) -> None:
    """A published psychologist receiving in the bot's chat, with free slots at `times` on `day`."""
    async with bot.app.sessions.begin() as session:
        user = await users.create(session, telegram_id, lang)
        user.role, user.consent_at = "psychologist", utcnow()
        profile = await repo.ensure_profile(session, user)
        profile.display_name, profile.languages, profile.formats, profile.published = NAME, lang, "chat", True
        for at in times:
            await repo.add_slot(session, profile, datetime.combine(day, at, ALMATY), 50, "chat")


async def open_day(teacher, t, day: date) -> None:
    await teacher.press_data(Menu(item="book").pack())
    await teacher.press(t("bk-format-chat"))
    await teacher.press(t("book-any-language"))
    await teacher.press_data(Book(a="day", f="chat", d=ymd(day)).pack())


async def book(teacher, t, day: date, at: str) -> None:
    await open_day(teacher, t, day)
    await teacher.press(f"{at} · {NAME}")
    await teacher.press(t("book-ok"))
    assert plain(t("book-done")) in screen(teacher)


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_attended_then_rated_with_an_encrypted_comment_and_a_no_show(fake_api, start_bot, lang, caplog):
    caplog.set_level(logging.DEBUG)
    t = texts(lang)
    # No minimum notice; any cancel within 48 h of the start is late.
    bot = await start_bot(booking={"min_notice_hours": 0, "cancel_cutoff_hours": 48})
    psychologist = fake_api.user(user_id=7102, language_code=lang)
    day = (datetime.now(ALMATY) + timedelta(days=1)).date()
    await make_psychologist(bot, psychologist.id, lang, day, (time(10), time(11), time(12)))
    first = fake_api.user(user_id=8111, language_code=lang)
    second = fake_api.user(user_id=8112, language_code=lang)
    first_code, second_code = await agree(first, lang), await agree(second, lang)
    await book(first, t, day, "10:00")
    assert first_code in psychologist.last_text
    await book(second, t, day, "11:00")
    assert second_code in psychologist.last_text
    async with bot.app.sessions() as session:
        attended_id, missed_id = (
            await session.scalars(select(Booking.id).order_by(Booking.id).limit(2))
        ).all()

    # A late cancel is allowed, the teacher is warned first and the psychologist is told it was late.
    third = fake_api.user(user_id=8113, language_code=lang)
    third_code = await agree(third, lang)
    await book(third, t, day, "12:00")
    await third.press_data(Menu(item="mine").pack())
    await third.press("12:00")
    await third.press(t("mine-cancel"))
    assert t("mine-cancel-late").format(hours="48") in screen(third)
    await third.press(t("mine-cancel-yes"))
    assert plain(t("mine-cancelled")) in screen(third)
    assert third_code in psychologist.last_text and t("psy-notice-late") in psychologist.last_text
    # The notice's Confirm / Cancel, pressed after the teacher cancelled: told it no longer stands.
    notice = next(m for m in psychologist.messages if third_code in (m.text or "") and m.inline_keyboard)
    await psychologist.press(t("psy-confirm"), message_id=notice.message_id)
    assert t("psy-booking-closed") in psychologist.alerts
    notice = next(m for m in psychologist.messages if m.message_id == notice.message_id)
    assert t("psy-state-cancelled") in notice.text and t("psy-confirm") not in notice.buttons
    async with bot.app.sessions() as session:
        cancelled_id = await session.scalar(select(Booking.id).where(Booking.state == "cancelled"))
    await psychologist.press_data(Psy(a="bcx", id=cancelled_id).pack(), message_id=notice.message_id)
    assert psychologist.alerts.count(t("psy-booking-closed")) == 2
    await psychologist.send_text("/menu")  # a fresh screen under the notices

    # Before the start: no attended / no-show buttons, and a forged one is refused.
    await psychologist.press_data(Psy(a="bk", id=attended_id).pack())
    assert t("psy-attended") not in psychologist.last.buttons
    await psychologist.press_data(Psy(a="att", id=attended_id).pack())
    assert t("psy-mark-refused") in psychologist.alerts

    # The sessions took place: move them two days back (rather than waiting for them).
    async with bot.app.sessions.begin() as session:
        for slot in (await session.scalars(select(Slot))).all():
            slot.starts_at -= timedelta(days=2)
    held = day - timedelta(days=2)

    # From the day view: 10:00 attended -> the teacher is asked for a rating.
    await psychologist.press_data(Psy(a="day", v=ymd(held)).pack())
    await psychologist.press(f"10:00 · {first_code}")
    await psychologist.press(t("psy-attended"))
    assert t("psy-saved") in psychologist.alerts
    assert t("psy-state-attended") in psychologist.last_text
    assert t("psy-attended") not in psychologist.last.buttons
    # The rating prompt is the durable feedback reminder, due at once for a session that ended long ago.
    await wait_for(lambda: rating_prompts(fake_api, first))
    assert plain(t("teacher-notice-rate").split("}")[-1]) in first.last_text
    await first.press("⭐⭐⭐⭐")
    assert plain(t("rate-thanks-comment")) in first.last_text
    thanks = first.last.message_id
    await first.send_text(COMMENT)
    assert t("rate-comment-saved") in first.last_text
    # Book again with the same psychologist: one tap to their times (none left here), any other one more.
    await first.press(t("sess-book-same"), message_id=thanks)
    again = next(m for m in first.messages if m.message_id == thanks)
    assert re.sub(r"<[^>]+>", "", t("sess-same-none").format(name=NAME)) in again.text
    assert t("sess-any-psychologist") in again.buttons
    assert any(t("nav-main") in b for b in first.last.buttons)
    await fake_api.wait_idle()
    assert len(rating_prompts(fake_api, first)) == 1  # asked once, not again after the mark or the rating
    # Pressing "attended" again (a stale button) changes nothing and says why.
    await psychologist.press_data(Psy(a="att", id=attended_id).pack())
    assert psychologist.alerts.count(t("psy-booking-closed")) == 3

    # 11:00 no-show: the teacher is not asked for a rating, and a forged rating is refused.
    before = len(second.messages)
    await psychologist.press(t("nav-back"))
    await psychologist.press(f"11:00 · {second_code}")
    await psychologist.press(t("psy-no-show"))
    assert t("psy-state-no_show") in psychologist.last_text
    await wait_for(lambda: len(second.messages) > before)
    await fake_api.wait_idle()
    # Issue 20: one gentle message (no penalty, the way to book again), and no rating prompt.
    assert [m.text for m in second.messages[before:]] == [t("practice-no-show-message")]
    assert rating_prompts(fake_api, second) == []
    await second.press_data(Mine(a="rate", id=missed_id, stars=5).pack())
    assert t("stale-button") in second.alerts and t("rate-gone") in screen(second)
    # Nor can one teacher rate another's session.
    await second.press_data(Mine(a="rate", id=attended_id, stars=1).pack())
    assert t("rate-gone") in screen(second)

    async with bot.app.sessions() as session:
        attended, missed = await session.get(Booking, attended_id), await session.get(Booking, missed_id)
        assert (attended.state, attended.rating, attended.rating_comment) == ("attended", 4, COMMENT)
        assert (missed.state, missed.rating) == ("no_show", None)
        assert await repo.rating_summary(session) == (1, 4.0)
    assert COMMENT not in caplog.text
    await bot.stop()
    raw = await stored_bytes(bot.settings.database.url)
    assert COMMENT.encode() not in raw


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_template_week_and_day_views_removing_a_slot_and_a_late_confirm(fake_api, start_bot, lang):
    t = texts(lang)
    bot = await start_bot()
    psychologist = fake_api.user(user_id=7202, language_code=lang)
    await make_psychologist(bot, psychologist.id, lang)
    target = (datetime.now(ALMATY) + timedelta(days=2)).date()

    # Weekly template: target's weekday, 10:00-12:00, chat, 2 weeks -> 10:00 and 11:00 on two days.
    await psychologist.send_text("/menu")
    await psychologist.press(t("menu-psy"))
    await psychologist.press(t("psy-template"))
    await psychologist.press(dates.weekdays(lang)[target.weekday()])
    await psychologist.press("10:00")
    await psychologist.press("12:00")
    await psychologist.press(t("bk-format-chat"))
    await psychologist.press(t("psy-weeks").format(n=2))
    assert t("psy-template-done").format(added=4, skipped=0) in psychologist.last_text
    async with bot.app.sessions() as session:
        starts = sorted(s.astimezone(ALMATY) for s in (await session.scalars(select(Slot.starts_at))).all())
    week_later = target + timedelta(days=7)
    assert [(s.date(), s.strftime("%H:%M")) for s in starts] == [
        (target, "10:00"),
        (target, "11:00"),
        (week_later, "10:00"),
        (week_later, "11:00"),
    ]

    # Two teachers on the same confirm screen: the first books, the second is told and sees fresh times.
    first = fake_api.user(user_id=8211, language_code=lang)
    second = fake_api.user(user_id=8212, language_code=lang)
    code = await agree(first, lang)
    await agree(second, lang)
    for teacher in (first, second):
        await open_day(teacher, t, target)
        await teacher.press(f"10:00 · {NAME}")
        assert t("book-ok") in teacher.last.buttons
    await first.press(t("book-ok"))
    await second.press(t("book-ok"))
    assert t("book-just-taken") in second.alerts
    assert f"11:00 · {NAME}" in second.last.buttons and f"10:00 · {NAME}" not in second.last.buttons
    fresh_times = second.last.message_id

    # Week view: two times on the target day, one booked.
    await psychologist.press_data(Psy(a="week", v=ymd(target)).pack())
    line = t("psy-week-line")
    assert line.format(day=day_label(target, lang), slots=2, booked=1) in psychologist.last_text
    # Day view: the booking under the teacher's code, the free time with a remove button.
    await psychologist.press(day_label(target, lang))
    chat = t("bk-format-chat")
    assert (
        t("psy-day-booked").format(time="10:00", code=code, format=chat, state=t("psy-state-booked"))
        in psychologist.last_text
    )
    assert t("psy-day-free").format(time="11:00", minutes=50, format=chat) in psychologist.last_text
    assert t("psy-remove-slot").format(time="10:00") not in psychologist.last.buttons
    await psychologist.press(t("psy-remove-slot").format(time="11:00"))
    assert t("psy-slot-removed") in psychologist.alerts
    assert "11:00" not in psychologist.last_text and code in psychologist.last_text
    # A booked slot cannot be removed, even with a forged button.
    async with bot.app.sessions() as session:
        booked_slot = await session.scalar(select(Booking.slot_id))
    await psychologist.press_data(Psy(a="rm", id=booked_slot, v=ymd(target)).pack())
    assert t("psy-slot-not-removed") in psychologist.alerts
    await psychologist.press(t("psy-week"))
    assert line.format(day=day_label(target, lang), slots=1, booked=1) in psychologist.last_text
    await psychologist.press("▶️")
    assert line.format(day=day_label(week_later, lang), slots=2, booked=0) in psychologist.last_text

    # The second teacher's 11:00 is gone now: told, and shown the days that still have time.
    await second.press(f"11:00 · {NAME}", message_id=fresh_times)
    assert second.alerts.count(t("book-just-taken")) == 2
    assert (
        day_label(week_later, lang) in second.last.buttons
        and day_label(target, lang) not in second.last.buttons
    )


BIO = {"kk": "Мұғалімдермен 10 жыл жұмыс істеймін", "ru": "Работаю с учителями 10 лет"}
ADDRESS = "Өрлеу филиалы, Алматы, 12-кабинет"


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_office_profile_calendar_slot_and_teacher_filters(fake_api, start_bot, lang):
    """The whole profile set in the bot (languages, format, region, address, bios), a slot from the
    calendar keyboard; the teacher's language and region filters, the bio and address on confirm."""
    t = texts(lang)
    other = "ru" if lang == "kk" else "kk"
    bot = await start_bot()
    psychologist = fake_api.user(user_id=7302, language_code=lang)
    async with bot.app.sessions.begin() as session:
        user = await users.create(session, psychologist.id, lang)
        user.role, user.consent_at = "psychologist", utcnow()
    target = (datetime.now(ALMATY) + timedelta(days=2)).date()
    region = regions()["KZ-75"].name(lang)

    await psychologist.send_text("/menu")
    await psychologist.press(t("menu-psy"))
    await psychologist.press(t("psy-profile"))
    await psychologist.press(t("psy-field-name"))
    await psychologist.send_text(NAME)
    await psychologist.press(t("psy-field-langs"))
    await psychologist.press(t("bk-lang-" + other))  # on, then off again: only the teacher's language stays
    assert "✓ " + t("bk-lang-" + other) in psychologist.last.buttons
    await psychologist.press(t("bk-lang-" + other))
    assert (
        "✓ " + t("bk-lang-" + lang) in psychologist.last.buttons
        and t("bk-lang-" + other) in psychologist.last.buttons
    )
    await psychologist.press(t("nav-back"))
    await psychologist.press(t("psy-field-fmts"))
    await psychologist.press(t("bk-format-office"))
    await psychologist.press(t("nav-back"))
    await psychologist.press(t("psy-field-regs"))
    await psychologist.press(region)
    await psychologist.press(t("nav-back"))
    for field, value in (("address", ADDRESS), ("bio_kk", BIO["kk"]), ("bio_ru", BIO["ru"])):
        await psychologist.press(t("psy-field-" + field))
        await psychologist.send_text(value)
    assert (
        ADDRESS in psychologist.last_text
        and BIO["kk"] in psychologist.last_text
        and BIO["ru"] in psychologist.last_text
    )
    await psychologist.press(t("nav-back"))
    assert t("psy-visible") in psychologist.last_text

    # A slot from the calendar keyboard: day, time, duration (50 by default), format.
    await psychologist.press(t("psy-add-slot"))
    await psychologist.press(str(target.day))
    await psychologist.press("10:00")
    await psychologist.press(t("psy-minutes").format(n=50))
    await psychologist.press(t("bk-format-office"))
    assert plain(t("psy-slot-added")) in psychologist.last_text and "10:00" in psychologist.last_text

    teacher = fake_api.user(user_id=8311, language_code=lang)
    code = await agree(teacher, lang)
    # The other language: nothing to offer, told so, with a way on.
    await teacher.press_data(Menu(item="book").pack())
    await teacher.press(t("bk-format-office"))
    await teacher.press(t("bk-lang-" + other))
    await teacher.press(t("book-any-region"))
    assert plain(t("book-no-days")) in teacher.last_text and t("book-change-filters") in teacher.last.buttons
    # The teacher's language and the psychologist's region: the day, the time, the confirm screen.
    await teacher.press(t("book-change-filters"))
    await teacher.press(t("bk-lang-" + lang))
    await teacher.press(region)
    await teacher.press(day_label(target, lang))
    await teacher.press(f"10:00 · {NAME}")
    confirm = teacher.last_text
    assert NAME in confirm and BIO[lang] in confirm and BIO[other] not in confirm and ADDRESS in confirm
    assert "10:00" in confirm and t("bk-format-office") in confirm
    await teacher.press(t("book-ok"))
    assert plain(t("book-done")) in screen(teacher) and ADDRESS in screen(teacher)
    assert teacher.documents[-1].file.filename.endswith(".ics")
    assert code in psychologist.last_text


# --- `python -m bot seed-demo` and `--remove`, through the CLI's parser and dispatcher, both databases ---


async def counts(sessions) -> dict[str, int]:
    async with sessions() as session:
        return {
            name: await session.scalar(select(func.count()).select_from(model))
            for name, model in (
                ("users", User),
                ("profiles", PsychologistProfile),
                ("slots", Slot),
                ("bookings", Booking),
                ("groups", GroupSession),
            )
        }


async def test_seed_demo_then_remove_exactly_the_demo_data(database_url, tmp_path, capsys):
    settings = make_settings(
        database_url, "http://127.0.0.1:1", "1:AAE-test-token-0123456789abcdefghij", tmp_path
    )
    engine = db.create_engine(database_url)
    await db.upgrade(engine)
    sessions = db.session_factory(engine)
    now = utcnow()
    # Real data that must survive: a teacher, a psychologist with a slot, a group session.
    async with sessions.begin() as session:
        teacher = await users.create(session, 5001, "kk")
        real = await users.create(session, 5002, "ru")
        real.role = "psychologist"
        profile = await repo.ensure_profile(session, real)
        profile.display_name, profile.formats, profile.published = "Реальный", "chat", True
        await repo.add_slot(session, profile, now + timedelta(days=3), 50, "chat")
        await groups.create_session(
            session,
            title_kk="Нағыз",
            title_ru="Настоящая",
            starts_at=now + timedelta(days=4),
            duration_min=60,
            capacity=5,
            format="chat",
            language="ru",
        )
        teacher_id = teacher.id
    before = await counts(sessions)

    assert await dispatch(parse_args(["seed-demo"]), settings) == 0
    assert "demo psychologists: 4" in capsys.readouterr().out
    async with sessions() as session:
        demo = await repo.demo_profiles(session)
        assert all("ДЕМО" in p.display_name and "Демо" in p.bio_kk and "Демо" in p.bio_ru for p in demo)
        assert {code for p in demo for code in p.language_list} == {"kk", "ru"}
        assert {code for p in demo for code in p.format_list} == {"video", "chat", "office"}
        assert len({code for p in demo for code in p.region_list}) >= 2
        assert all(p.published and p.user.telegram_chat_id < 0 for p in demo)  # never a real person's id
        demo_slots = (
            await session.scalars(select(Slot).where(Slot.psychologist_id.in_([p.id for p in demo])))
        ).all()
        assert all(now < s.starts_at < now + timedelta(days=15) for s in demo_slots)
        assert {s.starts_at.astimezone(settings.tz).hour for s in demo_slots} == {
            10,
            11,
            15,
            16,
        }  # local time
        assert all(any(s.psychologist_id == p.id for s in demo_slots) for p in demo)
        demo_groups = await groups.demo_sessions(session)
        assert len(demo_groups) == 3 and all(
            "ДЕМО" in g.title_kk and "ДЕМО" in g.title_ru for g in demo_groups
        )
        # A newcomer can book at once: free slots in every format.
        for fmt in ("video", "chat", "office"):
            assert await Bookings(BookingConfig(), Events()).free_slots(session, repo.Filters(fmt), utcnow())
    seeded = await counts(sessions)
    assert seeded["profiles"] == before["profiles"] + 4 and seeded["groups"] == before["groups"] + 3

    # Seeding again adds nothing.
    assert await dispatch(parse_args(["seed-demo"]), settings) == 0
    assert await counts(sessions) == seeded

    # A real teacher books a demo slot and joins a demo group session; removal takes those with it.
    async with sessions.begin() as session:
        teacher = await session.get(User, teacher_id)
        slot = (
            await Bookings(BookingConfig(), Events()).free_slots(
                session, repo.Filters("chat", "kk"), utcnow()
            )
        )[0]
        assert slot.psychologist.demo
        assert (
            await Bookings(BookingConfig(), Events()).book(session, teacher, slot.id, "тест", utcnow())
        ).ok
        assert (await groups.enroll(session, demo_groups[0].id, teacher_id, utcnow())).status == "enrolled"

    capsys.readouterr()
    assert await dispatch(parse_args(["seed-demo", "--remove"]), settings) == 0
    out = capsys.readouterr().out
    assert "demo psychologists removed: 4" in out and "demo group sessions removed: 3" in out
    assert await counts(sessions) == before
    async with sessions() as session:
        assert await repo.demo_profiles(session) == [] and await groups.demo_sessions(session) == []
        assert (await session.scalar(select(PsychologistProfile))).display_name == "Реальный"
        assert (await session.scalar(select(GroupSession))).title_ru == "Настоящая"
        assert await session.get(User, teacher_id) is not None
    # Removing twice is harmless.
    assert await dispatch(parse_args(["seed-demo", "--remove"]), settings) == 0
    assert await counts(sessions) == before
    await engine.dispose()


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_a_booked_chat_ends_with_one_question_the_star_rating(fake_api, start_bot, lang):
    """The end of a booked chat asks nothing ("did it help?" is for chats grown out of a question):
    the one question is the booking's star rating once it is marked attended, and it is what counts."""
    t = texts(lang)
    bot = await start_bot(booking={"min_notice_hours": 0}, chat={"grace_minutes": 0})
    psychologist = fake_api.user(user_id=7103, language_code=lang)
    day = (datetime.now(ALMATY) + timedelta(days=1)).date()
    await make_psychologist(bot, psychologist.id, lang, day, (time(10),))
    teacher = fake_api.user(user_id=8114, language_code=lang)
    await agree(teacher, lang)
    await book(teacher, t, day, "10:00")
    async with bot.app.sessions() as session:
        booking_id = await session.scalar(select(Booking.id))
        chat_id = await session.scalar(select(ChatSession.id).where(ChatSession.booking_id == booking_id))
    await bot.app.dispatcher["chat_clock"].open(chat_id)  # its start, without waiting for tomorrow
    await wait_for(lambda: any(t("chat-enter") in " ".join(m.buttons) for m in teacher.messages))
    await teacher.press(t("chat-enter"))
    await teacher.send_text("/end")
    await wait_for(lambda: psychologist.last_text.startswith(t("chat-ended-psy").split("{")[0]))
    assert teacher.last_text == t("chat-ended-teacher-booked")
    assert not [b for m in teacher.messages for b in m.buttons if b in (t("chat-rate-1"), t("chat-rate-0"))]

    async with bot.app.sessions.begin() as session:
        (await session.scalars(select(Slot))).one().starts_at -= timedelta(days=2)
    await psychologist.press_data(Psy(a="att", id=booking_id).pack())
    assert t("psy-saved") in psychologist.alerts
    await wait_for(lambda: rating_prompts(fake_api, teacher))
    await teacher.press("⭐⭐⭐⭐⭐")
    await fake_api.wait_idle()
    assert len(rating_prompts(fake_api, teacher)) == 1
    async with bot.app.sessions() as session:
        assert (await session.get(ChatSession, chat_id)).rating is None
        assert (await session.get(Booking, booking_id)).rating == 5
        assert await repo.rating_summary(session) == (1, 5.0)
    await bot.stop()
