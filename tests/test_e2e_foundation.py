"""End to end through the fake Bot API server: a teacher's first minutes with Demeu,
in Kazakh and in Russian, and what must never leak."""

import asyncio
import logging
import re

import pytest
from sqlalchemy import func, select

from bot.telegram.callbacks import Admin, Menu
from bot.telegram.keyboards import TEACHER_ITEMS
from storage.models import User
from storage.repo import users
from tests.conftest import stored_bytes

TEACHER_ID = 987654321
FIRST_NAME = "Айгүл"
USERNAME = "aigul_mugalim_77"
SECRET_TEXT = "Мой директор Бекжанов кричит на меня"

TEXTS = {
    "kk": {
        "lang": "Қазақша",
        "agree": "Келісемін",
        "consent": "құпия қолдау",
        "menu": "Басты мәзір",
        "soon": "жақында",
        "sos": "Шұғыл көмек",
        "settings": "Баптаулар",
        "region": "Өңір",
        "turkestan": "Түркістан облысы",
        "delete": "Деректерімді өшіру",
        "confirm": "бәрін өшіру",
        "deleted": "өшірілді",
        "stale": "ескірген",
        "unexpected": "түсінбедім",
        "refused": "қызметкерлерге",
        "notify": "Хабарламалар",
        "off": "Өшіру",
        "on": "Қосу",
        "safety": "маңызды",
        "back": "Артқа",
        "distress": "ауыр сияқты",
        "error": "дұрыс болмады",
    },
    "ru": {
        "lang": "Русский",
        "agree": "Согласен",
        "consent": "конфиденциальная поддержка",
        "menu": "Главное меню",
        "soon": "скоро",
        "sos": "Срочная помощь",
        "settings": "Настройки",
        "region": "Регион",
        "turkestan": "Туркестанская область",
        "delete": "Удалить мои данные",
        "confirm": "удалить всё",
        "deleted": "удалены",
        "stale": "устарела",
        "unexpected": "не понял",
        "refused": "сотрудников",
        "notify": "Уведомления",
        "off": "Выключить",
        "on": "Включить",
        "safety": "важно",
        "back": "Назад",
        "distress": "очень тяжело",
        "error": "что-то пошло не так",
    },
}
# Every teacher section of the main menu, except the two this test walks through by hand.
MENU_ITEMS = [item for item in TEACHER_ITEMS if item not in ("sos", "settings")]


async def count_users(bot) -> int:
    async with bot.app.sessions() as session:
        return await session.scalar(select(func.count()).select_from(User))


async def agree(user, t) -> None:
    await user.send_text("/start")
    await user.press(t["lang"])
    await user.press(t["agree"])


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_first_visit_every_menu_item_and_delete(fake_api, start_bot, lang, caplog):
    caplog.set_level(logging.DEBUG)
    t = TEXTS[lang]
    bot = await start_bot()
    user = fake_api.user(user_id=TEACHER_ID, first_name=FIRST_NAME, username=USERNAME, language_code=lang)

    await user.send_text("/start")
    assert "Тілді таңдаңыз" in user.last_text and "Выберите язык" in user.last_text
    assert {"✓ " + t["lang"]} & set(user.last.buttons), "Telegram's language is preselected"
    await user.press(t["lang"])
    assert t["consent"] in user.last_text
    assert any(t["sos"] in b for b in user.last.buttons), "urgent help before consent"
    await user.press(t["agree"])
    assert t["menu"] in user.last_text
    code = re.search(r"T-[0-9A-Z]{6}", user.last_text).group(0)
    menu_message = user.last.message_id

    for item in MENU_ITEMS:
        await user.press_data(Menu(item=item).pack())
        assert t["soon"] not in user.last_text and t["error"] not in user.last_text, item
        assert any(t["menu"] in b for b in user.last.buttons), f"{item}: a way back to the main menu"
        await user.press(t["menu"])
        assert t["menu"] in user.last_text
    assert user.last.message_id == menu_message, "navigation edits one message in place"

    await user.press(t["sos"])
    assert all(number in user.last_text for number in ("150", "111", "112"))
    await user.press(t["menu"])

    await user.press(t["settings"])
    assert code in user.last_text
    await user.press(t["region"])
    await user.press(t["turkestan"])
    assert t["turkestan"] in user.last_text
    await user.press(t["notify"])
    await user.press(t["off"])
    assert any(t["on"] in b for b in user.last.buttons)
    await user.press(t["back"])
    assert t["settings"] in user.last_text

    # Typed text anywhere is stored nowhere; distress gets a warm reply instead of "did not understand",
    # a sticker or stray text a hint and a way on.
    await user.send_text(SECRET_TEXT)
    assert t["distress"] in user.last_text
    await user.send_text("Бекжанов перенёс педсовет на пятницу")
    assert t["unexpected"] in user.last_text
    await user.send_sticker()
    assert t["unexpected"] in user.last_text and any(t["menu"] in b for b in user.last.buttons)

    async with bot.app.sessions() as session:
        stored = await session.scalar(select(User))
        assert stored.pseudonym == code and stored.region == "KZ-61" and stored.announcements is False

    await user.press_data(Menu(item="settings").pack())
    await user.press(t["delete"])
    await user.press(t["confirm"])
    assert t["deleted"] in user.last_text
    assert await count_users(bot) == 0

    await user.send_text("/start")
    assert "Тілді таңдаңыз" in user.last_text, "after deletion the user is a stranger"

    await bot.stop()
    raw = await stored_bytes(bot.settings.database.url)
    for secret in (str(TEACHER_ID), FIRST_NAME, USERNAME, SECRET_TEXT, "Бекжанов"):
        assert secret.encode() not in raw
    for secret in (str(TEACHER_ID), FIRST_NAME, USERNAME, SECRET_TEXT):
        assert secret not in caplog.text


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_urgent_help_is_there_before_anything(fake_api, start_bot, lang):
    t = TEXTS[lang]
    await start_bot()
    user = fake_api.user(user_id=5001, language_code=lang)
    for command in ("/sos", "/help"):
        await user.send_text(command)
        assert all(number in user.last_text for number in ("150", "111", "112"))
        assert t["sos"] in user.last_text


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_crisis_words_raise_the_safety_screen(fake_api, start_bot, lang):
    t = TEXTS[lang]
    await start_bot()
    user = fake_api.user(user_id=5002, language_code=lang)
    await agree(user, t)
    phrase = {"kk": "Кейде өмір сүргім келмейді", "ru": "Иногда не хочу жить"}[lang]
    await user.send_text(phrase)
    assert t["safety"] in user.last_text and "150" in user.last_text


