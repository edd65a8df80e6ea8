"""Privacy promises end to end, in Kazakh and Russian: each booking and group format shows the
promise true for that format (what the psychologist or the others see, how to stay private), and
every message with a teacher's results, charts, notes, journal or shared result arrives protected
from forwarding, while what is made to leave the chat (the .ics file, a staff invite) does not."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from bot.cli import demo
from bot.telegram.callbacks import Menu
from bot.telegram.i18n import compile_translations
from bot.workers.groups import DEMO_SESSIONS
from handlers.teacher.relax import catalogue
from storage.models.base import utcnow
from storage.repo import booking as bookings
from storage.repo import users
from tests.test_e2e_foundation import TEXTS, agree
from tests.test_relax_e2e import FAST, open_exercise, wait_until_finished
from tests.test_selfcheck_e2e import answer, open_instrument
from tests.waiting import wait_for

CATALOGUES = compile_translations()
BOOKING_FORMATS = ("video", "chat", "office")
GROUP_FORMATS = ("online", "offline")
# What each promise must tell, whatever its wording: the brief of its format in a few stems.
BOOKING_SAYS = {
    "kk": {
        "video": ("көріп", "даусыңызды", "кез келген атпен", "камера", "құлаққап"),
        "chat": ("көшірме", "Telegram", "өшіргенше"),
        "office": ("бетпе-бет", "мекенжай", "кодыңыз", "көреді"),
    },
    "ru": {
        "video": ("увидит и услышит", "имя", "камер", "наушник"),
        "chat": ("копиями", "Telegram", "удалит"),
        "office": ("лично", "адрес", "код", "увидит"),
    },
}
GROUP_SAYS = {
    "kk": {
        "online": ("камера", "микрофон", "кез келген атпен"),
        "offline": ("бетпе-бет", "бір-бірін"),
    },
    "ru": {
        "online": ("камер", "микрофон", "любым именем"),
        "offline": ("очное", "друг друга"),
    },
}
OFFICE_ADDRESSES = [p[4] for p in demo.PSYCHOLOGISTS if p[4]]
WHO5 = [3, 2, 4, 1, 3]  # 52 / 100: no safety screen in the way
REFLECTION = {"kk": "Бүгін сыныпта ұрыс болды", "ru": "Сегодня в классе была ссора"}
NOTE = {"kk": "Ұйқым қанбады", "ru": "Не выспалась"}


def gettext(lang: str):
    return CATALOGUES[lang].gettext


async def seed_demo(bot) -> None:
    async with bot.app.sessions() as session:
        await demo.seed(session, bot.app.settings)
        await session.commit()


def says(promise: str, stems: tuple[str, ...]) -> bool:
    return all(stem.casefold() in promise.casefold() for stem in stems)


def promises_shown(text: str, lang: str, prefix: str, formats: tuple[str, ...]) -> set[str]:
    t = gettext(lang)
    return {fmt for fmt in formats if t(prefix + fmt) in text}


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_every_format_shows_its_own_privacy_promise(fake_api, start_bot, lang):
    t = gettext(lang)
    bot = await start_bot()
    await seed_demo(bot)
    teacher = fake_api.user(user_id=8401, language_code=lang)
    await agree(teacher, TEXTS[lang])

    # Before a format is chosen, no single promise for all: each format's own line.
    await teacher.press_data(Menu(item="book").pack())
    intro = teacher.last_text
    assert not promises_shown(intro, lang, "bk-privacy-", BOOKING_FORMATS)
    assert all(mark in intro for mark in ("🎥", "💬", "🏢"))

    for fmt in BOOKING_FORMATS:
        await teacher.press_data(Menu(item="book").pack())
        await teacher.press(t("bk-format-" + fmt))
        await teacher.press(t("book-any-language"))
        if fmt == "office":
            await teacher.press(t("book-any-region"))
        await teacher.press_data(teacher.last.callback_data[0])  # the first day with free time
        await teacher.press_data(teacher.last.callback_data[0])  # its first free time
        confirm = teacher.last_text
        assert re.sub(r"<[^>]+>", "", t("book-confirm-title")) in confirm
        assert promises_shown(confirm, lang, "bk-privacy-", BOOKING_FORMATS) == {fmt}, confirm
        promise = t("bk-privacy-" + fmt)
        assert says(promise, BOOKING_SAYS[lang][fmt]), promise
        if fmt == "office":  # "the address above" is there, above
            assert any(address in confirm.split(promise)[0] for address in OFFICE_ADDRESSES), confirm

    # An anonymous question travels as the chat does, as copies: the same promise.
    await teacher.press_data(Menu(item="ask").pack())
    assert promises_shown(teacher.last_text, lang, "bk-privacy-", BOOKING_FORMATS) == {"chat"}

    await teacher.press_data(Menu(item="groups").pack())
    listing = teacher.last_text
    assert not promises_shown(listing, lang, "groups-privacy-", GROUP_FORMATS)
    titles = {
        fmt: title_kk if lang == "kk" else title_ru
        for _days, _hour, fmt, _region, _lang, _seats, title_kk, title_ru, *_ in DEMO_SESSIONS
    }
    assert set(titles) == set(GROUP_FORMATS)
    for fmt, title in titles.items():
        await teacher.press_data(Menu(item="groups").pack())
        await teacher.press(title)
        card = teacher.last_text
        assert title in card and t("groups-format-" + fmt) in card
        assert promises_shown(card, lang, "groups-privacy-", GROUP_FORMATS) == {fmt}, card
        promise = t("groups-privacy-" + fmt)
        assert says(promise, GROUP_SAYS[lang][fmt]), promise


def screen(user):
    """The screen the user is looking at: the newest bot message with buttons (an .ics may follow it)."""
    return next(m for m in reversed(user.messages) if m.inline_keyboard)


def sent(calls, method: str):
    found = [call for call in calls if call.method == method]
    assert found, f"no {method} in {calls}"
    return found


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_results_charts_notes_and_journal_arrive_protected(fake_api, start_bot, lang):
    t = gettext(lang)
    bot = await start_bot(relax=FAST)
    teacher = fake_api.user(user_id=8501, language_code=lang)
    psychologist = fake_api.user(user_id=8502, language_code=lang)
    await agree(teacher, TEXTS[lang])
    assert screen(teacher).protected, "the main menu, and every screen edited from it, is protected"

    # A self-check result, reached by editing the question message, then the history and its chart.
    await open_instrument(teacher, "who5", lang)
    await teacher.press(t("selfcheck-begin"))
    await answer(teacher, "who5", WHO5, lang)
    assert "52 / 100" in screen(teacher).text and screen(teacher).protected
    await teacher.press(t("selfcheck-history-button-short"))
    assert "52" in screen(teacher).text and screen(teacher).protected
    calls = await teacher.press(t("selfcheck-chart"))
    assert all(call.params.get("protect_content") is True for call in sent(calls, "sendPhoto"))
    assert screen(teacher).kind == "photo" and screen(teacher).protected

    # The result shared with the psychologist of a booking arrives protected too.
    async with bot.app.sessions.begin() as session:
        staff = await users.create(session, psychologist.id, lang)
        staff.role, staff.consent_at = "psychologist", utcnow()
        profile = await bookings.ensure_profile(session, staff)
        profile.display_name, profile.languages, profile.formats, profile.published = (
            "Сәуле",
            lang,
            "video",
            True,
        )
        slot = await bookings.add_slot(session, profile, utcnow() + timedelta(days=2), 50, "video")
        owner = await users.by_telegram_id(session, teacher.id)
        assert (await bot.app.bookings.book(session, owner, slot.id, NOTE[lang], utcnow())).ok
    await teacher.press(t("nav-back"))
    await teacher.press("🗓")
    await teacher.press(t("selfcheck-share"))
    await teacher.press("Сәуле")

    def shared_result():  # beside the booking's notice, which the outbox sends in its own time
        return next((m for m in psychologist.messages if "52 / 100" in (m.text or "")), None)

    await wait_for(shared_result)
    assert shared_result().protected

    # The booking's .ics is meant for a calendar app: not protected, or it could not be opened there.
    await teacher.press_data(Menu(item="mine").pack())
    await teacher.press_data(screen(teacher).callback_data[0])  # the booking
    calls = await teacher.press(t("mine-ics"))
    assert all(call.params.get("protect_content") is False for call in sent(calls, "sendDocument"))
    assert teacher.documents[-1].filename.endswith(".ics") and not teacher.documents[-1].protected

    # A mood check-in, its note and the 30-day chart.
    await teacher.press_data(Menu(item="relax").pack())
    await teacher.press(t("mood-open"))
    await teacher.press(t("mood-score-3"))
    assert t("mood-score-3") in screen(teacher).text and screen(teacher).protected
    await teacher.send_text(NOTE[lang])
    assert t("mood-note-saved") in screen(teacher).text and screen(teacher).protected
    calls = await teacher.press(t("mood-chart"))
    assert all(call.params.get("protect_content") is True for call in sent(calls, "sendPhoto"))
    assert screen(teacher).kind == "photo" and screen(teacher).protected

    # The journal: a reflection and a drawing, shown back on the journal screen and as a photo.
    await teacher.press_data(Menu(item="main").pack())
    for exercise_id, keep, give in (
        ("evening", "relax-keep-text", lambda: teacher.send_text(REFLECTION[lang])),
        ("drawing", "relax-keep-photo", teacher.send_photo),
    ):
        await open_exercise(teacher, lang, "creative", exercise_id)
        await teacher.press(t("relax-start"))
        await wait_until_finished(bot, fake_api)
        await teacher.press(t(keep))
        await give()
        assert t("relax-journal-saved") in screen(teacher).text
        await teacher.press_data(Menu(item="main").pack())
    await teacher.press_data(Menu(item="relax").pack())
    await teacher.press(t("relax-journal"))
    assert REFLECTION[lang] in screen(teacher).text and screen(teacher).protected
    calls = await teacher.press("🖼")
    assert all(call.params.get("protect_content") is True for call in sent(calls, "sendPhoto"))
    assert screen(teacher).kind == "photo" and screen(teacher).protected
    assert catalogue().get("drawing").title[lang] in screen(teacher).caption


async def test_a_screen_is_sent_anew_when_its_protection_differs(fake_api, start_bot):
    """An edit keeps the protection of the message it edits: the staff invite (to be forwarded)
    comes as a new unprotected message, and going back from it as a new protected one."""
    await start_bot(bot={"admins": [8601]})
    admin = fake_api.user(user_id=8601, language_code="ru")
    await agree(admin, TEXTS["ru"])
    await admin.press("Администратор")
    await admin.press("Пригласить психолога")
    menu = admin.last
    assert menu.protected
    await admin.press("Все регионы")
    invite = admin.last
    assert invite.message_id != menu.message_id and not invite.protected
    assert re.search(r"start=inv_[\w-]+", invite.text)
    await admin.press(TEXTS["ru"]["back"])
    home = admin.last
    assert home.message_id not in (menu.message_id, invite.message_id) and home.protected
    assert re.search(r"start=inv_[\w-]+", admin.messages[-2].text), "the invite stays as it was, to forward"
