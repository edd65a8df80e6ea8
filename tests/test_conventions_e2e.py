"""Telegram's conventions, end to end in Kazakh and Russian: the "/" menu and the descriptions set
once per language, /help, /privacy, /settings and /cancel answered, never with "did not understand"."""

import asyncio
import json
import logging
from datetime import timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from bot import __main__ as entry
from bot.config import generate_webhook_secret
from bot.content.instruments import load_instruments
from bot.telegram.callbacks import (
    Lang,
    LangOrigin,
    Menu,
    Safe,
    SafeAction,
    SelfCheck,
    Settings,
    SettingsAction,
)
from bot.telegram.i18n import compile_translations
from bot.telegram.profile import COMMANDS
from storage.models import AnonQuestion
from storage.models.safety import SafetyPlan
from storage.repo import invites
from tests.conftest import make_settings
from tests.test_webhook_serve import free_port, healthz

TEXTS = {
    "kk": {
        "lang": "Қазақша",
        "agree": "Келісемін",
        "menu": "Басты мәзір",
        "unexpected": "түсінбедім",
        "sos": "Шұғыл көмек",
        "help": "Демеуді қалай пайдалануға болады",
        "privacy": "Құпиялық",
        "next": "Әрі қарай",
        "back": "Артқа",
        "stored": "Не сақталады",
        "who": "Кім не көреді",
        "delete": "Деректерімді өшіру",
        "settings": "Баптаулар",
        "cancelled": "тоқтаттық",
        "consent": "құпия қолдау",
        "choose": "Тілді таңдаңыз",
    },
    "ru": {
        "lang": "Русский",
        "agree": "Согласен",
        "menu": "Главное меню",
        "unexpected": "не понял",
        "sos": "Срочная помощь",
        "help": "Как пользоваться Демеу",
        "privacy": "Конфиденциальность",
        "next": "Дальше",
        "back": "Назад",
        "stored": "Что хранится",
        "who": "Кто что видит",
        "delete": "Удалить мои данные",
        "settings": "Настройки",
        "cancelled": "отменили",
        "consent": "конфиденциальная поддержка",
        "choose": "Выберите язык",
    },
}
TRANSLATIONS = compile_translations()
PROFILE_SETTERS = ("setMyCommands", "setMyDescription", "setMyShortDescription")


def default_scope(language: str) -> tuple[str, str]:
    return json.dumps({"type": "default"}), language


async def agree(user, t) -> None:
    await user.send_text("/start")
    await user.press(t["lang"])
    await user.press(t["agree"])


def setters(fake_api) -> list[str]:
    return [call.method for call in fake_api.calls if call.method in PROFILE_SETTERS]


async def test_commands_and_descriptions_are_set_per_language_once(fake_api, start_bot):
    bot = await start_bot()
    await fake_api.user(user_id=7100, language_code="kk").send_text("/start")  # polling: started up
    await bot.stop()
    for language in ("kk", "ru", ""):
        commands = fake_api.commands[default_scope(language)]
        assert [c["command"] for c in commands] == list(COMMANDS)
        assert fake_api.descriptions[language] and fake_api.short_descriptions[language]
    default = bot.settings.bot.default_language
    assert fake_api.commands[default_scope("")] == fake_api.commands[default_scope(default)], (
        "other languages get the default language"
    )
    assert fake_api.descriptions[""] == fake_api.descriptions[default]
    kazakh, russian = fake_api.commands[default_scope("kk")], fake_api.commands[default_scope("ru")]
    assert {c["command"]: c["description"] for c in kazakh}["sos"] == "Шұғыл көмек"
    assert {c["command"]: c["description"] for c in russian}["sos"] == "Срочная помощь"
    assert "Өрлеу" in fake_api.descriptions["kk"] and "мұғалім" in fake_api.descriptions["kk"]
    assert "учител" in fake_api.short_descriptions["ru"]
    assert len(setters(fake_api)) == 9

    asked = sum(call.method == "getMyCommands" for call in fake_api.calls)
    await start_bot()  # a restart, or another replica: Telegram already has it all
    await fake_api.user(user_id=7100).send_text("/start")
    assert sum(call.method == "getMyCommands" for call in fake_api.calls) == asked + 3
    assert len(setters(fake_api)) == 9


