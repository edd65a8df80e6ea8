"""A bot replica for tests: the real app with its background workers, taking no updates.

    python -m tests.reminder_replica     (settings from the environment, see tests.conftest)

Prints "ready" once started; stops on SIGTERM. Tests start two of these against one database
and may kill one with SIGKILL to show its work passes to the other.
"""

import asyncio
import signal
import sys
import tempfile
from pathlib import Path

from bot.app import App
from bot.config import load_settings


async def main() -> None:
    empty = Path(tempfile.mkdtemp()) / "config.toml"
    empty.touch()
    app = await App.create(load_settings(empty))
    lifecycle = {"bot": app.bot, "dispatcher": app.dispatcher, **app.dispatcher.workflow_data}
    await app.dispatcher.emit_startup(**lifecycle)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    await stop.wait()
    await app.dispatcher.emit_shutdown(**lifecycle)
    await app.close()


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
