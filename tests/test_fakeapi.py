"""Self-tests of the fake Bot API: a real aiogram Bot talks to it over HTTP, as the product will."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.filters import CommandStart
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)

from tests.fakeapi import FakeBotAPI
from tests.fakeapi.reporting import report_handled

pytest_plugins = ["tests.fakeapi.pytest_plugin"]

USER = 1001
ADMIN = 9000


def keyboard(*rows: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=text, callback_data=data) for text, data in row] for row in rows
        ]
    )


async def raw_call(
    api: FakeBotAPI, method: str, fields: dict[str, Any] | None = None, *, as_json: bool = False
) -> tuple[int, dict[str, Any]]:
    """A request aiogram would never make: a form (or JSON body) exactly as given."""
    body = {"json": fields} if as_json else {"data": fields}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{api.base_url}/bot{api.token}/{method}", **body) as response,
    ):
        return response.status, await response.json()


@pytest.fixture
async def bot(fake_api: FakeBotAPI) -> AsyncIterator[Bot]:
    session = AiohttpSession(api=TelegramAPIServer.from_base(fake_api.base_url))
    async with Bot(fake_api.token, session=session, default=DefaultBotProperties(parse_mode="HTML")) as bot:
        yield bot


@pytest.fixture(params=["reporting", "quiet"])
async def running_bot(
    request: pytest.FixtureRequest, fake_api: FakeBotAPI, bot: Bot
) -> AsyncIterator[FakeBotAPI]:
    """A tiny bot polling the fake server: /start offers two buttons, one of which forgets to answer.
    It reports each update handled, or not: then the fake server falls back to waiting for quiet."""
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message) -> None:
        await message.answer(
            "Сәлем! <b>Demeu</b> көмектеседі.",
            reply_markup=keyboard([("Иә, бастаймыз", "go")], [("Кейін", "later")]),
        )

    @router.callback_query(F.data == "go")
    async def go(query: CallbackQuery) -> None:
        await query.message.edit_text("Бастадық")
        await query.answer("Жақсы!")

    @router.callback_query(F.data == "later")
    async def later(query: CallbackQuery) -> None:
        await query.message.answer("Жарайды")  # no query.answer(): a bug the fake must catch

    @router.message(F.document)
    async def document(message: Message, bot: Bot) -> None:
        data = await bot.download(message.document)
        await bot.copy_message(ADMIN, message.chat.id, message.message_id)
        await message.answer(f"{len(data.read())} байт алдым")

    @router.message(F.text == "үнсіз")
    async def silent(message: Message) -> None:
        pass

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    if request.param == "reporting":
        report_handled(dispatcher, fake_api)
    polling = asyncio.create_task(
        dispatcher.start_polling(bot, handle_signals=False, close_bot_session=False)
    )
    yield fake_api
    await dispatcher.stop_polling()
    await polling


async def test_real_bot_requests_parse(fake_api: FakeBotAPI, bot: Bot) -> None:
    user = fake_api.user(USER)
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (123456789, "demeu_test_bot", True)

    sent = await bot.send_message(
        USER, "<b>Сәлем</b>, мұғалім &amp; досым!", reply_markup=keyboard([("Иә", "y")])
    )
    assert sent.text == "Сәлем, мұғалім & досым!"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [("bold", 0, 5)]
    assert sent.reply_markup.inline_keyboard[0][0].callback_data == "y"

    edited = await bot.edit_message_text("Жаңа <i>мәтін</i>", chat_id=USER, message_id=sent.message_id)
    assert edited.text == "Жаңа мәтін" and edited.reply_markup is None  # no markup in an edit removes it
    await bot.send_document(USER, BufferedInputFile(b"%PDF report", "есеп.pdf"), caption="Есеп")

    assert [c.method for c in fake_api.calls] == ["getMe", "sendMessage", "editMessageText", "sendDocument"]
    assert fake_api.calls[1].params["reply_markup"] == {
        "inline_keyboard": [[{"text": "Иә", "callback_data": "y"}]]
    }
    assert [m.text or m.caption for m in user.messages] == ["Жаңа мәтін", "Есеп"]
    assert (user.documents[0].document, user.documents[0].filename) == (b"%PDF report", "есеп.pdf")


@pytest.mark.parametrize(
    ("method", "fields", "status", "description"),
    [
        (
            "sendMessage",
            {"chat_id": "1", "text": "x", "colour": "red"},
            400,
            'Bad Request: unknown field "colour"',
        ),
        (
            "sendMessage",
            {"chat_id": "1", "text": "x", "disable_web_page_preview": "true"},
            400,
            'Bad Request: unknown field "disable_web_page_preview" (deprecated: use link_preview_options)',
        ),
        ("sendMessage", {"text": "x"}, 400, "Bad Request: chat_id is empty"),
        ("sendMessage", {"chat_id": "1"}, 400, "Bad Request: message text is empty"),
        ("sendDocument", {"chat_id": "1"}, 400, "Bad Request: there is no document in the request"),
        ("sendMesage", {"chat_id": "1", "text": "x"}, 404, "Not Found"),
        (
            "sendMessage",
            {"chat_id": "1", "text": "x", "disable_notification": "maybe"},
            400,
            'Bad Request: field "disable_notification" must be of type Boolean',
        ),
        (
            "sendMessage",
            {"chat_id": "1", "text": "x", "reply_markup": '{"inline_keyboard": [[{"callback_data": "a"}]]}'},
            400,
            "Bad Request: can't parse inline keyboard button: Can't find field \"text\"",
        ),
        (
            "sendMessage",
            {"chat_id": "1", "text": "x", "reply_markup": '{"inline_keyboard": [[{"text": "a"}]]}'},
            400,
            "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard",
        ),
        (
            "sendMessage",
            {"chat_id": "1", "text": "x", "link_preview_options": '{"is_disabled": true, "size": 1}'},
            400,
            'Bad Request: can\'t parse link preview options: unknown field "size"',
        ),
        (
            "editMessageText",
            {"chat_id": "1", "message_id": "7", "text": "x"},
            400,
            "Bad Request: message to edit not found",
        ),
    ],
)
async def test_protocol_violations_are_refused_and_recorded(
    fake_api: FakeBotAPI, method: str, fields: dict[str, str], status: int, description: str
) -> None:
    assert await raw_call(fake_api, method, fields) == (
        status,
        {"ok": False, "error_code": status, "description": description},
    )
    assert fake_api.expect_violations() == [f"{method}: {description}"]


async def test_method_names_are_case_insensitive_and_token_checked(fake_api: FakeBotAPI) -> None:
    status, body = await raw_call(fake_api, "SENDMESSAGE", {"chat_id": "1", "text": "x"})
    assert (status, body["result"]["text"]) == (200, "x")
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{fake_api.base_url}/bot1:wrong/getMe") as response,
    ):
        assert (response.status, await response.json()) == (
            401,
            {"ok": False, "error_code": 401, "description": "Unauthorized"},
        )


async def test_text_limits_count_visible_utf16_after_html(fake_api: FakeBotAPI, bot: Bot) -> None:
    too_long = "Bad Request: message is too long"
    cases = {
        "a" * 4096: None,
        "a" * 4097: too_long,
        "<b>" + "ә" * 4096 + "</b>": None,  # 4103 characters of HTML, 4096 visible
        "&lt;" * 4096: None,
        "😀" * 2048: None,  # two UTF-16 code units each
        "😀" * 2049: too_long,
        "<b></b> ": "Bad Request: message text is empty",
        "<b>x": "Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"b\"",
        "a < b": 'Bad Request: can\'t parse entities: Unsupported start tag "" at byte offset 2',
        "<b>x</i>": "Bad Request: can't parse entities: "
        'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"',
        "Q&A": 'Bad Request: can\'t parse entities: Unsupported HTML entity or unescaped "&" at byte offset 1',
    }
    for text, error in cases.items():
        if error is None:
            await bot.send_message(USER, text)
            continue
        with pytest.raises(TelegramBadRequest) as refused:
            await bot.send_message(USER, text)
        assert refused.value.message == error, text[:20]
    assert fake_api.expect_violations() == [f"sendMessage: {e}" for e in cases.values() if e]


async def test_caption_limit(fake_api: FakeBotAPI, bot: Bot) -> None:
    photo = BufferedInputFile(b"jpeg", "p.jpg")
    await bot.send_photo(USER, photo, caption="c" * 1024)
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.send_photo(USER, photo, caption="c" * 1025)
    assert len(fake_api.expect_violations()) == 1


async def test_commands_and_descriptions_are_kept_per_language_and_limited(
    fake_api: FakeBotAPI, bot: Bot
) -> None:
    await bot.set_my_commands([BotCommand(command="help", description="Помощь")], language_code="ru")
    assert [c.command for c in await bot.get_my_commands(language_code="ru")] == ["help"]
    assert await bot.get_my_commands(language_code="kk") == [], "each language apart, as Telegram keeps them"
    await bot.set_my_commands([], language_code="ru")
    assert await bot.get_my_commands(language_code="ru") == []
    await bot.set_my_short_description("к" * 120, language_code="kk")
    assert (await bot.get_my_short_description(language_code="kk")).short_description == "к" * 120
    assert (await bot.get_my_short_description()).short_description == ""
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Help-me", description="x")])
    with pytest.raises(TelegramBadRequest, match="too long"):
        await bot.set_my_description("д" * 513)
    assert len(fake_api.expect_violations()) == 2


async def test_a_chats_own_commands_need_the_chat(fake_api: FakeBotAPI, bot: Bot) -> None:
    fake_api.user(USER)
    mine = BotCommandScopeChat(chat_id=USER)
    await bot.set_my_commands([BotCommand(command="questions", description="Очередь")], scope=mine)
    assert fake_api.chat_commands(USER) == ["questions"] and fake_api.chat_commands(USER + 1) is None
    assert [c.command for c in await bot.get_my_commands(scope=mine)] == ["questions"]
    assert await bot.get_my_commands() == [], "the default scope apart"
    await bot.delete_my_commands(scope=mine)
    assert fake_api.chat_commands(USER) is None
    with pytest.raises(TelegramBadRequest, match="chat not found"):  # nobody who wrote to the bot
        await bot.set_my_commands(
            [BotCommand(command="x", description="x")], scope=BotCommandScopeChat(chat_id=9)
        )
    assert len(fake_api.expect_violations()) == 1


async def test_callback_data_is_limited_to_64_bytes(fake_api: FakeBotAPI, bot: Bot) -> None:
    await bot.send_message(USER, "ok", reply_markup=keyboard([("a", "x" * 64)]))
    await bot.send_message(USER, "ok", reply_markup=keyboard([("a", "д" * 32)]))  # 64 bytes of UTF-8
    for data in ("x" * 65, "д" * 33):
        with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
            await bot.send_message(USER, "no", reply_markup=keyboard([("a", data)]))
    assert fake_api.expect_violations() == ["sendMessage: Bad Request: BUTTON_DATA_INVALID"] * 2


async def test_callback_answers(fake_api: FakeBotAPI, bot: Bot) -> None:
    user = fake_api.user(USER)
    message = fake_api.store_message(USER, fake_api.bot_user, text="?")
    fake_api.feed(
        {
            "callback_query": {
                "id": "q1",
                "from": user.as_user,
                "chat_instance": "i",
                "message": message.to_api(),
                "data": "d",
            }
        }
    )
    with pytest.raises(TelegramBadRequest, match="MESSAGE_TOO_LONG"):
        await bot.answer_callback_query("q1", text="я" * 201)
    await bot.answer_callback_query("q1", text="я" * 200, show_alert=True)
    stale = "Bad Request: query is too old and response timeout expired or query ID is invalid"
    for query_id in ("q1", "forged"):  # answered twice; never existed
        with pytest.raises(TelegramBadRequest, match="query is too old"):
            await bot.answer_callback_query(query_id)
    assert fake_api.expect_violations() == [
        "answerCallbackQuery: Bad Request: MESSAGE_TOO_LONG",
        f"answerCallbackQuery: {stale}",
        f"answerCallbackQuery: {stale}",
    ]


async def test_identical_edit_is_not_modified(fake_api: FakeBotAPI, bot: Bot) -> None:
    markup = keyboard([("Иә", "y")])
    sent = await bot.send_message(USER, "<b>Сұрақ</b>", reply_markup=markup)
    with pytest.raises(TelegramBadRequest, match="message is not modified: specified new message content"):
        await bot.edit_message_text(
            "<strong>Сұрақ</strong>", chat_id=USER, message_id=sent.message_id, reply_markup=markup
        )  # other HTML, same entities
    await bot.edit_message_text("<i>Сұрақ</i>", chat_id=USER, message_id=sent.message_id, reply_markup=markup)
    assert [c.method for c in fake_api.not_modified] == ["editMessageText"]
    assert fake_api.violations == []


async def test_blocked_user_is_forbidden(fake_api: FakeBotAPI, bot: Bot) -> None:
    fake_api.block(USER)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(USER, "Сәлем")
    await bot.send_message(ADMIN, "others still get messages")
    fake_api.unblock(USER)
    await bot.send_message(USER, "Сәлем")


async def test_injected_faults(fake_api: FakeBotAPI, bot: Bot) -> None:
    fake_api.inject(method="sendMessage", status=429, retry_after=3)
    with pytest.raises(TelegramRetryAfter) as flood:
        await bot.send_message(USER, "x")
    assert flood.value.retry_after == 3 and "Too Many Requests: retry after 3" in flood.value.message
    fake_api.inject(chat_id=USER, status=502, times=2)
    for _ in range(2):
        with pytest.raises(TelegramServerError, match="Bad Gateway"):
            await bot.send_message(USER, "x")
    await bot.send_message(USER, "x")


async def test_rate_limit_answers_429_beyond_30_messages_per_second(fake_api: FakeBotAPI, bot: Bot) -> None:
    fake_api.rate_limit(global_per_second=30, per_chat_per_second=1)
    started = asyncio.get_running_loop().time()
    outcomes = await asyncio.gather(
        *(bot.send_message(2000 + n, "x") for n in range(40)), return_exceptions=True
    )
    assert asyncio.get_running_loop().time() - started < 1
    flooded = [o for o in outcomes if isinstance(o, TelegramRetryAfter)]
    assert (len(flooded), len(fake_api.rate_limited)) == (10, 10)
    assert flooded[0].retry_after == 1
    await asyncio.sleep(1)
    await bot.send_message(USER, "one")
    with pytest.raises(TelegramRetryAfter):  # the same chat again within the second
        await bot.send_message(USER, "two")


async def test_simulated_user_drives_a_polling_bot(running_bot: FakeBotAPI) -> None:
    user = running_bot.user(USER)
    calls = await user.send_text("/start")
    assert [c.method for c in calls] == ["sendMessage"]
    assert user.last_text == "Сәлем! Demeu көмектеседі."
    assert user.last.button_rows == [["Иә, бастаймыз"], ["Кейін"]]
    assert user.last.callback_data == ["go", "later"]

    calls = await user.press("иә")
    assert [c.method for c in calls] == ["editMessageText", "answerCallbackQuery"]
    assert (user.last_text, user.last.buttons, user.alerts) == ("Бастадық", [], ["Жақсы!"])
    assert len(user.messages) == 1


async def test_press_fails_clearly_without_such_button(running_bot: FakeBotAPI) -> None:
    user = running_bot.user(USER)
    await user.send_text("/start")
    with pytest.raises(AssertionError, match=r"no button 'Жоқ'.*\[\['Иә, бастаймыз'\], \['Кейін'\]\]"):
        await user.press("Жоқ")


async def test_unanswered_button_press_is_a_violation(running_bot: FakeBotAPI) -> None:
    user = running_bot.user(USER)
    await user.send_text("/start")
    await user.press("Кейін")
    assert user.last_text == "Жарайды"
    assert running_bot.expect_violations() == ["callback query not answered: 'later' on message 2"]


async def test_silence_is_a_failure(running_bot: FakeBotAPI) -> None:
    user = running_bot.user(USER)
    with pytest.raises(AssertionError, match="bot was silent"):
        await user.send_text("үнсіз", timeout=0.5)
    assert await user.send_text("үнсіз", expect_silence=True) == []


async def test_user_document_is_downloaded_and_copied(running_bot: FakeBotAPI) -> None:
    user = running_bot.user(USER)
    await user.send_document(b"12345", filename="notes.txt", mime_type="text/plain")
    assert user.last_text == "5 байт алдым"
    copied = running_bot.messages(ADMIN)[0]
    assert (copied.kind, copied.document, copied.filename) == ("document", b"12345", "notes.txt")
    assert "forwardMessage" not in {c.method for c in running_bot.calls}


async def test_json_bodies_are_checked_alike(fake_api: FakeBotAPI) -> None:
    button = {"text": "a", "url": "https://t.me/demeu_test_bot"}
    status, body = await raw_call(
        fake_api,
        "sendMessage",
        {"chat_id": USER, "text": "x", "reply_markup": {"inline_keyboard": [[button]]}},
        as_json=True,
    )
    assert (status, body["result"]["reply_markup"]["inline_keyboard"]) == (200, [[button]])
    status, body = await raw_call(fake_api, "sendMessage", {"chat_id": USER, "text": 5}, as_json=True)
    assert (status, body["description"]) == (400, 'Bad Request: field "text" must be of type String')
    fake_api.expect_violations()