async def test_webhook_mode_sets_them_too(fake_api, tmp_path):
    port = free_port()
    webhook = {"mode": "webhook", "webhook_url": f"http://127.0.0.1:{port}", "webhook_port": port}
    webhook |= {"webhook_secret": SecretStr(generate_webhook_secret()), "webhook_host": "127.0.0.1"}
    database = f"sqlite+aiosqlite:///{tmp_path / 'demeu.db'}"
    settings = make_settings(database, fake_api.base_url, fake_api.token, tmp_path, telegram=webhook)
    running = asyncio.create_task(entry.run(settings))
    try:
        assert await healthz(port) == 200
        assert len(setters(fake_api)) == 9
        assert fake_api.short_descriptions["kk"] and fake_api.short_descriptions["ru"]
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


async def test_telegram_refusing_them_is_logged_and_the_bot_serves(fake_api, start_bot, caplog):
    caplog.set_level(logging.ERROR)
    fake_api.inject("getmycommands", status=500)
    await start_bot()
    user = fake_api.user(user_id=7106, language_code="ru")
    await user.send_text("/start")
    assert "Выберите язык" in user.last_text
    assert "setting the bot's commands and descriptions failed" in caplog.text


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_help_says_how_to_use_it_with_urgent_help_one_tap_away(fake_api, start_bot, lang):
    t = TEXTS[lang]
    await start_bot()
    user = fake_api.user(user_id=7101, language_code=lang)
    await user.send_text("/help")
    assert t["help"] in user.last_text and "/cancel" in user.last_text and "150" in user.last_text
    assert t["unexpected"] not in user.last_text
    await user.press(t["sos"])
    assert all(number in user.last_text for number in ("111", "112"))


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_privacy_before_consent_in_three_screens(fake_api, start_bot, lang):
    t = TEXTS[lang]
    await start_bot()
    user = fake_api.user(user_id=7102, language_code=lang)
    await user.send_text("/privacy")
    first = user.last.message_id
    assert t["stored"] in user.last_text and "T-XXXXXX" in user.last_text
    await user.press(t["next"])
    assert t["who"] in user.last_text and user.last.message_id == first, "pages edit one message"
    await user.press(t["next"])
    assert t["delete"] in user.last_text and "365" in user.last_text and "Өрлеу" in user.last_text
    assert not any(t["next"] in b for b in user.last.buttons), "the last page"
    await user.press(t["back"])
    assert t["who"] in user.last_text
    assert user.last.protected
    await user.press(t["menu"])
    assert t["choose"] in user.last_text, "not consented yet: the main menu is the first screen"

    await user.send_text("/start")
    await user.press(t["lang"])
    await user.press(t["privacy"])  # from the consent screen, before agreeing
    assert t["stored"] in user.last_text
    await user.press(t["menu"])
    assert t["consent"] in user.last_text


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_settings_command_opens_settings(fake_api, start_bot, lang):
    t = TEXTS[lang]
    await start_bot()
    user = fake_api.user(user_id=7103, language_code=lang)
    await user.send_text("/settings")
    assert t["choose"] in user.last_text, "settings need consent first"
    assert "🆘 Шұғыл көмек / Срочная помощь" in user.last.buttons, "urgent help in both languages, first"
    await agree(user, t)
    await user.press_data(Safe(a=SafeAction.STEP, n=1).pack())  # writing a step of the safety plan
    await user.send_text("/settings")
    assert t["settings"] in user.last_text and t["delete"] in " ".join(user.last.buttons)
    assert t["unexpected"] not in user.last_text


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_cancel_leaves_the_question_being_written(fake_api, start_bot, lang):
    t = TEXTS[lang]
    bot = await start_bot()
    user = fake_api.user(user_id=7104, language_code=lang)
    await agree(user, t)
    await user.press_data(Menu(item="ask").pack())
    await user.send_text("/cancel")
    assert t["cancelled"] in user.last_text and t["menu"] in user.last_text
    await user.send_text("Это не вопрос")
    assert t["unexpected"] in user.last_text, "the question form was left"
    async with bot.app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(AnonQuestion)) == 0


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_cancel_leaves_the_safety_plan_step_unsaved(fake_api, start_bot, lang):
    t = TEXTS[lang]
    bot = await start_bot()
    user = fake_api.user(user_id=7105, language_code=lang)
    await agree(user, t)
    await user.press_data(Safe(a=SafeAction.STEP, n=1).pack())
    await user.send_text("/cancel")
    assert t["cancelled"] in user.last_text and t["unexpected"] not in user.last_text
    await user.send_text("/cancel")  # nothing to leave: still the main menu, still no "did not understand"
    assert t["cancelled"] in user.last_text and t["menu"] in user.last_text
    async with bot.app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(SafetyPlan)) == 0


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_staff_have_their_own_commands_in_their_chat(fake_api, start_bot, lang):
    t, other = TRANSLATIONS[lang].gettext, "ru" if lang == "kk" else "kk"
    bot = await start_bot()
    async with bot.app.sessions() as session:
        links = {role: await invites.create(session, role, "KZ-61", timedelta(days=1)) for role in STAFF}
        await session.commit()
    psychologist, coordinator = (fake_api.user(user_id=7110 + i, language_code=lang) for i in range(2))
    await psychologist.send_text("/start " + links["psychologist"])
    await coordinator.send_text("/start " + links["coordinator"])
    work = {"psychologist": "questions", "coordinator": "mutes"}
    for person, role in ((psychologist, "psychologist"), (coordinator, "coordinator")):
        assert fake_api.chat_commands(person.id) == [*COMMANDS[:2], work[role], *COMMANDS[2:]]
    own = {c["command"]: c["description"] for c in fake_api.commands[chat_scope(7110)]}
    assert own["questions"] == t("command-questions") and own["sos"] == t("command-sos")

    teacher = fake_api.user(user_id=7112, language_code=lang)
    await agree(teacher, TEXTS[lang])
    assert fake_api.chat_commands(7112) is None, "teachers have the everyone's menu"

    # Their own onboarding: no teacher's consent, no teacher's code; their cabinet first.
    for person, cabinet in ((psychologist, "menu-psy"), (coordinator, "menu-coord")):
        assert person.last_text == html_free(t("consent-staff-text")) and "T-XXXXXX" not in person.last_text
        await person.press(t("consent-agree"))
        assert person.last_text == html_free(t("main-menu-staff")) and person.last.buttons[0] == t(cabinet)

    # A staff member changes language: so does their "/" menu.
    await psychologist.press_data(Settings(action=SettingsAction.LANGUAGE).pack())
    await psychologist.press_data(Lang(code=other, origin=LangOrigin.SETTINGS).pack())
    own = {c["command"]: c["description"] for c in fake_api.commands[chat_scope(7110)]}
    assert own["questions"] == TRANSLATIONS[other].gettext("command-questions")


