"""Help first, end to end through the fake Bot API, in Kazakh and Russian: the safety screen is the
first reply to a crisis message whatever the teacher was doing, distress and worry for a student get
their own screens, the safety plan, a psychologist on duty asked to write now, the check-in."""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
from sqlalchemy import func, make_url, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.telegram.callbacks import Book, Menu, Mood, Relax, Safe, SafeAction, SelfCheck
from storage.models import SafetyPlan
from storage.models.base import utcnow
from storage.repo import booking as booking_repo
from storage.repo import users
from tests.conftest import stored_bytes
from tests.test_chat_e2e import add_user, eventually, texts
from tests.test_e2e_foundation import TEXTS, agree

CRISIS = {"kk": "кейде өмір сүргім келмейді", "ru": "иногда думаю, что не хочу жить"}
T = {
    "kk": {
        "safety": "біз үшін өте маңызды",
        "ask": "Қазір қауіпсіз жердесіз бе?",
        "yes": "Иә, қауіпсіздемін",
        "unsure": "Білмеймін",
        "no": "Жоқ, маған қауіпті",
        "plan": "Қауіпсіздік жоспарым",
        "handoff": "Психолог маған жазсын",
        "handoff_yes": "Иә, жазсын",
        "nobody": "кезекші психолог жоқ",
        "sent": "кезекші психологқа жіберілді",
        "checkin_yes": "Иә, ертең жазыңыз",
        "checkin_no": "Жоқ, рақмет",
        "checkin": "Бүгін қалыңыз қалай",
        "distress": "ауыр сияқты",
        "student": "Оқушыға алаңдаушылық",
        "call_now": "дәл қазір қоңырау шалыңыз",
        "grounding": "Жерге түсу",
        "continue": "Сауалнаманы жалғастыру",
        "step1": "Менің дабыл белгілерім",
        "plan_title": "Қауіпсіздік жоспарым",
        "unexpected": "түсінбедім",
        "take": "чат ашу",
        "chat_open": "чат",
        "question_sent": "жіберілді",
    },
    "ru": {
        "safety": "Нам очень важно",
        "ask": "Вы сейчас в безопасности?",
        "yes": "Да, я в безопасности",
        "unsure": "Не знаю",
        "no": "Нет, мне опасно",
        "plan": "Мой план безопасности",
        "handoff": "Попросить психолога написать мне",
        "handoff_yes": "Да, пусть напишет",
        "nobody": "нет психолога на дежурстве",
        "sent": "передана дежурному психологу",
        "checkin_yes": "Да, напишите завтра",
        "checkin_no": "Нет, спасибо",
        "checkin": "Как вы сегодня",
        "distress": "очень тяжело",
        "student": "Тревога за ученика",
        "call_now": "позвоните прямо сейчас",
        "grounding": "Заземление",
        "continue": "Продолжить самопроверку",
        "step1": "Мои тревожные сигналы",
        "plan_title": "Мой план безопасности",
        "unexpected": "не понял",
        "take": "Открыть чат",
        "chat_open": "чат",
        "question_sent": "отправлен",
    },
}
SHOWN = ("sendMessage", "editMessageText", "sendPhoto", "sendDocument", "copyMessage")


def replies(calls) -> list[str]:
    """What the user was shown, in order, for one update."""
    return [
        call.params.get("text") or call.params.get("caption") or ""
        for call in calls
        if call.method in SHOWN and call.status == 200
    ]


async def teacher(fake_api, user_id: int, lang: str):
    user = fake_api.user(user_id=user_id, language_code=lang)
    await agree(user, TEXTS[lang])
    return user


