"""Wording end to end in Kazakh and Russian: a count on a screen takes its plural form (the
catalogues' forms for 1, 2, 5, 11, 21 are checked in tests/test_locales.py)."""

from __future__ import annotations

import pytest

from bot.telegram.callbacks import Book, BookAction, Menu
from tests.test_chat_e2e import add_user
from tests.test_limits_e2e import PSY, TEACHER, add_slots

BOOKED_ONE = {"kk": "Сізде қазірдің өзінде 1 алдағы жазылу бар", "ru": "У вас уже 1 предстоящая запись"}


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_the_booking_limit_says_its_number_in_the_right_form(fake_api, start_bot, lang):
    bot = await start_bot(booking={"max_active": 1})
    teacher = await add_user(bot, fake_api, TEACHER | {"language_code": lang})
    await add_user(bot, fake_api, PSY, role="psychologist")
    slots = await add_slots(bot, PSY["user_id"], 1)
    await teacher.send_text("/menu")
    await teacher.press_data(Book(a=BookAction.OK, f="video", s=slots[0]).pack())
    await teacher.press_data(Menu(item="book").pack())  # on the booked screen (the .ics file is below)
    assert any(BOOKED_ONE[lang] in (m.text or "") for m in teacher.messages)
