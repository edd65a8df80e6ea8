"""Per-teacher limits end to end through the fake Bot API server, in Kazakh and Russian: the question
past the day's limit gets a calm explanation and no psychologist hears of it (a crisis question
still goes); booking and cancelling stop at their limits; a burst of messages gets one notice, and
a crisis message within it still gets the safety screen first."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

import bot.telegram.throttle
from bot.telegram.callbacks import Book, BookAction, Menu, Mine, MineAction
from bot.telegram.i18n import compile_translations
from storage.models import AnonQuestion, Booking
from storage.models.base import utcnow
from storage.repo import booking as booking_repo
from storage.repo import users
from tests.test_chat_e2e import add_user, eventually

TRANSLATIONS = compile_translations()
TEACHER = {"user_id": 710001, "first_name": "Айгүл", "username": "aigul_teacher", "language_code": "kk"}
PSY = {"user_id": 720001, "first_name": "Ерлан", "username": "erlan_psy", "language_code": "ru"}
CRISIS = {"kk": "Қорқамын, кейде өмір сүргім келмейді", "ru": "Не хочу больше жить"}
ALARM = {"kk": "маңызды", "ru": "важно"}


def tr(lang: str, key: str, **values: object) -> str:
    translation = TRANSLATIONS[lang]  # a count picks its plural form (limit-*)
    count = values.get("count")
    text = translation.ngettext(key, key, count) if isinstance(count, int) else translation.gettext(key)
    return text.format(**values)


async def ask(teacher, text: str) -> None:
    await teacher.press_data(Menu(item="ask").pack())
    await teacher.send_text(text)


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_the_question_past_the_limit_is_explained_and_reaches_no_psychologist(
    fake_api, start_bot, lang
):
    bot = await start_bot(limits={"questions_per_day": 2})
    teacher = await add_user(bot, fake_api, TEACHER | {"language_code": lang})
    psy = await add_user(bot, fake_api, PSY, role="psychologist")
    await teacher.send_text("/menu")

    for number in (1, 2):
        await ask(teacher, f"Сұрақ {number}")
        await eventually(lambda n=number: len(psy.messages) == n, "the psychologist is told")
    await ask(teacher, "Сұрақ 3")
    assert teacher.last_text == tr(lang, "limit-questions", count=2)
    assert any(tr(lang, "menu-sos") in b for b in teacher.last.buttons), "Urgent help one tap away"
    assert len(psy.messages) == 2, "no notice past the limit"

    # A question with a crisis phrase is never held back: the safety screen, then the psychologist.
    await ask(teacher, CRISIS[lang])
    assert any(ALARM[lang] in (m.text or "") for m in teacher.messages[-2:])
    await eventually(lambda: len(psy.messages) == 3, "the crisis question reaches the psychologist")
    async with bot.app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(AnonQuestion)) == 3


async def add_slots(bot, psychologist_id: int, count: int) -> list[int]:
    async with bot.app.sessions() as session:
        user = await users.by_telegram_id(session, psychologist_id)
        profile = await booking_repo.ensure_profile(session, user)
        profile.display_name, profile.languages, profile.formats = "Ерлан", "ru,kk", "video"
        profile.regions, profile.video_link, profile.published = "KZ-61", "https://meet.example/x", True
        start = utcnow().replace(second=0, microsecond=0) + timedelta(days=2)
        slots = [
            await booking_repo.add_slot(session, profile, start + timedelta(hours=n), 50, "video")
            for n in range(count)
        ]
        await session.commit()
        return [slot.id for slot in slots if slot is not None]


def assert_limit_screen(teacher, text: str, lang: str) -> None:
    """The pressed screen now explains the limit (the calendar file stays the newest message)."""
    screens = [m for m in teacher.messages if m.text == text]
    assert screens, text
    assert any(tr(lang, "menu-sos") in b for b in screens[-1].buttons), "Urgent help one tap away"


async def booking_of(bot, slot_id: int) -> Booking | None:
    async with bot.app.sessions() as session:
        return await session.scalar(select(Booking).where(Booking.slot_id == slot_id))


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_booking_and_cancelling_stop_at_their_daily_limits(fake_api, start_bot, lang):
    bot = await start_bot(limits={"bookings_per_day": 3, "cancellations_per_day": 1})
    teacher = await add_user(bot, fake_api, TEACHER | {"language_code": lang})
    psy = await add_user(bot, fake_api, PSY, role="psychologist")
    slots = await add_slots(bot, PSY["user_id"], 4)
    await teacher.send_text("/menu")

    async def book(slot_id: int) -> None:
        await teacher.press_data(Book(a=BookAction.OK, f="video", s=slot_id).pack())

    async def cancel(slot_id: int) -> None:
        booking = await booking_of(bot, slot_id)
        await teacher.press_data(Mine(a=MineAction.CANCELLED, id=booking.id).pack())

    await book(slots[0])
    await cancel(slots[0])
    await book(slots[1])
    await eventually(lambda: len(psy.messages) == 3, "booked, cancelled, booked: three notices")
    await cancel(slots[1])
    assert_limit_screen(teacher, tr(lang, "limit-cancellations", count=1), lang)
    assert (await booking_of(bot, slots[1])).state == "booked"

    await book(slots[2])
    await book(slots[3])
    assert_limit_screen(teacher, tr(lang, "limit-bookings", count=3), lang)
    assert await booking_of(bot, slots[3]) is None
    await eventually(lambda: len(psy.messages) == 4, "the third booking is told")
    assert len(psy.messages) == 4, "nothing past the limits"


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_a_burst_gets_one_notice_and_a_crisis_within_it_the_safety_screen(
    fake_api, start_bot, lang, monkeypatch
):
    now = [1000.0]
    monkeypatch.setattr(bot.telegram.throttle, "monotonic", lambda: now[0])
    running = await start_bot(limits={"messages_per_second": 2})
    teacher = await add_user(running, fake_api, TEACHER | {"language_code": lang})
    await teacher.send_text("/menu")  # the first of this second
    await teacher.send_text("сәлем 0")  # the second: answered as ever
    await teacher.send_text("сәлем 1")  # the third: the notice
    for number in range(2, 5):
        await teacher.send_text(f"сәлем {number}", expect_silence=True)
    notices = [m for m in teacher.messages if m.text == tr(lang, "limit-too-fast")]
    assert len(notices) == 1, "one calm notice, then silence"
    assert any(tr(lang, "menu-sos") in b for b in notices[0].buttons)
    replied = len(teacher.messages)
    await teacher.send_text("тағы", expect_silence=True)
    assert len(teacher.messages) == replied, "silence for the rest of the second"

    await teacher.send_text(CRISIS[lang])
    assert ALARM[lang] in (teacher.messages[replied].text or ""), "the safety screen first, even now"

    now[0] += 1  # the next second: a normal pace is answered again
    replied = len(teacher.messages)
    await teacher.send_text("/menu")
    assert len(teacher.messages) == replied + 1


COORDINATOR = {"user_id": 730001, "first_name": "Дана", "username": "dana_coord", "language_code": "kk"}


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_a_psychologist_mutes_a_pseudonym_and_the_coordinator_lifts_it(fake_api, start_bot, lang):
    bot = await start_bot()
    teacher = await add_user(bot, fake_api, TEACHER)
    psy = await add_user(bot, fake_api, PSY | {"language_code": lang}, role="psychologist")
    coordinator = await add_user(bot, fake_api, COORDINATOR | {"language_code": lang}, role="coordinator")
    await teacher.send_text("/menu")
    await ask(teacher, "Сұрақ 1")
    await eventually(lambda: len(psy.messages) == 1, "the psychologist is told")

    await psy.press(tr(lang, "mute-days", days=7))
    assert tr(lang, "mute-done", period=tr(lang, "mute-days", days=7)) in psy.alerts
    await ask(teacher, "Сұрақ 2")
    assert teacher.last_text == tr("kk", "ask-sent"), "the teacher's question is sent, and waits"
    await ask(teacher, CRISIS["kk"])
    await eventually(lambda: len(psy.messages) == 2, "a crisis question is announced even now")
    assert not any(tr(lang, "mute-days", days=7) in b for b in psy.last.buttons), "the safety net has no mute"
    await ask(teacher, "Сұрақ 4")
    assert len(psy.messages) == 2, "no notice while muted"

    await coordinator.send_text("/mutes")
    assert coordinator.last_text == tr(lang, "mutes-title")
    await coordinator.send_text("/menu")  # the same list is one button away on the coordinator's home
    await coordinator.press(tr(lang, "menu-coord"))
    await coordinator.press(tr(lang, "co-mutes"))
    assert coordinator.last_text == tr(lang, "mutes-title")
    await coordinator.press("🔔")
    assert coordinator.last_text == tr(lang, "mutes-none")
    await ask(teacher, "Сұрақ 5")
    await eventually(lambda: len(psy.messages) == 3, "notices are back")
    async with bot.app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(AnonQuestion)) == 5, (
            "every question queued"
        )
