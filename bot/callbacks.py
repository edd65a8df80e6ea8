"""Callback-data factories. Short prefixes and ids only: Telegram allows 64 bytes."""
from aiogram.filters.callback_data import CallbackData


class Menu(CallbackData, prefix="m"):
    """A main-menu section: main, book, groups, check, relax, mine, sos, settings, psy, coord, admin."""

    item: str


class Lang(CallbackData, prefix="lg"):
    code: str
    # Where the choice was made: "s" at /start (consent follows), "st" in settings.
    origin: str = "s"


class Consent(CallbackData, prefix="cs"):
    agree: bool


class Settings(CallbackData, prefix="st"):
    action: str
    value: str = ""


class Admin(CallbackData, prefix="ad"):
    action: str
    role: str = ""
    region: str = ""