def html_free(text: str) -> str:
    return text.replace("<b>", "").replace("</b>", "")


def chat_scope(chat_id: int) -> tuple[str, str]:
    return json.dumps({"chat_id": chat_id, "type": "chat"}), ""


STAFF = ("psychologist", "coordinator")


def sent(calls) -> int:
    """Messages the bot sent in reply (edits are not new messages)."""
    return sum(call.method.startswith("send") and call.method != "sendChatAction" for call in calls)


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_stray_input_gets_one_message_and_a_questionnaire_keeps_its_question(fake_api, start_bot, lang):
    t, gettext = TEXTS[lang], TRANSLATIONS[lang].gettext
    await start_bot()
    user = fake_api.user(user_id=7120, language_code=lang)
    await agree(user, t)
    for stray in (user.send_sticker, lambda: user.send_text("педсовет в пятницу")):
        assert sent(await stray()) == 1, "one hint, not a hint and a second menu"
        assert t["unexpected"] in user.last_text and gettext("nav-main") in user.last.buttons
    await user.press(gettext("nav-main"))
    assert t["menu"] in user.last_text

    who5 = load_instruments()["who5"]
    await user.press_data(SelfCheck(action="begin", inst="who5").pack())
    first = who5.options_for(who5.items[0])[0].label(lang)
    await user.press(first)
    question = who5.items[1].text(lang)
    for stray in (user.send_sticker, lambda: user.send_text("не знаю")):
        assert sent(await stray()) == 1
        assert question in user.last_text and gettext("selfcheck-stray") in user.last_text
        assert t["unexpected"] not in user.last_text, "still in the questionnaire"
    await user.press(who5.options_for(who5.items[1])[0].label(lang))  # answered from the new message
    assert who5.items[2].text(lang) in user.last_text and "3/5" in user.last_text

    await user.press(gettext("nav-main"))  # left: a stray text is stray again
    assert sent(await user.send_text("ещё")) == 1 and t["unexpected"] in user.last_text
