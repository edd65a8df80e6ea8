"""`python -m bot [--config PATH] [command]`: run the bot, or one of the admin commands."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys

from bot.config import ConfigError, Settings, generate_webhook_secret, load_settings

EXIT_CONFIG = 2


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bot", description="Demeu: psychological support for teachers"
    )
    parser.add_argument("--config", help="TOML config (default: config.toml, or $DEMEU_CONFIG)")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("run", help="run the bot (the default)")
    database = commands.add_parser("db", help="database maintenance")
    database.add_argument("action", choices=["upgrade"])
    keys = commands.add_parser("keys", help="encryption keys (generate also prints a webhook secret)")
    keys.add_argument("action", choices=["generate", "rotate"])
    invite = commands.add_parser("invite", help="print a one-time staff invite link")
    invite.add_argument("role", choices=["psychologist", "coordinator"])
    invite.add_argument("--region", help="ISO 3166-2 code, e.g. KZ-61")
    demo = commands.add_parser("seed-demo", help="add clearly marked demo psychologists and slots")
    demo.add_argument("--remove", action="store_true", help="delete exactly the demo data instead")
    return parser.parse_args(argv)


async def run(settings: Settings) -> None:
    from aiohttp import web

    from bot.app import App
    from bot.telegram.bot import introduce

    app = await App.create(settings)
    # Everything loaded so far (aiogram's types, content, translations) lives as long as the
    # process: keep it out of the garbage collector's scans, which otherwise pause the loop for
    # hundreds of ms under load (measured in bench/bench_relax.py).
    gc.freeze()
    try:
        await introduce(app.bot, retry=True)
        if settings.telegram.mode == "webhook":
            # aiohttp's public runner, serving until the process is stopped (`web.run_app` would
            # start an event loop of its own).
            runner = web.AppRunner(app.webhook_app())
            await runner.setup()
            try:
                await web.TCPSite(
                    runner, settings.telegram.webhook_host, settings.telegram.webhook_port
                ).start()
                await asyncio.Event().wait()
            finally:
                await runner.cleanup()
        else:
            await app.run_polling()
    finally:
        await app.close()


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its plugin set-up is noise at every start
    # A line for every job added, run and done (a reminder each): only its problems are news.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.command == "keys" and args.action == "generate":
            from storage.crypto import generate_encryption_key, generate_hmac_key

            print(
                f"DEMEU_ENCRYPTION_KEYS={generate_encryption_key()}\nDEMEU_HMAC_KEY={generate_hmac_key()}\n"
                f"DEMEU_TELEGRAM_WEBHOOK_SECRET={generate_webhook_secret()}"
            )
            return 0
        settings = load_settings(args.config)
        if args.command in (None, "run"):
            asyncio.run(run(settings))
            return 0
        from bot.cli import admin as admin_cli

        return asyncio.run(admin_cli.dispatch(args, settings))
    except ConfigError as error:
        print(f"demeu: {error}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
