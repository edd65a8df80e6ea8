"""Relaxation and mood end to end through the fake Bot API: guided exercises run to the end,
paused and stopped, left and survived across a restart in both languages, with no edit Telegram
would refuse and no timer left behind; favourites, the private journal, mood check-ins."""

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.telegram.callbacks import Menu
from handlers.teacher.relax import catalogue, exercise_of_the_day
from storage.models import MoodEntry, User
from storage.models.base import utcnow
from tests.conftest import stored_bytes
from tests.test_e2e_foundation import TEXTS, agree

FAST = {"speed": 0.001}  # a whole exercise in well under a second
SLOW = {"speed": 0.5}  # the box exercise's intro holds 3 s: time to press Pause and Stop
NOTE = "Сегодня Бекжанов снова сорвал урок"
REFLECTION = "Кешке қарай Айжанмен ұрыстым"

T = {
    "kk": {
        "relax": "Релаксация",
        "breathing": "🌬 Тыныс алу",  # exact: the exercise of the day's title may hold the word
        "creative": "🎨 Шығармашылық",
        "start": "Бастау",
        "pause": "Кідірту",
        "resume": "Жалғастыру",
        "stop": "Тоқтату",
        "paused": "Кідіріс",
        "done": "Дайын",
        "stopped": "тоқтатылды",
        "fav_add": "Таңдаулыларға қосу",
        "fav_remove": "алып тастау",
        "favs": "⭐ Таңдаулылар",
        "mood": "Көңіл-күйді белгілеу",
        "so-so": "Орташа",
        "hard": "Өте ауыр",
        "chart": "30 күндік кестем",
        "note_saved": "Жазба сақталды",
        "low": "Соңғы үш күн",
        "keep_photo": "фотосын сақтау",
        "keep_text": "Бірер жол",
        "saved": "күнделігіңізге сақталды",
        "journal": "Менің күнделігім",
        "no_note": "Жазбасыз",
        "book": "Кеңеске жазылу",
    },
    "ru": {
        "relax": "Релаксация",
        "breathing": "🌬 Дыхание",  # exact: the exercise of the day's title may hold the word
        "creative": "🎨 Творчество",
        "start": "Начать",
        "pause": "Пауза",
        "resume": "Продолжить",
        "stop": "Стоп",
        "paused": "Пауза. Продолжим",
        "done": "Готово",
        "stopped": "остановлено",
        "fav_add": "В избранное",
        "fav_remove": "Убрать из избранного",
        "favs": "⭐ Избранное",
        "mood": "Отметить настроение",
        "so-so": "Так себе",
        "hard": "Очень тяжело",
        "chart": "Мой график",
        "note_saved": "Заметка сохранена",
        "low": "три дня",
        "keep_photo": "Сохранить фото",
        "keep_text": "пару строк",
        "saved": "личном дневнике",
        "journal": "Мой дневник",
        "no_note": "Без заметки",
        "book": "Записаться на консультацию",
    },
}


def guided(bot):
    return bot.app.dispatcher["guided"]


def assert_no_timers(bot) -> None:
    sessions = guided(bot)
    assert len(sessions.runner) == 0
    assert not sessions.runner._tasks, "a finished session's task is still pending"
    assert not sessions._live
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "guided-session" and not t.done()]


async def wait_until_finished(bot, fake_api) -> None:
    async with asyncio.timeout(20):
        while len(guided(bot).runner):
            await asyncio.sleep(0.01)
    await fake_api.wait_idle()


def edits(fake_api, chat_id: int, since: int) -> list:
    return [c for c in fake_api.calls[since:] if c.method == "editMessageText" and c.chat_id == chat_id]


async def open_exercise(user, lang: str, category: str, exercise_id: str) -> None:
    t = T[lang]
    await user.press(t["relax"])
    await user.press(t[category])
    await user.press(catalogue()[exercise_id].title[lang])