async def into_state(state: str, user, bot, lang: str) -> None:
    """Put the teacher where they can type: each of the places listed by the safety-net issue."""
    if state == "question":
        await user.press_data(Menu(item="ask").pack())
    elif state == "mood note":
        await user.press_data(Mood(action="score", value="2").pack())
    elif state == "journal":
        await user.press_data(Relax(action="card", value="evening").pack())
        await user.press_data(Relax(action="keep", value="evening").pack())
    elif state == "questionnaire":
        await user.press_data(SelfCheck(action="begin", inst="phq9").pack())
    elif state == "booking note":
        async with bot.app.sessions() as session:
            psychologist = await users.create(session, user.id + 50_000, "ru")
            psychologist.role = "psychologist"
            profile = await booking_repo.ensure_profile(session, psychologist)
            profile.display_name, profile.languages, profile.formats = "Ольга", "kk,ru", "video"
            profile.video_link, profile.published = "https://meet.example/room", True
            slot = await booking_repo.add_slot(session, profile, utcnow() + timedelta(days=2), 50, "video")
            await session.commit()
        await user.press_data(Book(a="note", f="video", s=slot.id).pack())


@pytest.mark.parametrize(
    "state", ["main menu", "question", "mood note", "journal", "questionnaire", "booking note"]
)
@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_the_safety_screen_is_the_first_reply_in_every_state(fake_api, start_bot, lang, state):
    t = T[lang]
    bot = await start_bot()
    user = await teacher(fake_api, 7100, lang)
    await into_state(state, user, bot, lang)
    shown = replies(await user.send_text(CRISIS[lang]))
    assert shown and t["safety"] in shown[0], f"{state}: the first reply is the safety screen: {shown}"
    assert all(t["unexpected"] not in text for text in shown), "never 'did not understand'"
    assert "<code>112</code>" in shown[0] and "<code>103</code>" in shown[0], "copyable numbers"
    if state == "question":
        assert t["question_sent"] in shown[-1], "the question still went to the psychologists"
    if state in ("mood note", "journal"):
        assert re.search("охранен|сақтал", shown[-1]), "the note was kept"
    if state == "questionnaire":
        await user.press(t["continue"])
        assert "1/9" in user.last_text or "1 / 9" in user.last_text or "PHQ-9" in user.last_text, (
            "back to the questionnaire, on its question"
        )
    if state == "booking note":
        assert CRISIS[lang] in shown[-1], "the note is kept for the psychologist, the booking goes on"


