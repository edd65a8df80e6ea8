"""Self-check questionnaires end to end through the fake Bot API server, in Kazakh and Russian.

Expected numbers are worked out by hand from the published scoring rules (the same answer
patterns as tests/test_instruments.py), never taken from the engine."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.content.instruments import Instrument, load_instruments
from bot.telegram.callbacks import Book, Menu, SelfCheck
from storage.models import Booking, SelfCheckDraft, SelfCheckResult, User
from storage.models.base import utcnow
from storage.models.booking import SHARED_LIMIT
from storage.repo import selfcheck as repo
from storage.repo import users
from tests.conftest import stored_bytes
from tests.test_booking_e2e import screen

PNG = b"\x89PNG\r\n\x1a\n"
INSTRUMENTS = load_instruments()

TEXTS = {
    "kk": {
        "lang": "Қазақша",
        "agree": "Келісемін",
        "begin": "Бастау",
        "book": "Кеңеске жазылу",
        "sos": "Шұғыл көмек",
        "relax": "Жаттығу",
        "history": "Менің нәтижелерім",
        "not_diagnosis": "диагноз емес",
        "back": "Артқа",
        "safety_answer": "зиян келтіру туралы ойлар",
        "safety_score": "өте ауыр",
        "see_result": "Нәтижені көру",
        "continue": "жалғастыру",
        "chart": "📊",
        "delete": "Нәтижелерімді өшіру",
        "confirm": "Иә, өшіру",
        "deleted": "өшірілді",
        "settings": "Баптаулар",
        "erase": "Деректерімді өшіру",
        "erase_ok": "бәрін өшіру",
    },
    "ru": {
        "lang": "Русский",
        "agree": "Согласен",
        "begin": "Начать",
        "book": "Записаться на консультацию",
        "sos": "Срочная помощь",
        "relax": "Упражнение",
        "history": "Мои результаты",
        "not_diagnosis": "не диагноз",
        "back": "Назад",
        "safety_answer": "причинить себе вред",
        "safety_score": "очень непросто",
        "see_result": "Посмотреть результат",
        "continue": "Продолжить",
        "chart": "📊",
        "delete": "Удалить мои результаты",
        "confirm": "Да, удалить",
        "deleted": "удалены",
        "settings": "Настройки",
        "erase": "Удалить мои данные",
        "erase_ok": "удалить всё",
    },
}

# Answer values by position and the scores they must give, by hand:
CASES = {
    # 1+2+0+3+1+0+2+1+0 = 10 -> moderate (10-14)
    "phq9": ([1, 2, 0, 3, 1, 0, 2, 1, 0], {"total": ("10 / 27", "moderate")}),
    # 2+1+3+0+1+2+1 = 10 -> moderate (10-14)
    "gad7": ([2, 1, 3, 0, 1, 2, 1], {"total": ("10 / 21", "moderate")}),
    # raw 3+2+4+1+3 = 13, x4 = 52 -> above 50
    "who5": ([3, 2, 4, 1, 3], {"wellbeing": ("52 / 100", "good")}),
    # plain 3+2+4+3+2+3 = 17; reversed items 4,5,7,8: (4-1)+(4-0)+(4-2)+(4-1) = 12; 29 -> high (27-40)
    "pss10": ([3, 2, 4, 1, 0, 3, 2, 1, 2, 3], {"total": ("29 / 40", "high")}),
    # personal 375/6 = 62.5; work with leisure 25 reversed to 75: 450/7 = 64.29; students 275/6 = 45.83
    "cbi": (
        [75, 50, 100, 25, 50, 75, 100, 75, 50, 75, 25, 50, 25, 25, 0, 50, 75, 100, 25],
        {
            "personal": ("62,5 / 100", "moderate"),
            "work": ("64,3 / 100", "moderate"),
            "students": ("45,8 / 100", "low"),
        },
    ),
}


def title(instrument: Instrument, lang: str) -> str:
    return f"{instrument.name(lang)} ({instrument.abbreviation})"


def label(instrument: Instrument, position: int, value: int, lang: str) -> str:
    options = instrument.options_for(instrument.items[position])
    return next(option.label(lang) for option in options if option.value == value)


async def agree(user, lang: str) -> None:
    await user.send_text("/start")
    await user.press(TEXTS[lang]["lang"])
    await user.press(TEXTS[lang]["agree"])


async def open_instrument(user, key: str, lang: str) -> None:
    await user.press_data(Menu(item="check").pack())
    await user.press(title(INSTRUMENTS[key], lang))


async def answer(user, key: str, values: list[int], lang: str, *, start: int = 0) -> None:
    instrument = INSTRUMENTS[key]
    for position, value in enumerate(values[start:], start):
        assert f"{position + 1}/{len(instrument.items)}" in user.last_text
        assert instrument.items[position].text(lang)[:30] in user.last_text
        await user.press(label(instrument, position, value, lang))


async def booked_with_anna(bot, teacher_id: int, psychologist_id: int, staff_lang: str) -> None:
    """The teacher books a video session in two days with Anna, a new published psychologist."""
    from storage.repo import booking as bookings

    async with bot.app.sessions.begin() as session:
        staff = await users.create(session, psychologist_id, staff_lang)
        staff.role, staff.consent_at = "psychologist", utcnow()
        profile = await bookings.ensure_profile(session, staff)
        profile.display_name, profile.languages, profile.formats, profile.published = (
            "Анна",
            "ru,kk",
            "video",
            True,
        )
        slot = await bookings.add_slot(session, profile, utcnow() + timedelta(days=2), 50, "video")
        owner = await users.by_telegram_id(session, teacher_id)
        assert (await bot.app.bookings.book(session, owner, slot.id, None, utcnow())).ok


async def count(bot, model) -> int:
    async with bot.app.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_every_instrument_scores_as_published(fake_api, start_bot, lang):
    t = TEXTS[lang]
    bot = await start_bot()
    user = fake_api.user(user_id=6100, language_code=lang)
    await agree(user, lang)
    await user.press_data(Menu(item="check").pack())
    for instrument in INSTRUMENTS.values():
        assert title(instrument, lang) in user.last_text  # plain name with the standard abbreviation

    for key, (values, expected) in CASES.items():
        instrument = INSTRUMENTS[key]
        await open_instrument(user, key, lang)
        await user.press(t["begin"])
        screen = user.last.message_id
        await answer(user, key, values, lang)
        assert user.last.message_id == screen, "one message, edited in place"
        result = user.last_text
        for scale_key, (numbers, band) in expected.items():
            scale = instrument.scale(scale_key)
            band_label = next(b.label(lang) for b in scale.bands if b.key == band)
            assert f"{scale.name(lang)}: {numbers} — {band_label}" in result, result
        assert t["not_diagnosis"] in result
        buttons = user.last.buttons
        assert any(t["book"] in b for b in buttons) and any(t["relax"] in b for b in buttons)
        assert any(t["sos"] in b for b in buttons), "urgent help one tap from every result"
    assert await count(bot, SelfCheckResult) == len(CASES)
    assert await count(bot, SelfCheckDraft) == 0


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_phq9_item9_opens_the_safety_screen_before_anything_else(fake_api, start_bot, lang):
    t = TEXTS[lang]
    bot = await start_bot()
    user = fake_api.user(user_id=6200, language_code=lang)
    await agree(user, lang)
    await open_instrument(user, "phq9", lang)
    await user.press(t["begin"])
    await answer(user, "phq9", [0] * 8, lang)
    last_answer = label(INSTRUMENTS["phq9"], 8, 1, lang)
    await user.press(last_answer)
    assert t["safety_answer"] in user.last_text
    assert all(number in user.last_text for number in ("150", "111", "112"))
    assert "1 / 27" not in user.last_text, "the safety screen comes before the result"
    assert Book(a="soon").pack() in user.last.callback_data, "the earliest consultation one tap away"

    # A second tap on the same answer neither stores a second result nor skips the safety screen.
    await user.press_data(SelfCheck(action="ans", inst="phq9", n=8, v=1).pack())
    assert t["safety_answer"] in user.last_text
    assert await count(bot, SelfCheckResult) == 1

    await user.press(t["see_result"])
    assert "1 / 27" in user.last_text
    assert any(t["sos"] in b for b in user.last.buttons)


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_who5_at_28_or_below_opens_the_safety_screen(fake_api, start_bot, lang):
    t = TEXTS[lang]
    await start_bot()
    user = fake_api.user(user_id=6300, language_code=lang)
    await agree(user, lang)
    await open_instrument(user, "who5", lang)
    await user.press(t["begin"])
    await answer(user, "who5", [1, 1, 2, 1, 2], lang)  # raw 7 x 4 = 28: the threshold itself
    assert t["safety_score"] in user.last_text and "150" in user.last_text
    await user.press(t["see_result"])
    assert "28 / 100" in user.last_text


async def test_double_tap_back_and_resume_after_restart(fake_api, start_bot, tmp_path):
    t = TEXTS["ru"]
    pss = INSTRUMENTS["pss10"]
    bot = await start_bot()
    user = fake_api.user(user_id=6400, language_code="ru")
    await agree(user, "ru")
    await open_instrument(user, "pss10", "ru")
    await user.press(t["begin"])
    screen = user.last.message_id
    await user.press(label(pss, 0, 3, "ru"))
    # The same button tapped twice on the first question: it counts once.
    await user.press_data(SelfCheck(action="ans", inst="pss10", n=0, v=3).pack(), message_id=screen)
    assert "2/10" in user.last_text
    await user.press(label(pss, 1, 2, "ru"))
    await user.press(t["back"])
    assert "2/10" in user.last_text
    assert "✓ " + label(pss, 1, 2, "ru") in user.last.buttons, "the previous answer is marked"
    await user.press(label(pss, 1, 2, "ru"))
    await user.press(label(pss, 2, 4, "ru"))
    assert "4/10" in user.last_text

    await bot.stop()
    await start_bot()
    # The old message still works after the restart, from where it stopped...
    await user.press(label(pss, 3, 1, "ru"))
    assert "5/10" in user.last_text
    # ...and the menu offers to continue.
    await user.press_data(Menu(item="check").pack())
    assert "5/10" in user.last_text
    await user.press(title(pss, "ru"))
    await user.press(t["continue"])
    values = CASES["pss10"][0]
    await answer(user, "pss10", values, "ru", start=4)
    assert "29 / 40" in user.last_text


async def test_history_chart_for_one_and_twenty_results(fake_api, start_bot):
    t = TEXTS["kk"]
    bot = await start_bot()
    user = fake_api.user(user_id=6500, language_code="kk")
    await agree(user, "kk")
    await open_instrument(user, "gad7", "kk")
    await user.press(t["begin"])
    await answer(user, "gad7", CASES["gad7"][0], "kk")
    await user.press(t["history"])
    assert "10" in user.last_text
    await user.press(t["chart"])
    photo = user.last
    assert photo.kind == "photo" and photo.file.data.startswith(PNG)
    assert "1" in photo.caption

    # Nineteen earlier results, two weeks apart, straight into the database.
    gad = INSTRUMENTS["gad7"]
    async with bot.app.sessions.begin() as session:
        owner = await session.scalar(select(User))
        for weeks in range(19):
            draft = await repo.start(session, owner.id, "gad7")
            for position, item in enumerate(gad.items):
                repo.record_answer(draft, item.key, weeks % 4, position + 1)
            row = await repo.finish(session, draft)
            row.created_at = utcnow() - timedelta(weeks=2 * (19 - weeks))
        row.created_at = utcnow() - timedelta(minutes=2)  # the latest two a moment apart, one day
    await user.press(t["back"])  # from the photo back to the history screen: a new text message
    assert "±0" in user.last_text or "+" in user.last_text, "change since last time"
    assert "20" in user.last_text
    stamps = [b for b in user.last.buttons if b.startswith("🗓")]
    assert len(stamps) == len(set(stamps)) == 5, "results of one day told apart by their time"
    await user.press(t["chart"])
    assert user.last.kind == "photo" and user.last.file.data.startswith(PNG)
    assert "20" in user.last.caption
    assert len(user.last.file.data) > len(photo.file.data) // 2


async def test_results_are_encrypted_and_deleted_with_the_data(fake_api, start_bot):
    t = TEXTS["ru"]
    bot = await start_bot()
    user = fake_api.user(user_id=6600, language_code="ru")
    await agree(user, "ru")
    for key in ("phq9", "cbi"):
        await open_instrument(user, key, "ru")
        await user.press(t["begin"])
        await answer(user, key, CASES[key][0], "ru")
    await open_instrument(user, "gad7", "ru")
    await user.press(t["begin"])
    await answer(user, "gad7", [3, 3], "ru")  # a draft too

    # Delete my results, from the self-check menu.
    await user.press_data(Menu(item="check").pack())
    await user.press(t["delete"])
    await user.press(t["confirm"])
    assert t["deleted"] in user.last_text
    assert await count(bot, SelfCheckResult) == 0 and await count(bot, SelfCheckDraft) == 0

    await open_instrument(user, "phq9", "ru")
    await user.press(t["begin"])
    await answer(user, "phq9", CASES["phq9"][0], "ru")
    await open_instrument(user, "who5", "ru")
    await user.press(t["begin"])
    await answer(user, "who5", [5], "ru")
    await bot.stop()
    raw = await stored_bytes(bot.settings.database.url)
    assert b"selfcheck_results" in raw
    for secret in (
        "phq9_9",
        "who5_1",
        '"answers"',
        "moderate",
        "Умеренный",
        "Симптомы депрессии",
        "safety_screen",
    ):
        assert secret.encode() not in raw, secret

    # "Delete my data" in the settings removes results and drafts too.
    bot = await start_bot()
    await user.press_data(Menu(item="settings").pack())
    await user.press(t["erase"])
    await user.press(t["erase_ok"])
    assert await count(bot, SelfCheckResult) == 0 and await count(bot, SelfCheckDraft) == 0


async def test_share_one_result_with_the_psychologist_of_a_booking(fake_api, start_bot):
    t = TEXTS["ru"]
    bot = await start_bot()
    teacher = fake_api.user(
        user_id=6700, first_name="Гульнара", username="gulnara_teacher", language_code="ru"
    )
    psychologist = fake_api.user(user_id=6701, language_code="kk")
    await agree(teacher, "ru")
    await open_instrument(teacher, "phq9", "ru")
    await teacher.press(t["begin"])
    await answer(teacher, "phq9", CASES["phq9"][0], "ru")
    assert not any("психологу" in b for b in teacher.last.buttons), "nothing to share with before a booking"

    await booked_with_anna(bot, teacher.id, psychologist.id, "kk")
    await bot.app.reminders.run_once()  # the booking's notices: the psychologist's, the teacher's .ics

    await teacher.press(t["history"])
    await teacher.press("🗓")
    await teacher.press("Показать моему психологу")
    assert "только этот результат" in screen(teacher)  # the .ics of the booking came before
    await teacher.press("Анна")
    assert "отправлен психологу" in screen(teacher)
    notice, *received = [m.text for m in psychologist.messages]
    assert "Жаңа жазылу" in notice
    assert len(received) == 1 and "10 / 27" in received[0] and "Орташа деңгей" in received[0]
    code = await pseudonym_of(bot, teacher.id)
    assert code in received[0] and "Гульнара" not in received[0] and str(teacher.id) not in received[0]

    # Once only: the same choice again sends nothing more.
    await teacher.press(t["back"])
    await teacher.press("Показать моему психологу")
    assert any(
        b.startswith("✓ ") and "Анна" in b
        for b in next(m for m in reversed(teacher.messages) if m.inline_keyboard).buttons
    )
    await teacher.press("Анна")
    assert "отправлен психологу" in screen(teacher)
    assert len(psychologist.messages) == 2, "the booking's notice and the one result"

    # A booking holds a limited list of results: one more than that is not sent, and the teacher is told.
    async with bot.app.sessions.begin() as session:
        owner = await users.by_telegram_id(session, teacher.id)
        (booking,) = await session.scalars(select(Booking).where(Booking.teacher_id == owner.id))
        booking.shared = [-n for n in range(1, SHARED_LIMIT + 1)]
    await teacher.press(t["back"])
    await teacher.press("Показать моему психологу")
    await teacher.press("Анна")
    assert "уже отправили много результатов" in screen(teacher)
    assert len(psychologist.messages) == 2


async def test_nothing_is_shared_with_a_psychologist_deactivated_since_the_booking(fake_api, start_bot):
    """A consultation under way is not cancelled by a deactivation, but its psychologist is offered
    no result any more, and a forged press sends nothing."""
    from bot.services.staff import deactivate
    from bot.telegram.callbacks import SelfCheck as Sc
    from storage.models import PsychologistProfile, Slot

    t = TEXTS["ru"]
    bot = await start_bot()
    teacher = fake_api.user(user_id=6710, language_code="ru")
    psychologist = fake_api.user(user_id=6711, language_code="kk")
    await agree(teacher, "ru")
    await open_instrument(teacher, "phq9", "ru")
    await teacher.press(t["begin"])
    await answer(teacher, "phq9", CASES["phq9"][0], "ru")
    async with bot.app.sessions.begin() as session:
        person = await users.create(session, psychologist.id, "kk")
        person.role, person.consent_at = "psychologist", utcnow()
        profile = PsychologistProfile(
            user_id=person.id,
            display_name="Анна",
            languages="ru",
            formats="video",
            regions="",
            published=True,
            demo=False,
        )
        session.add(profile)
        await session.flush()
        slot = Slot(
            psychologist_id=profile.id,
            starts_at=utcnow() - timedelta(minutes=20),
            duration_min=50,
            format="video",
            removed=False,
        )
        session.add(slot)
        await session.flush()
        owner = await users.by_telegram_id(session, teacher.id)
        booking = Booking(slot_id=slot.id, teacher_id=owner.id, state="booked", holds=True, late_cancel=False)
        session.add(booking)
        await session.flush()
        booking_id, profile_id = booking.id, profile.id
        result = await session.scalar(select(SelfCheckResult))
    await teacher.press(t["history"])
    await teacher.press("🗓")
    await teacher.press("Показать моему психологу")
    assert any("Анна" in b for b in teacher.last.buttons), "under way, the consultation is offered"

    async with bot.app.sessions.begin() as session:
        released = await deactivate(
            session, await session.get(PsychologistProfile, profile_id), bot.app.bookings, utcnow()
        )
        assert released.cancelled == [] and (await session.get(Booking, booking_id)).state == "booked"
    await teacher.press(t["back"])
    await teacher.press("Показать моему психологу")
    assert not any("Анна" in b for b in teacher.last.buttons)
    await teacher.press_data(Sc(action="shto", inst="phq9", n=result.id, v=booking_id).pack())
    assert psychologist.messages == []
    async with bot.app.sessions() as session:
        assert await repo.shared_for(session, [booking_id]) == {booking_id: []}


async def pseudonym_of(bot, telegram_id: int) -> str:
    async with bot.app.sessions() as session:
        return (await users.by_telegram_id(session, telegram_id)).pseudonym