async def raw_database(bot) -> bytes:
    return await stored_bytes(bot.settings.database.url)


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_guided_exercise_runs_to_the_end_in_one_message(fake_api, start_bot, lang):
    t = T[lang]
    bot = await start_bot(relax=FAST)
    user = fake_api.user(user_id=6101, language_code=lang)
    await agree(user, TEXTS[lang])
    menu_message = user.last.message_id
    await open_exercise(user, lang, "breathing", "box")
    assert catalogue()["box"].why[lang][:20] in user.last_text
    assert catalogue()["box"].note[lang][:30] in user.last_text  # the caution before holding the breath

    since = len(fake_api.calls)
    await user.press(t["start"])
    await wait_until_finished(bot, fake_api)

    frames = catalogue()["box"].frames(lang)
    shown = edits(fake_api, user.id, since)
    # Every frame once (the first by the button's handler), then the closing screen.
    assert len(shown) == len(frames) + 1
    assert [c.params["text"] for c in shown[:-1]] == [f.text for f in frames]
    assert t["done"] in user.last_text
    assert user.last.message_id == menu_message, "the whole exercise edits one message"
    assert fake_api.not_modified == []

    await user.press(t["fav_add"])
    assert any(t["fav_remove"] in b for b in user.last.buttons)
    await user.press(TEXTS[lang]["menu"])
    await user.press(t["relax"])
    await user.press(t["favs"])
    assert any(catalogue()["box"].title[lang] in b for b in user.last.buttons)

    assert_no_timers(bot)
    await bot.stop()
    assert_no_timers(bot)
    assert fake_api.not_modified == []


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_pause_resume_and_stop_midway(fake_api, start_bot, lang):
    t = T[lang]
    bot = await start_bot(relax=SLOW)
    user = fake_api.user(user_id=6102, language_code=lang)
    await agree(user, TEXTS[lang])
    await open_exercise(user, lang, "breathing", "box")
    await user.press(t["start"])
    assert guided(bot).runner.active_count() == 1
    intro = catalogue()["box"].frames(lang)[0].text
    assert user.last_text == intro

    await user.press(t["pause"])
    assert t["paused"] in user.last_text
    assert any(t["resume"] in b for b in user.last.buttons)
    assert not any(t["pause"] == b.split(" ", 1)[-1] for b in user.last.buttons)
    await user.press(t["resume"])
    assert any(t["pause"] in b for b in user.last.buttons)

    await user.press(t["stop"])
    assert t["stopped"] in user.last_text
    assert any(t["start"] in b for b in user.last.buttons), "a stopped exercise can start again"
    assert_no_timers(bot)
    calls = len(fake_api.calls)
    await asyncio.sleep(1.2)  # longer than a countdown step at this speed
    assert edits(fake_api, user.id, calls) == [], "a stopped exercise edits nothing more"
    assert fake_api.not_modified == []
    await bot.stop()
    assert_no_timers(bot)


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_leaving_stops_the_exercise_and_leaves_buttons(fake_api, start_bot, lang):
    t = T[lang]
    bot = await start_bot(relax=SLOW)
    user = fake_api.user(user_id=6103, language_code=lang)
    await agree(user, TEXTS[lang])
    await open_exercise(user, lang, "breathing", "478")
    await user.press(t["start"])
    exercise_message = user.last.message_id

    await user.send_text("/menu")
    assert TEXTS[lang]["menu"] in user.last_text
    left = next(m for m in user.messages if m.message_id == exercise_message)
    assert t["stopped"] in left.text and any(t["start"] in b for b in left.buttons)
    assert_no_timers(bot)

    # A new exercise from the new menu; then Urgent help on its own message stops it too.
    await user.press(t["relax"])
    await user.press(t["breathing"])
    await user.press(catalogue()["box"].title[lang])
    await user.press(t["start"])
    assert guided(bot).runner.active_count() == 1
    await user.press(TEXTS[lang]["sos"])
    assert "150" in user.last_text
    assert_no_timers(bot)
    assert fake_api.not_modified == []


