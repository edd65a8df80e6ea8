"""Config: defaults that run a fresh checkout, env overrides, errors that name the key."""

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, MissingTokenError, generate_webhook_secret, load_settings

ROOT = Path(__file__).resolve().parent.parent


TOKEN = "1:AAE-test-token-0123456789abcdefghij"


def test_defaults_need_nothing_but_the_token(tmp_path):
    settings = load_settings(environ={"BOT_TOKEN": TOKEN}, path=_empty(tmp_path))
    assert settings.require_token() == TOKEN
    assert settings.database.url == "sqlite+aiosqlite:///data/demeu.db"
    assert settings.bot.timezone == "Asia/Almaty"
    assert settings.bot.default_language == "kk"
    assert settings.support.crisis_lines == ["112", "103", "111", "150"]
    assert settings.telegram.mode == "polling"
    assert settings.fsm.storage == "database"


def test_env_overrides_file_and_splits_lists(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[bot]\nadmins = [1]\n[database]\nurl = "sqlite+aiosqlite:///a.db"\n')
    settings = load_settings(
        config,
        environ={
            "DEMEU_DATABASE_URL": "postgresql+asyncpg://u@h/db",
            "DEMEU_ENCRYPTION_KEYS": "k1, k2",
            "DEMEU_BOT_ADMINS": "5,6",
        },
    )
    assert settings.database.url == "postgresql+asyncpg://u@h/db"
    assert [k.get_secret_value() for k in settings.security.encryption_keys] == ["k1", "k2"]
    assert settings.bot.admins == [5, 6]


def test_config_path_from_environment(tmp_path):
    config = tmp_path / "custom.toml"
    config.write_text('[bot]\ndefault_language = "ru"\n')
    assert load_settings(environ={"DEMEU_CONFIG": str(config)}).bot.default_language == "ru"


@pytest.mark.parametrize(
    ("toml", "named"),
    [
        ('[telegram]\nmode = "pull"', "telegram.mode = 'pull'"),
        ('[bot]\ntimezone = "Asia/Nowhere"', "bot.timezone = 'Asia/Nowhere'"),
        ('[bot]\ndefault_language = "en"', "bot.default_language = 'en'"),
        ('[database]\nurl = "mysql://x"', "database.url = 'mysql://x'"),
        ('[bot]\nadmins = ["me"]', "bot.admins.0 = 'me'"),
        ('[bot]\ncolour = "red"', "bot.colour"),
        ('[fsm]\nstorage = "memcached"', "fsm.storage = 'memcached'"),
    ],
)
def test_invalid_values_name_key_and_value(tmp_path, toml, named):
    config = tmp_path / "config.toml"
    config.write_text(toml)
    with pytest.raises(ConfigError) as error:
        load_settings(config, environ={})
    assert named in str(error.value)


def test_secrets_are_not_echoed_in_errors(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[security]\nhmac_key = 12345\nencryption_keys = "not-a-list-secret"')
    with pytest.raises(ConfigError) as error:
        load_settings(config, environ={})
    assert "not-a-list-secret" not in str(error.value)
    assert "security.encryption_keys" in str(error.value)


WEBHOOK = {
    "BOT_TOKEN": TOKEN,
    "DEMEU_TELEGRAM_MODE": "webhook",
    "DEMEU_TELEGRAM_WEBHOOK_URL": "https://demeu.example.kz",
}


@pytest.mark.parametrize(
    ("secret", "why"),
    [
        (None, "required in webhook mode"),
        ("", "required in webhook mode"),
        ("s3cret-token", "too short (12 characters)"),
        ("x" * 257, "too long (257 characters)"),
        ("a-long-enough-secret-but with spaces!", "characters Telegram does not allow"),
        ("дұрыс-емес-құпия-сөз-0123456789abcdef", "characters Telegram does not allow"),
    ],
)
def test_webhook_mode_needs_a_strong_secret(tmp_path, secret, why):
    environ = WEBHOOK if secret is None else {**WEBHOOK, "DEMEU_TELEGRAM_WEBHOOK_SECRET": secret}
    with pytest.raises(ConfigError) as error:
        load_settings(_empty(tmp_path), environ=environ)
    message = str(error.value)
    assert "telegram.webhook_secret = (hidden)" in message and why in message
    assert "32 to 256 random characters A-Z, a-z, 0-9, _ and -" in message and "keys generate" in message
    assert not secret or secret not in message


def test_webhook_secret_accepted_and_not_needed_for_polling(tmp_path):
    secret = generate_webhook_secret()
    settings = load_settings(_empty(tmp_path), environ={**WEBHOOK, "DEMEU_TELEGRAM_WEBHOOK_SECRET": secret})
    assert settings.telegram.webhook_secret.get_secret_value() == secret
    assert load_settings(_empty(tmp_path), environ={"BOT_TOKEN": TOKEN}).telegram.webhook_secret is None


def test_missing_token_says_where_to_get_one(tmp_path):
    with pytest.raises(MissingTokenError) as error:
        load_settings(_empty(tmp_path), environ={}).require_token()
    assert "@BotFather" in str(error.value)


def test_example_config_documents_every_key():
    """config.example.toml is valid and lists every key of every section."""
    example = ROOT / "config.example.toml"
    settings = load_settings(example, environ={})
    text = example.read_text()
    for section_name, section in settings:
        assert f"[{section_name}]" in text
        for key in type(section).model_fields:
            assert f"\n{key} =" in text or f"\n# {key} =" in text, f"{section_name}.{key} is not documented"


def _run_cli(args, env, cwd):
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_cli_missing_token_exits_2_without_traceback(tmp_path):
    result = _run_cli([], {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}, tmp_path)
    assert result.returncode == 2
    assert "@BotFather" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_invalid_config_exits_2_naming_the_key(tmp_path):
    (tmp_path / "config.toml").write_text(f'[telegram]\ntoken = "{TOKEN}"\nwebhook_port = 70000\n')
    result = _run_cli([], {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}, tmp_path)
    assert result.returncode == 2
    assert "telegram.webhook_port = 70000" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_webhook_mode_without_a_secret_exits_2_naming_the_key(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **WEBHOOK}
    result = _run_cli([], env, tmp_path)
    assert result.returncode == 2
    assert "telegram.webhook_secret" in result.stderr and "required in webhook mode" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_keys_generate_prints_a_webhook_secret_webhook_mode_accepts(tmp_path):
    result = _run_cli(["keys", "generate"], {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}, tmp_path)
    assert result.returncode == 0
    printed = dict(line.split("=", 1) for line in result.stdout.splitlines())
    assert set(printed) == {"DEMEU_ENCRYPTION_KEYS", "DEMEU_HMAC_KEY", "DEMEU_TELEGRAM_WEBHOOK_SECRET"}
    settings = load_settings(_empty(tmp_path), environ={**WEBHOOK, **printed})
    assert settings.telegram.webhook_secret.get_secret_value() == printed["DEMEU_TELEGRAM_WEBHOOK_SECRET"]


def _empty(tmp_path):
    path = tmp_path / "empty.toml"
    path.touch()
    return path


@pytest.mark.parametrize("token", ["123456:ABC...", "abc", "123456:short", "123456789:AAE" + "x" * 32 + " y"])
def test_a_placeholder_or_malformed_token_is_refused_without_showing_it(tmp_path, token):
    with pytest.raises(ConfigError) as error:
        load_settings(_empty(tmp_path), environ={"BOT_TOKEN": token})
    message = str(error.value)
    assert "telegram.token = (hidden)" in message and "@BotFather" in message
    assert token not in message


@pytest.mark.parametrize(
    "url", [None, "", "demeu.example.kz", "http://demeu.example.kz", "https://demeu .kz"]
)
def test_webhook_mode_needs_the_https_address_telegram_calls(tmp_path, url):
    environ = {**WEBHOOK, "DEMEU_TELEGRAM_WEBHOOK_SECRET": generate_webhook_secret()}
    environ.pop("DEMEU_TELEGRAM_WEBHOOK_URL")
    if url is not None:
        environ["DEMEU_TELEGRAM_WEBHOOK_URL"] = url
    with pytest.raises(ConfigError) as error:
        load_settings(_empty(tmp_path), environ=environ)
    assert "telegram.webhook_url" in str(error.value) and "https://" in str(error.value)


def test_a_local_bot_api_server_may_call_the_webhook_over_http(tmp_path):
    environ = {
        **WEBHOOK,
        "DEMEU_TELEGRAM_WEBHOOK_SECRET": generate_webhook_secret(),
        "DEMEU_TELEGRAM_WEBHOOK_URL": "http://bot:8080",
        "DEMEU_TELEGRAM_API_SERVER": "http://telegram-bot-api:8081",
    }
    assert load_settings(_empty(tmp_path), environ=environ).telegram.webhook_url == "http://bot:8080"