@asynccontextmanager
async def tallies_locked(url: str) -> AsyncIterator[None]:
    """Another transaction holding what counting a safety event waits for: SQLite's write lock, or
    the tallies' table on PostgreSQL (as a replica counting the same region's event would hold its row)."""
    if url.startswith("sqlite"):
        connection = sqlite3.connect(make_url(url).database or "", isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            connection.execute("ROLLBACK")
            connection.close()
        return
    engine = create_async_engine(url)
    try:
        async with engine.connect() as locking:
            await locking.execute(text("LOCK TABLE stat_tallies IN EXCLUSIVE MODE"))
            yield
            await locking.rollback()
    finally:
        await engine.dispose()


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_safety_screens_never_wait_for_their_monthly_count(fake_api, start_bot, lang):
    t = T[lang]
    bot = await start_bot()
    user, other = await teacher(fake_api, 7150, lang), await teacher(fake_api, 7151, lang)
    async with tallies_locked(bot.settings.database.url):
        crisis = asyncio.create_task(user.send_text(CRISIS[lang]))
        await eventually(
            lambda: t["safety"] in (user.last_text or ""), "the safety screen, the count waiting"
        )
        urgent = asyncio.create_task(other.press_data(Menu(item="sos").pack()))
        await eventually(lambda: "112" in (other.last_text or ""), "Urgent help, the count waiting")
    await asyncio.gather(crisis, urgent)
    assert sum(t["safety"] in shown for shown in texts(user)) == 1, "shown once"


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_are_you_safe_answers(fake_api, start_bot, lang):
    t = T[lang]
    await start_bot()
    user = await teacher(fake_api, 7110, lang)
    await user.send_text(CRISIS[lang])
    assert t["ask"] in user.last_text
    await user.press(t["yes"])
    assert any(t["grounding"] in button for button in user.last.buttons)
    assert any(t["plan"] in button for button in user.last.buttons)
    await user.press_data(Safe(a=SafeAction.DANGER).pack())
    assert t["call_now"] in user.last_text and user.last_text.index("112") < user.last_text.index("111"), (
        "112 and 103 first, then the other lines"
    )
    await user.press_data(Safe(a=SafeAction.UNSURE).pack())
    assert any(t["handoff"] in button for button in user.last.buttons)


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_distress_and_worry_for_a_student_get_their_own_screens(fake_api, start_bot, lang):
    t = T[lang]
    await start_bot()
    user = await teacher(fake_api, 7120, lang)
    distress = {
        "kk": "қатты қиналып жүрмін, не істерімді білмеймін",
        "ru": "мне очень плохо, я не справляюсь",
    }[lang]
    shown = replies(await user.send_text(distress))
    assert len(shown) == 1 and t["distress"] in shown[0], shown
    student = {"kk": "оқушым өлгім келеді деп айтты", "ru": "ученик сказал, что хочет умереть"}[lang]
    shown = replies(await user.send_text(student))
    assert len(shown) == 1 and t["student"] in shown[0] and "<code>150</code>" in shown[0], shown
    assert t["safety"] not in shown[0], "not the personal crisis screen"


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_safety_plan_written_edited_shown_and_erased(fake_api, start_bot, lang):
    t = T[lang]
    bot = await start_bot()
    user = await teacher(fake_api, 7130, lang)
    await user.press_data(Menu(item="sos").pack())
    await user.press(t["plan"])
    assert t["plan_title"] in user.last_text
    await user.press(t["step1"])
    first = "Бессонница и мысли, что я всех подвожу"
    await user.send_text(first)
    assert first in user.last_text and t["plan_title"] in user.last_text
    await user.press(t["step1"])
    second = "Не сплю ночами, перестаю отвечать подругам"
    await user.send_text(second)
    assert second in user.last_text and first not in user.last_text
    await bot.stop()
    assert second.encode() not in await stored_bytes(bot.settings.database.url), "the plan is encrypted"
    bot = await start_bot()
    await user.press_data(Safe(a=SafeAction.PLAN).pack())
    assert second in user.last_text, "kept across a restart"
    async with bot.app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(SafetyPlan)) == 1
    await user.press_data(Menu(item="settings").pack())
    await user.press(TEXTS[lang]["delete"])
    await user.press(TEXTS[lang]["confirm"])
    async with bot.app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(SafetyPlan)) == 0


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_a_psychologist_on_duty_writes_now_and_nobody_on_duty_is_said_honestly(
    fake_api, start_bot, lang, caplog
):
    caplog.set_level(logging.INFO)  # what a deployment logs (libraries' DEBUG lines carry SQL parameters)
    t = T[lang]
    bot = await start_bot()
    user = await add_user(bot, fake_api, {"user_id": 7140, "first_name": "Айгүл", "language_code": lang})
    psychologist = await add_user(
        bot, fake_api, {"user_id": 7141, "first_name": "Ольга", "language_code": "ru"}, role="psychologist"
    )
    await user.send_text("/sos")
    await user.press(t["handoff"])
    await user.press(t["handoff_yes"])
    assert t["nobody"] in user.last_text and "111" in user.last_text
    assert not psychologist.messages, "nobody on duty: nobody was told"

    async with bot.app.sessions() as session:
        staff = await users.by_telegram_id(session, 7141)
        profile = await booking_repo.ensure_profile(session, staff)
        profile.display_name, profile.on_duty_until = "Ольга", utcnow() + timedelta(hours=2)
        await session.commit()
    await user.press_data(Safe(a=SafeAction.HANDOFF).pack())
    await user.press(t["handoff_yes"])
    assert t["sent"] in user.last_text
    await eventually(lambda: psychologist.messages, "the psychologist on duty is told")
    assert "🆘" in psychologist.last_text and "112" in psychologist.last_text, "with the crisis protocol"
    await psychologist.press("Открыть чат")
    await eventually(
        lambda: any("Ольга" in (m.text or "") for m in user.messages), "the chat opens for the teacher"
    )
    before = len(fake_api.calls)
    await user.send_text("спасибо, что пишете")
    assert any(c.method == "copyMessage" and c.chat_id == 7141 for c in fake_api.calls[before:]), (
        "the teacher's messages reach the psychologist"
    )
    async with bot.app.sessions() as session:
        code = (await users.by_telegram_id(session, 7140)).pseudonym
    assert any(code in (m.text or "") for m in psychologist.messages), "the psychologist sees the code"
    assert code not in caplog.text, "no pseudonym next to a safety event in the log"


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_the_check_in_arrives_once_when_asked_and_never_when_declined(fake_api, start_bot, lang):
    t = T[lang]
    bot = await start_bot(support={"checkin_hours": 0.001})  # a few seconds
    asked = await teacher(fake_api, 7150, lang)
    declined = await teacher(fake_api, 7151, lang)
    for user, choice in ((asked, t["checkin_yes"]), (declined, t["checkin_no"])):
        await user.send_text(CRISIS[lang])
        await user.press(t["yes"])
        await user.press(choice)
    await eventually(
        lambda: any(t["checkin"] in (m.text or "") for m in asked.messages), "the check-in", timeout=20
    )
    worker = next(w for w in bot.app.workers if type(w).__name__ == "ReminderWorker")
    await worker.run_once()  # whatever else was due has been sent now
    assert sum(t["checkin"] in (m.text or "") for m in asked.messages) == 1
    assert not any(t["checkin"] in (m.text or "") for m in declined.messages)
    assert t["ask"] in asked.last_text, "with the same choices"


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_the_earliest_consultation_includes_short_notice_psychologists(fake_api, start_bot, lang):
    """From the safety screen: the soonest free times of every format; a psychologist who accepts
    short notice can be booked 30 minutes ahead, one who does not cannot (the usual 2 hours)."""
    bot = await start_bot()
    user = await teacher(fake_api, 7160, lang)
    soon = utcnow() + timedelta(minutes=30)
    async with bot.app.sessions() as session:
        for telegram_id, name, fmt, short in ((7161, "Ольга", "chat", True), (7162, "Анна", "video", False)):
            staff = await users.create(session, telegram_id, "ru")
            staff.role = "psychologist"
            profile = await booking_repo.ensure_profile(session, staff)
            profile.display_name, profile.languages, profile.formats = name, "kk,ru", fmt
            profile.video_link, profile.published, profile.short_notice = (
                "https://meet.example/r",
                True,
                short,
            )
            await booking_repo.add_slot(session, profile, soon, 50, fmt)
            await booking_repo.add_slot(session, profile, soon + timedelta(days=1), 50, fmt)
        await session.commit()
    await user.send_text(CRISIS[lang])
    await user.press_data(Book(a="soon").pack())
    offered = [b for b in user.last.buttons if "·" in b]
    assert len(offered) == 3, offered
    assert "Ольга" in offered[0], (
        "the 30-minute slot of the psychologist who accepts short notice comes first"
    )
    assert sum("Анна" in b for b in offered) == 1, "the other's 30-minute slot is too soon"
    await user.press(offered[0])
    await user.press_data(Book(a="ok", f="chat", s=(await first_slot(bot, "Ольга")).id).pack())
    async with bot.app.sessions() as session:
        assert (
            await booking_repo.active_count(session, (await users.by_telegram_id(session, 7160)).id, utcnow())
            == 1
        )


async def first_slot(bot, name: str):
    from storage.models import Slot

    async with bot.app.sessions() as session:
        slots = await session.scalars(select(Slot).order_by(Slot.starts_at))
        return next(slot for slot in slots if slot.psychologist.display_name == name)
