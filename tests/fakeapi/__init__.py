"""A fake Telegram Bot API server and simulated users for end-to-end tests of the bot."""

from .limits import parse_html, render, utf16_len
from .models import ApiError, Call, StoredFile, StoredMessage, Upload
from .server import BOT_ID, TOKEN, FakeBotAPI
from .spec import Spec, load_spec, spec_path
from .users import SimulatedUser

__all__ = [
    "BOT_ID",
    "TOKEN",
    "ApiError",
    "Call",
    "FakeBotAPI",
    "SimulatedUser",
    "Spec",
    "StoredFile",
    "StoredMessage",
    "Upload",
    "load_spec",
    "parse_html",
    "render",
    "spec_path",
    "utf16_len",
]
