"""Where the bot's data files are, relative to the package, so they are found in a checkout and in
site-packages alike. `bot/locales` is a link to the top-level `locales/` (translators' home); the
wheel carries the files themselves."""

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
LOCALES = PACKAGE / "locales"
CONTENT = PACKAGE / "content"
