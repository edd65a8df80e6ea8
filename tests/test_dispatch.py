"""A press goes straight to the router whose handler takes it: the routers of other features turn
it away at their first check, the press is unpacked once for all the routers and handlers that
take its kind (with aiogram's own Dispatcher, once per such router), and what no handler takes
still reaches the fallback."""

from __future__ import annotations

import pytest
from aiogram import BaseMiddleware, Bot, Dispatcher, F, Router
from aiogram.types import CallbackQuery, Chat, Message, Update, User
from magic_filter import MagicFilter

from bot.telegram import callbacks as cb
from bot.telegram.dispatch import PressDispatcher, route_presses_by_prefix

PERSON = User(id=7, is_bot=False, first_name="T")


def press(data: str, bot: Bot) -> Update:
    message = Message(message_id=1, date=0, chat=Chat(id=7, type="private"), text="·")
    query = CallbackQuery(id="1", from_user=PERSON, chat_instance="c", data=data, message=message)
    return Update(update_id=1, callback_query=query).as_(bot)


def routers(handled: list[str]) -> list[Router]:
    booking, settings, fallback = Router(name="booking"), Router(name="settings"), Router(name="fallback")

    def note(name: str):
        async def handler(_query: CallbackQuery, callback_data: cb.Press | None = None) -> None:
            handled.append(f"{name} {type(callback_data).__name__}" if callback_data else name)

        return handler

    booking.callback_query.register(note("booking menu"), cb.Menu.filter(F.item == cb.Section.BOOK))
    settings.callback_query.register(note("settings menu"), cb.Menu.filter(F.item == cb.Section.SETTINGS))
    settings.callback_query.register(note("settings"), cb.Settings.filter())
    fallback.callback_query.register(note("fallback"))
    return route_presses_by_prefix([booking, settings, fallback])


@pytest.mark.parametrize("kind", [Dispatcher, PressDispatcher])
async def test_each_press_reaches_its_handler_unpacked_once(monkeypatch, kind):
    handled: list[str] = []
    dispatcher = kind()
    dispatcher.include_routers(*routers(handled))
    bot = Bot("42:TEST")
    unpacked: list[str] = []
    for pressed in (cb.Menu, cb.Settings):
        original = pressed.unpack.__func__

        def counting(cls, value, original=original):
            unpacked.append(value)
            return original(cls, value)

        monkeypatch.setattr(pressed, "unpack", classmethod(counting))

    unpacks = []
    for data in (
        cb.Menu(item=cb.Section.SETTINGS).pack(),
        cb.Menu(item=cb.Section.BOOK).pack(),
        cb.Settings(action=cb.SettingsAction.LANGUAGE).pack(),
        cb.Menu(item=cb.Section.MOOD).pack(),  # a section no router here takes
        "m:forged",
        "zz:1",
    ):
        unpacked.clear()
        await dispatcher.feed_update(bot, press(data, bot))
        unpacks.append(len(unpacked))
    # aiogram's Dispatcher asks each router's root filter, which unpacks the press by itself.
    assert unpacks == ([1, 1, 1, 1, 1, 0] if kind is PressDispatcher else [2, 1, 1, 2, 2, 0])
    assert handled == [
        "settings menu Menu",
        "booking menu Menu",
        "settings Settings",
        "fallback",
        "fallback",
        "fallback",
    ]
    await bot.session.close()


async def test_a_press_enters_only_the_routers_that_take_it():
    """The bot's dispatcher does not enter a router a press does not concern (aiogram's enters
    every router before the one that takes it, wrapping its middlewares and asking its filters)."""
    entered: list[str] = []

    class Entry(BaseMiddleware):
        def __init__(self, name: str) -> None:
            self.name = name

        async def __call__(self, handler, event, data):
            entered.append(self.name)
            return await handler(event, data)

    handled: list[str] = []
    dispatcher = PressDispatcher()
    built = routers(handled)
    for router in built:
        router.callback_query.outer_middleware(Entry(router.name))
    dispatcher.include_routers(*built)
    bot = Bot("42:TEST")
    for data, routed in (
        (cb.Settings(action=cb.SettingsAction.LANGUAGE).pack(), ["settings"]),
        (cb.Menu(item=cb.Section.SETTINGS).pack(), ["settings"]),
        (cb.Menu(item=cb.Section.BOOK).pack(), ["booking"]),
        ("m:forged", ["fallback"]),
    ):
        entered.clear()
        await dispatcher.feed_update(bot, press(data, bot))
        assert entered == routed, data
    assert handled == ["settings Settings", "settings menu Menu", "booking menu Menu", "fallback"]
    await bot.session.close()


async def test_each_rule_of_the_handlers_is_resolved_once_a_press(monkeypatch):
    """The gate, the router's root filter and the handler's filter all ask a handler's rule (the
    settings menu's `item == settings`): the press's answer is kept for the update."""
    resolved: list[int] = []
    resolve = MagicFilter.resolve

    def counting(rule, value):
        resolved.append(id(rule))
        return resolve(rule, value)

    monkeypatch.setattr(MagicFilter, "resolve", counting)
    handled: list[str] = []
    dispatcher = PressDispatcher()
    dispatcher.include_routers(*routers(handled))
    bot = Bot("42:TEST")
    for data in (cb.Menu(item=cb.Section.SETTINGS).pack(), cb.Menu(item=cb.Section.BOOK).pack()):
        resolved.clear()
        await dispatcher.feed_update(bot, press(data, bot))
        assert resolved and len(resolved) == len(set(resolved)), data
    assert handled == ["settings menu Menu", "booking menu Menu"]
    await bot.session.close()
