"""The Bot object's reading of Telegram's answers."""

import gc
import json
import weakref

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.methods import AnswerCallbackQuery, SendMessage

from bot.telegram.bot import response_models

TOKEN = "1:AAE-test-token-0123456789abcdefghij"
MESSAGE = {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}, "text": "x"}


def test_each_kind_of_answer_is_read_by_a_model_built_once_per_process():
    """Without the models held (`response_models`), the garbage collector takes pydantic's generic
    Response[...] after each use and every later answer builds it again."""
    response_models()
    session, bot = AiohttpSession(), Bot(TOKEN)
    answers = [
        (SendMessage(chat_id=1, text="x"), MESSAGE),
        (AnswerCallbackQuery(callback_query_id="1"), True),
    ]

    def model_of(method, result) -> weakref.ref:
        answer = session.check_response(bot, method, 200, json.dumps({"ok": True, "result": result}))
        return weakref.ref(type(answer))

    before = [model_of(method, result) for method, result in answers]
    gc.collect()
    after = [model_of(method, result) for method, result in answers]
    for first, second in zip(before, after, strict=True):
        assert first() is second() is not None
        assert first() in response_models()
