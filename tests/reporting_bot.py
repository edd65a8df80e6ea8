"""`python -m bot` for tests: the same process, besides reporting each update handled (follow-ups
included) to the fake Bot API at DEMEU_TELEGRAM_API_SERVER, for which the simulated users wait.

    python -m tests.reporting_bot [bot arguments]
"""

import os
import sys

import bot.app
from bot.__main__ import main
from bot.telegram import followups
from tests.fakeapi.reporting import report_handled_over_http

build_dispatcher = bot.app.build_dispatcher


def build_reporting_dispatcher(*args, **kwargs):
    dispatcher = build_dispatcher(*args, **kwargs)
    report_handled_over_http(dispatcher, os.environ["DEMEU_TELEGRAM_API_SERVER"], settle=followups.settled)
    return dispatcher


if __name__ == "__main__":
    bot.app.build_dispatcher = build_reporting_dispatcher  # what App.create calls
    sys.exit(main())