async def test_stale_forged_and_unknown_buttons_are_answered(fake_api, start_bot):
    t = TEXTS["ru"]
    await start_bot()
    user = fake_api.user(user_id=5003, language_code="ru")
    await agree(user, t)
    await user.press_data("zz:old:button")
    assert any(t["stale"] in alert for alert in user.alerts)
    assert t["menu"] in user.last_text

    # A teacher forging the admin's invite button is refused and nothing is created.
    await user.press_data(Admin(action="make", role="psychologist").pack())
    assert any(t["refused"] in alert for alert in user.alerts)
    assert "start=inv_" not in user.last_text


async def test_features_need_consent_first(fake_api, start_bot):
    await start_bot()
    user = fake_api.user(user_id=5004, language_code="ru")
    await user.send_text("/start")
    await user.press_data(Menu(item="settings").pack())
    assert "Выберите язык" in user.last_text


async def test_not_now_keeps_nothing(fake_api, start_bot):
    bot = await start_bot()
    user = fake_api.user(user_id=5005, language_code="kk")
    await user.send_text("/start")
    await user.press("Қазақша")
    await user.press("Қазір емес")
    assert "ешқандай дерек сақталмады" in user.last_text
    assert await count_users(bot) == 0


async def test_admin_invites_a_psychologist_once(fake_api, start_bot):
    admin_id = 7001
    await start_bot(bot={"admins": [admin_id]})
    admin = fake_api.user(user_id=admin_id, language_code="ru")
    await agree(admin, TEXTS["ru"])
    await admin.press("Администратор")
    await admin.press("Пригласить психолога")
    await admin.press("Все регионы")
    link = re.search(r"https://t\.me/demeu_test_bot\?start=(inv_[\w-]+)", admin.last_text)
    assert link, admin.last_text

    psychologist = fake_api.user(user_id=7002, language_code="kk")
    await psychologist.send_text("/start " + link.group(1))
    assert any("психолог рөлі" in m.text for m in psychologist.messages)
    await psychologist.press("Келісемін")
    assert any("Психолог кабинеті" in b for b in psychologist.last.buttons)

    other = fake_api.user(user_id=7003, language_code="kk")
    await other.send_text("/start " + link.group(1))
    assert any("жарамсыз" in m.text for m in other.messages)


async def test_conversation_state_survives_restart(fake_api, start_bot, tmp_path):
    from aiogram.fsm.storage.base import StorageKey

    bot = await start_bot()
    key = StorageKey(bot_id=bot.app.bot.id, chat_id=5006, user_id=5006)
    await bot.app.dispatcher.storage.set_state(key, "Booking:note")
    await bot.app.dispatcher.storage.set_data(key, {"note": SECRET_TEXT})
    await bot.stop()
    again = await start_bot()
    assert await again.app.dispatcher.storage.get_state(key) == "Booking:note"
    assert await again.app.dispatcher.storage.get_data(key) == {"note": SECRET_TEXT}


async def test_a_teacher_who_unblocks_and_writes_again_gets_messages_again(fake_api, start_bot):
    bot = await start_bot()
    teacher = fake_api.user(user_id=5007, language_code="ru")
    await agree(teacher, TEXTS["ru"])
    async with bot.app.sessions() as session:
        await users.mark_inactive(session, (await users.by_telegram_id(session, 5007)).id)
        await session.commit()
    await teacher.send_text("/menu")  # writing again means they unblocked the bot
    assert TEXTS["ru"]["menu"] in teacher.last_text
    async with bot.app.sessions() as session:
        assert (await users.by_telegram_id(session, 5007)).active is True


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_a_quick_second_tap_sees_what_the_first_changed(fake_api, start_bot, lang):
    """Tapping before the screen settles: the next update of the same user starts only once the
    one before it is committed, so consent given a moment ago lets the next tap into Settings."""
    t = TEXTS[lang]
    await start_bot()
    user = fake_api.user(user_id=TEACHER_ID, language_code=lang)
    await user.send_text("/start")
    await user.press(t["lang"])
    await asyncio.gather(user.press(t["agree"]), user.press_data(Menu(item="settings").pack()))
    assert t["consent"] not in user.last_text
    assert any(t["delete"] in button for button in user.last.buttons), user.last_text
    assert not fake_api.violations
