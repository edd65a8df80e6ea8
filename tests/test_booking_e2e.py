"""Booking end to end through the fake Bot API server, in Kazakh and Russian: a psychologist joins
by invite, fills the profile and publishes slots; a teacher books with a note and gets the .ics;
the psychologist is told; a stale button for a taken slot; reschedule, confirm, cancel both ways."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.telegram.callbacks import Book, Menu, Psy
from bot.views.booking import day_label
from storage.models import Booking

ALMATY = ZoneInfo("Asia/Almaty")
NOTE = "Устала, не сплю перед проверкой"

T = {
    "kk": {
        "lang": "Қазақша",
        "agree": "Келісемін",
        "cabinet": "Психолог кабинеті",
        "profile": "Профиль",
        "name": "Аты",
        "formats": "Түрлері",
        "video": "Бейнеқоңырау",
        "link": "Бейне сілтемесі",
        "visible": "профиліңізді көріп",
        "add": "Уақыт қосу",
        "minutes": "50 мин",
        "added": "Уақыт қосылды",
        "book": "Консультация",
        "any": "Кез келген тіл",
        "add_note": "Жазба қосу",
        "ok": "Жазылу",
        "done": "Сіз жазылдыңыз",
        "new": "Жаңа жазылу",
        "taken": "жаңа ғана",
        "mine": "Менің жазылуларым",
        "move": "Ауыстыру",
        "move_ok": "Осы уақытқа ауыстыру",
        "moved_psy": "Жазылу ауыстырылды",
        "moved": "Жазылу ауыстырылды",
        "confirm": "Растау",
        "confirmed": "растады",
        "cancel": "Жазылуды болдырмау",
        "yes": "Иә, болдырмау",
        "cancelled_psy": "Жазылудан бас тартты",
        "psy_cancel": "Болдырмау",
        "reason_sent": "бас тартылды",
        "teacher_told": "кеңесін болдырмады",
        "back": "Артқа",
    },
    "ru": {
        "lang": "Русский",
        "agree": "Согласен",
        "cabinet": "Кабинет психолога",
        "profile": "Профиль",
        "name": "Имя",
        "formats": "Форматы",
        "video": "Видеозвонок",
        "link": "Ссылка на видео",
        "visible": "видят ваш профиль",
        "add": "Добавить время",
        "minutes": "50 мин",
        "added": "Время добавлено",
        "book": "консультацию",
        "any": "Любой язык",
        "add_note": "Добавить заметку",
        "ok": "Записаться",
        "done": "Вы записаны",
        "new": "Новая запись",
        "taken": "только что заняли",
        "mine": "Мои записи",
        "move": "Перенести",
        "move_ok": "Перенести сюда",
        "moved_psy": "Перенос записи",
        "moved": "Запись перенесена",
        "confirm": "Подтвердить",
        "confirmed": "подтвердил",
        "cancel": "Отменить запись",
        "yes": "Да, отменить",
        "cancelled_psy": "Отмена записи",
        "psy_cancel": "Отменить",
        "reason_sent": "отменена",
        "teacher_told": "отменил консультацию",
        "back": "Назад",
    },
}
MENU_BOOK = {"kk": "Психологқа жазылу", "ru": "Записаться на консультацию"}


def screen(user) -> str:
    """The newest text message (the .ics document may follow the booking summary)."""
    return next(m.text for m in reversed(user.messages) if m.kind == "text")


async def join(user, t) -> None:
    await user.send_text("/start")
    await user.press(t["lang"])
    await user.press(t["agree"])


async def invite_psychologist(fake_api, lang: str):
    admin = fake_api.user(user_id=7001, language_code="ru")
    await join(admin, T["ru"])
    await admin.press("Администратор")
    await admin.press("Пригласить психолога")
    await admin.press("Все регионы")
    payload = re.search(r"start=(inv_[\w-]+)", admin.last_text).group(1)
    psychologist = fake_api.user(user_id=7002, first_name="Анна", language_code=lang)
    await psychologist.send_text("/start " + payload)
    await psychologist.press(T[lang]["agree"])
    return psychologist


async def set_up_profile_and_slots(psychologist, t, day: str) -> None:
    await psychologist.press(t["cabinet"])
    await psychologist.press(t["profile"])
    await psychologist.press(t["name"])
    await psychologist.send_text("Анна С.")
    await psychologist.press(t["formats"])
    await psychologist.press(t["video"])
    await psychologist.press(t["back"])
    await psychologist.press(t["link"])
    await psychologist.send_text("https://meet.example.org/anna")
    await psychologist.press_data(Menu(item="psy").pack())
    assert t["visible"] in psychologist.last_text
    await psychologist.press(t["add"])
    for at in ("10:00", "11:00"):
        await psychologist.press_data(Psy(a="dt", v=day).pack())
        await psychologist.press(at)
        await psychologist.press(t["minutes"])
        await psychologist.press(t["video"])
        assert t["added"] in psychologist.last_text and at in psychologist.last_text


async def open_day(teacher, t, day: str) -> None:
    await teacher.press_data(Menu(item="book").pack())
    await teacher.press(t["video"])
    await teacher.press(t["any"])
    await teacher.press_data(Book(a="day", f="video", d=day).pack())


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_psychologist_publishes_teacher_books_moves_and_cancels(fake_api, start_bot, lang, caplog):
    caplog.set_level(logging.DEBUG)
    t = T[lang]
    bot = await start_bot(bot={"admins": [7001]})
    tomorrow = (datetime.now(ALMATY) + timedelta(days=1)).date()
    day = tomorrow.strftime("%Y%m%d")

    psychologist = await invite_psychologist(fake_api, lang)
    await set_up_profile_and_slots(psychologist, t, day)

    teacher = fake_api.user(user_id=8001, first_name="Айгүл", language_code=lang)
    other = fake_api.user(user_id=8002, first_name="Ерлан", language_code=lang)
    await join(teacher, t)
    await join(other, t)
    code = re.search(r"T-[0-9A-Z]{6}", teacher.last_text).group(0)

    # The other teacher is looking at the same times when the first one books 10:00.
    await open_day(other, t, day)
    stale_message = other.last.message_id
    await open_day(teacher, t, day)
    assert "10:00 · Анна С." in teacher.last.buttons and "11:00 · Анна С." in teacher.last.buttons
    await teacher.press("10:00")
    assert "Анна С." in teacher.last_text
    await teacher.press(t["add_note"])
    await teacher.send_text(NOTE)
    assert NOTE in teacher.last_text
    await teacher.press(t["ok"])
    # Tomorrow's video session: no link yet, and never the profile's permanent one (its own room comes
    # shortly before the start, tests/test_sessions_e2e.py).
    assert t["done"] in screen(teacher) and "meet.example.org" not in screen(teacher)

    ics = teacher.documents[-1]
    assert ics.file.filename.endswith(".ics")
    content = ics.file.data.decode()
    assert f"DTSTART;TZID=Asia/Almaty:{day}T100000" in content and "BEGIN:VTIMEZONE" in content
    assert f"DTEND;TZID=Asia/Almaty:{day}T105000" in content

    notice = psychologist.last_text
    assert t["new"] in notice and code in notice and NOTE in notice and "10:00" in notice
    assert "Айгүл" not in notice

    # A stale "10:00" on the other teacher's screen: told it was just taken, shown what is free now.
    await other.press("10:00", message_id=stale_message)
    assert any(t["taken"] in alert for alert in other.alerts)
    assert "11:00 · Анна С." in other.last.buttons and "10:00 · Анна С." not in other.last.buttons

    # Reschedule to 11:00: the teacher and the psychologist both hear of it.
    await teacher.press_data(Menu(item="mine").pack())
    await teacher.press("10:00")
    await teacher.press(t["move"])
    await teacher.press(day_label(tomorrow, lang))
    await teacher.press("11:00")
    await teacher.press(t["move_ok"])
    assert t["moved"] in screen(teacher) and "11:00" in screen(teacher)
    assert t["moved_psy"] in psychologist.last_text and "11:00" in psychologist.last_text
    assert NOTE in psychologist.last_text

    # The psychologist confirms from the notice; the teacher is told.
    await psychologist.press(t["confirm"])
    assert t["confirmed"] in screen(teacher)

    # The teacher cancels; the psychologist is told.
    await teacher.press_data(Menu(item="mine").pack())
    await teacher.press("11:00")
    await teacher.press(t["cancel"])
    await teacher.press(t["yes"])
    assert t["cancelled_psy"] in psychologist.last_text and code in psychologist.last_text

    # The other teacher books 10:00 (free again); the psychologist cancels it with a reason.
    await open_day(other, t, day)
    await other.press("10:00")
    await other.press(t["ok"])
    assert t["done"] in screen(other)
    await psychologist.press(t["psy_cancel"])
    await psychologist.send_text("Заболела")
    assert t["reason_sent"] in psychologist.last_text
    assert t["teacher_told"] in screen(other) and "Заболела" in screen(other)

    async with bot.app.sessions() as session:
        states = sorted((await session.scalars(select(Booking.state))).all())
        assert states == ["cancelled", "cancelled", "moved"]
    assert NOTE not in caplog.text and "Заболела" not in caplog.text


async def test_deleting_my_data_cancels_the_booking_and_tells_the_psychologist(fake_api, start_bot):
    from storage.models.base import utcnow
    from storage.repo import booking as repo
    from storage.repo import users

    bot = await start_bot()
    psychologist = fake_api.user(user_id=7002, language_code="kk")
    async with bot.app.sessions.begin() as session:
        user = await users.create(session, psychologist.id, "kk")
        user.role, user.consent_at = "psychologist", utcnow()
        profile = await repo.ensure_profile(session, user)
        profile.display_name, profile.formats, profile.published = "Анна С.", "chat", True
        starts_at = datetime.combine(
            (datetime.now(ALMATY) + timedelta(days=2)).date(), datetime.min.time().replace(hour=15), ALMATY
        )
        await repo.add_slot(session, profile, starts_at, 50, "chat")
    teacher = fake_api.user(user_id=8001, language_code="ru")
    await join(teacher, T["ru"])
    await teacher.press_data(Menu(item="book").pack())
    await teacher.press("Анонимный чат")
    await teacher.press("Любой язык")
    await teacher.press(day_label(starts_at.date(), "ru"))
    await teacher.press("15:00")
    await teacher.press("Записаться")
    assert "Жаңа жазылу" in psychologist.last_text

    await teacher.press_data(Menu(item="settings").pack())
    await teacher.press("Удалить мои данные")
    await teacher.press("удалить всё")
    await fake_api.wait_idle()
    assert "деректерін өшірді" in psychologist.last_text and "15:00" in psychologist.last_text
    async with bot.app.sessions() as session:
        assert (await session.scalars(select(Booking))).all() == []