async def test_restart_mid_exercise_leaves_working_buttons(fake_api, start_bot):
    t = T["ru"]
    bot = await start_bot(relax=SLOW)
    user = fake_api.user(user_id=6104, language_code="ru")
    await agree(user, TEXTS["ru"])
    await open_exercise(user, "ru", "breathing", "box")
    await user.press(t["start"])
    await bot.stop()
    assert_no_timers(bot)
    assert any(t["stop"] in b for b in user.last.buttons), "no half-dead message without buttons"

    again = await start_bot(relax=SLOW)
    await user.press(t["stop"])
    assert t["stopped"] in user.last_text and any(t["start"] in b for b in user.last.buttons)
    assert_no_timers(again)


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_mood_check_in_note_chart_and_low_streak(fake_api, start_bot, lang):
    t = T[lang]
    bot = await start_bot()
    user = fake_api.user(user_id=6105, language_code=lang)
    await agree(user, TEXTS[lang])
    await user.press_data(Menu(item="mood").pack())  # one tap from the main menu
    await user.press(t["so-so"])
    assert t["low"] not in user.last_text
    await user.send_text(NOTE)
    assert t["note_saved"] in user.last_text

    await user.press(t["chart"])
    assert user.last.kind == "photo"
    assert user.last.file.data.startswith(b"\x89PNG")
    assert any(t["mood"] in b for b in user.last.buttons)

    # Two hard days before today, then a hard today: a consultation and Urgent help are offered.
    async with bot.app.sessions() as session, session.begin():
        owner = await session.scalar(select(User))
        for days_ago in (1, 2):
            session.add(MoodEntry(user_id=owner.id, score=1, created_at=utcnow() - timedelta(days=days_ago)))
    await user.press(t["mood"])
    await user.press(t["hard"])
    assert t["low"] in user.last_text
    assert any(TEXTS[lang]["sos"] in b for b in user.last.buttons)
    assert any(t["book"] in b for b in user.last.buttons)
    await user.press(t["no_note"])

    async with bot.app.sessions() as session:
        notes = [note for note in await session.scalars(select(MoodEntry.note)) if note is not None]
    assert notes == [NOTE]

    # "Delete my data" takes the check-ins along.
    await user.press(TEXTS[lang]["menu"])
    await user.press(TEXTS[lang]["settings"])
    await user.press(TEXTS[lang]["delete"])
    await user.press(TEXTS[lang]["confirm"])
    async with bot.app.sessions() as session:
        assert list(await session.scalars(select(MoodEntry))) == []
    await bot.stop()
    raw = await raw_database(bot)
    assert NOTE.encode() not in raw and "Бекжанов".encode() not in raw


async def test_drawing_and_reflection_go_to_the_private_journal(fake_api, start_bot):
    t = T["kk"]
    bot = await start_bot(relax=FAST)
    user = fake_api.user(user_id=6106, language_code="kk")
    await agree(user, TEXTS["kk"])
    await open_exercise(user, "kk", "creative", "drawing")
    await user.press(t["start"])
    await wait_until_finished(bot, fake_api)
    await user.press(t["keep_photo"])
    await user.send_photo()
    assert t["saved"] in user.last_text

    await user.press(TEXTS["kk"]["menu"])
    await open_exercise(user, "kk", "creative", "evening")
    await user.press(t["start"])
    await wait_until_finished(bot, fake_api)
    await user.press(t["keep_text"])
    await user.send_text(REFLECTION)
    assert t["saved"] in user.last_text

    await user.press(t["journal"])
    assert REFLECTION in user.last_text
    await user.press("🖼")
    assert user.last.kind == "photo"
    assert fake_api.not_modified == []
    await bot.stop()
    assert_no_timers(bot)
    assert REFLECTION.encode() not in await raw_database(bot)


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_back_from_a_card_returns_where_it_was_opened(fake_api, start_bot, lang):
    """The exercise of the day goes back to the relaxation home, a favourite to the favourites, also
    after adding it, running it and keeping a reflection; a card from its category to the category."""
    t = T[lang]
    back = TEXTS[lang]["back"]
    bot = await start_bot(relax=FAST)
    user = fake_api.user(user_id=6107 if lang == "kk" else 6108, language_code=lang)
    await agree(user, TEXTS[lang])
    today = exercise_of_the_day(bot.settings)
    await user.press(t["relax"])
    home = user.last_text
    await user.press(today.title[lang])
    assert today.why[lang][:20] in user.last_text
    await user.press(t["fav_add"])
    await user.press(t["start"])
    await wait_until_finished(bot, fake_api)
    await user.press(back)
    assert user.last_text == home

    await user.press(t["favs"])
    favourites = user.last_text
    await user.press(today.title[lang])
    await user.press(back)
    assert user.last_text == favourites

    await user.press(TEXTS[lang]["menu"])
    await open_exercise(user, lang, "creative", "evening")
    await user.press(t["start"])
    await wait_until_finished(bot, fake_api)
    await user.press(t["keep_text"])
    await user.press(back)  # from the prompt to the card, from the card to its category
    assert catalogue()["evening"].why[lang][:20] in user.last_text
    await user.press(back)
    assert t["creative"] in user.last_text
    assert fake_api.not_modified == []
    await bot.stop()
    assert_no_timers(bot)
