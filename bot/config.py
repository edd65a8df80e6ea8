"""Settings: a TOML file read into pydantic models, then environment overrides.

Every key can be overridden by `DEMEU_<SECTION>_<KEY>` (lists comma-separated); the
few keys people set most have short names too (see ENV_ALIASES). Errors name the key.
"""

from __future__ import annotations

import os
import re
import secrets
import tomllib
from collections.abc import Mapping
from datetime import time, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, ValidationInfo, field_validator

LANGUAGES = ("kk", "ru")

ENV_ALIASES = {
    "BOT_TOKEN": ("telegram", "token"),
    "DEMEU_DATABASE_URL": ("database", "url"),
    "DEMEU_ENCRYPTION_KEYS": ("security", "encryption_keys"),
    "DEMEU_HMAC_KEY": ("security", "hmac_key"),
}


class ConfigError(Exception):
    """A configuration problem a person can fix; the message names the key."""


# What @BotFather hands out; aiogram checks only that there is a colon with digits before it.
TOKEN_FORM = re.compile(r"\d+:[A-Za-z0-9_-]{30,}")

# Telegram allows 1-256 of these in a webhook's secret_token; Demeu wants at least 32 random ones,
# so the webhook cannot be guessed.
WEBHOOK_SECRET_CHARS = re.compile(r"[A-Za-z0-9_-]*")
WEBHOOK_SECRET_LENGTH = (32, 256)
WEBHOOK_SECRET_RULE = (
    "expected 32 to 256 random characters A-Z, a-z, 0-9, _ and - "
    "(make one with `python -m bot keys generate`)"
)


def generate_webhook_secret() -> str:
    return secrets.token_urlsafe(32)  # 43 characters of A-Z, a-z, 0-9, _ and -


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TelegramConfig(_Section):
    token: SecretStr | None = None
    api_server: str = ""
    mode: Literal["polling", "webhook"] = "polling"
    # Public HTTPS base URL Telegram calls, e.g. https://demeu.example.kz
    webhook_url: str = Field("", validate_default=True)
    webhook_host: str = "0.0.0.0"
    webhook_port: int = Field(8080, ge=1, le=65535)
    webhook_path: str = "/telegram"
    # Checked even when not set (validate_default): webhook mode does not start without it.
    webhook_secret: SecretStr | None = Field(None, validate_default=True)
    # Used in invite links; asked from Telegram (getMe) when empty.
    bot_username: str = ""

    @field_validator("token")
    @classmethod
    def _looks_like_a_token(cls, value: SecretStr | None) -> SecretStr | None:
        token = value.get_secret_value().strip() if value is not None else ""
        if token and not TOKEN_FORM.fullmatch(token):
            raise ValueError(
                "is not a token from @BotFather, which looks like 123456789:AAE… (the bot's number, a colon, "
                "then 35 letters, digits, _ or -); the README's example only stands for one"
            )
        return value

    @field_validator("webhook_url")
    @classmethod
    def _reachable_url(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("mode") != "webhook":
            return value
        # Telegram calls only HTTPS; a local Bot API server (api_server) may call plain HTTP.
        schemes = ("https://", "http://") if info.data.get("api_server") else ("https://",)
        if not value.startswith(schemes) or any(c.isspace() for c in value):
            raise ValueError(
                "required in webhook mode: the public HTTPS address Telegram calls, e.g. https://demeu.example.kz"
            )
        return value

    @field_validator("webhook_path")
    @classmethod
    def _path_starts_with_slash(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with '/'")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _strong_secret(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        secret = value.get_secret_value() if value is not None else ""
        if info.data.get("mode") != "webhook":
            return value if secret else None  # unused when polling
        shortest, longest = WEBHOOK_SECRET_LENGTH
        if not secret:
            raise ValueError(f"required in webhook mode: {WEBHOOK_SECRET_RULE}")
        if not WEBHOOK_SECRET_CHARS.fullmatch(secret):
            raise ValueError(f"has characters Telegram does not allow: {WEBHOOK_SECRET_RULE}")
        if not shortest <= len(secret) <= longest:
            size = "too short" if len(secret) < shortest else "too long"
            raise ValueError(f"{size} ({len(secret)} characters): {WEBHOOK_SECRET_RULE}")
        return value


class DatabaseConfig(_Section):
    url: str = "sqlite+aiosqlite:///data/demeu.db"
    echo: bool = False
    # PostgreSQL: connections per replica kept open, and opened beyond them at a peak (README). None
    # beyond by default: one opened beyond the pool is closed when given back, so a load above the
    # pool would open (and the server fork) a connection every few updates (bench/README.md).
    pool_size: int = Field(default=30, ge=1)
    max_overflow: int = Field(default=0, ge=0)

    @field_validator("url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value


class SecurityConfig(_Section):
    # Fernet keys; the first encrypts, all decrypt (rotation).
    encryption_keys: list[SecretStr] = []
    hmac_key: SecretStr | None = None


class BotConfig(_Section):
    admins: list[int] = []
    timezone: str = "Asia/Almaty"
    default_language: Literal["kk", "ru"] = "kk"
    data_dir: str = "data"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("unknown time zone (expected an IANA name such as Asia/Almaty)") from None
        return value


class SupportConfig(_Section):
    # Lines on Urgent help and the safety screen, in this order; each needs a cited source in
    # bot/content/lines.toml and a text `line-<number>` in both locales.
    crisis_lines: list[str] = ["112", "103", "111", "150"]
    # Lines on the screen for a teacher worried about a student or another person.
    concern_lines: list[str] = ["150", "111", "112", "103"]
    # "On duty now" lasts this many hours unless the psychologist ends it earlier.
    duty_hours: float = Field(4, gt=0, le=24)
    # The gentle check-in a teacher may ask for after a safety screen, this many hours later.
    checkin_hours: float = Field(24, gt=0, le=24 * 7)


class FsmConfig(_Section):
    # "database" keeps conversation state in the bot's database; "redis://…" uses Redis.
    storage: str = "database"

    @field_validator("storage")
    @classmethod
    def _storage_kind(cls, value: str) -> str:
        if value != "database" and not value.startswith(("redis://", "rediss://")):
            raise ValueError('must be "database" or a redis:// URL')
        return value


class InviteConfig(_Section):
    valid_hours: int = Field(72, ge=1, le=24 * 30)

    @property
    def validity(self) -> timedelta:
        return timedelta(hours=self.valid_hours)


class RelaxConfig(_Section):
    # Multiplies every guided-exercise step's duration: 1.0 is real time (tests use less).
    speed: float = Field(1.0, gt=0, le=10)


class ChatConfig(_Section):
    # Minutes a booked chat stays open after its end time, so a last message is not cut off.
    grace_minutes: int = Field(10, ge=0, le=120)
    # Length of a live chat a psychologist offers after answering a question, in minutes.
    live_minutes: int = Field(45, ge=5, le=240)
    # How long a teacher may reply to the answer to an anonymous question, in hours.
    reply_hours: int = Field(72, ge=1, le=24 * 30)


class VideoConfig(_Section):
    """Video consultations and online group sessions: a private room for each, never reused."""

    # "jitsi": every booking and online group session gets its own unguessable room on `base_url`
    # (Jitsi Meet, open source, which a region can host itself); "own": only the links
    # psychologists give (per slot, else their profile's link).
    engine: Literal["jitsi", "own"] = "jitsi"
    base_url: str = "https://meet.jit.si"
    # The link reaches the teacher and the psychologist only this many minutes before the start
    # (in the reminder and in My bookings), never earlier.
    link_minutes: int = Field(60, ge=5, le=24 * 60)
    # Jitsi options after "#" in the link: start with the camera off (it can be turned on).
    camera_off: bool = True

    @field_validator("base_url")
    @classmethod
    def _https(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("https://", "http://")) or " " in value:
            raise ValueError("expected an http(s) URL such as https://meet.jit.si")
        return value

    @property
    def link_window(self) -> timedelta:
        return timedelta(minutes=self.link_minutes)


class BookingConfig(_Section):
    # A slot can be booked no later than this many hours before it starts.
    min_notice_hours: float = Field(2, ge=0, le=24 * 7)
    # How many days ahead teachers see free slots (and psychologists may publish them).
    horizon_days: int = Field(30, ge=1, le=180)
    # Upcoming bookings one teacher may hold at once.
    max_active: int = Field(2, ge=1, le=10)
    # Psychologists who accept short notice can be booked up to this many minutes before the start
    # (the earliest consultation offered on the safety screen).
    urgent_notice_minutes: int = Field(15, ge=0, le=24 * 60)
    # A cancel later than this many hours before the start is allowed but marked late.
    cancel_cutoff_hours: float = Field(2, ge=0, le=24 * 7)
    # Defaults offered to psychologists when they add slots.
    default_duration_min: int = Field(50, ge=10, le=240)
    default_break_min: int = Field(10, ge=0, le=120)
    template_weeks: int = Field(4, ge=1, le=12)
    # Seconds between looks for free times that teachers asked to be told of ("tell me when a time
    # opens"): each look tells one waiting teacher per free time, so the first told has this long
    # before a time still free is offered to the next.
    waitlist_seconds: float = Field(600, ge=0.5, le=3600)

    @property
    def min_notice(self) -> timedelta:
        return timedelta(hours=self.min_notice_hours)

    @property
    def urgent_notice(self) -> timedelta:
        return timedelta(minutes=self.urgent_notice_minutes)

    @property
    def cancel_cutoff(self) -> timedelta:
        return timedelta(hours=self.cancel_cutoff_hours)


class LimitsConfig(_Section):
    """Per-teacher limits, so one person cannot flood psychologists with notices. Never on the
    safety path: a crisis message, Urgent help and a crisis question always go through."""

    # Anonymous questions a teacher may send in any 24 hours (a question with a crisis phrase always goes).
    questions_per_day: int = Field(5, ge=1, le=100)
    # Bookings (and reschedules) and cancellations a teacher may make in any 24 hours.
    bookings_per_day: int = Field(4, ge=1, le=100)
    cancellations_per_day: int = Field(4, ge=1, le=100)
    # Messages one user may send in a second before the rest of that second is ignored.
    messages_per_second: int = Field(3, ge=1, le=30)
    # Periods a psychologist may mute a pseudonym's questions for, in hours.
    mute_hours: list[int] = Field([24, 24 * 7], min_length=1, max_length=4)

    @field_validator("mute_hours")
    @classmethod
    def _positive_hours(cls, value: list[int]) -> list[int]:
        if any(hours < 1 or hours > 24 * 90 for hours in value):
            raise ValueError("each mute period is 1 to 2160 hours")
        return value


class GroupsConfig(_Section):
    # How long a freed seat is held for the next teacher on the waitlist, in minutes.
    offer_hold_minutes: int = Field(120, ge=1, le=24 * 60)
    # How often expired seat offers are passed on and finished sessions asked for ratings, in seconds.
    sweep_seconds: int = Field(60, ge=1, le=3600)
    # Hours after a session ends during which its participants are still asked for a rating.
    rating_window_hours: int = Field(48, ge=1, le=24 * 14)

    @property
    def offer_hold(self) -> timedelta:
        return timedelta(minutes=self.offer_hold_minutes)


class BroadcastConfig(_Section):
    # Messages per second over all chats; Telegram allows about 30, so stay below it.
    rate: float = Field(25.0, gt=0, le=30)
    # Seconds between edits of the coordinator's progress message.
    progress_seconds: int = Field(3, ge=1, le=60)
    # A recipient claimed by a worker that died is released after this many seconds.
    claim_lease_seconds: int = Field(60, ge=5, le=3600)
    # Tries per recipient before giving up when Telegram keeps failing.
    max_attempts: int = Field(5, ge=1, le=20)
    # The minimum cell: statistics hide any count below it (and whatever would give one away);
    # a broadcast audience below it is shown as "fewer than N".
    min_cell: int = Field(5, ge=2, le=100)


_DURATION_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(value: str) -> timedelta:
    """ "24h", "90m", "1.5h", "30s" or "2d"."""
    text = str(value).strip().lower()
    try:
        return timedelta(seconds=float(text[:-1]) * _DURATION_UNITS[text[-1:]])
    except (KeyError, ValueError):
        raise ValueError(f"{value!r} is not a duration like 24h, 90m or 30s") from None


class RemindersConfig(_Section):
    # How long before a booked session its participants are reminded ("24h", "1h", "30m").
    teacher_offsets: list[str] = ["24h", "1h"]
    psychologist_offsets: list[str] = ["1h"]
    # Seconds between looks at the table for reminders other replicas scheduled (wake-ups at
    # the next due time come on top, so this bounds only cross-replica lateness).
    poll_seconds: float = Field(30, ge=0.1, le=3600)
    # A worker holds claimed reminders this long; if it dies they go to another one after it.
    lease_seconds: int = Field(300, ge=10, le=3600)
    # Tries per reminder when Telegram keeps failing, then it is recorded as dead.
    max_attempts: int = Field(5, ge=1, le=20)
    # Seconds before the first retry of a failed reminder, doubled each time.
    retry_seconds: float = Field(60, ge=0.1, le=3600)
    # Seconds before a send Telegram answered with 5xx is tried again within one attempt, doubled each try.
    backoff_seconds: float = Field(0.5, ge=0.001, le=10)
    # Reminders claimed per round, and sent at once.
    batch: int = Field(50, ge=1, le=1000)
    concurrency: int = Field(8, ge=1, le=30)
    # Local time (bot.timezone) of psychologists' agenda for a day with consultations; "" = none.
    agenda_time: str = "08:00"
    # Days finished reminders (sent, cancelled, missed, dead) are kept as a record, then deleted nightly.
    keep_days: int = Field(30, ge=1, le=3650)
    # Seconds between plans of group-session reminders (each plan covers the next 1.5 intervals).
    group_plan_seconds: float = Field(600, ge=0.5, le=3600)
    # The teacher is asked to rate a consultation this long after its end ("1h", "30m").
    feedback_after: str = "1h"
    # Finished bookings (with their notes) and mood-check-in notes older than this are deleted nightly.
    retention_days: float = Field(365, gt=0, le=3650)
    # Local time (bot.timezone) of that nightly retention job; one replica runs it per night.
    retention_time: str = "03:45"

    @field_validator("feedback_after")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @field_validator("retention_time")
    @classmethod
    def _retention_clock(cls, value: str) -> str:
        try:
            time.fromisoformat(value)
        except ValueError:
            raise ValueError("expected a time like 03:45") from None
        return value

    @field_validator("agenda_time")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        if value:
            try:
                time.fromisoformat(value)
            except ValueError:
                raise ValueError("expected a time like 08:00, or empty for no agenda") from None
        return value

    @field_validator("teacher_offsets", "psychologist_offsets")
    @classmethod
    def _durations(cls, values: list[str]) -> list[str]:
        for value in values:
            parse_duration(value)
        return values

    def offsets(self, role: str) -> list[timedelta]:
        values = self.psychologist_offsets if role == "psychologist" else self.teacher_offsets
        return [parse_duration(value) for value in values]


class NudgesConfig(_Section):
    # Local times (bot.timezone) teachers may pick for their opt-in nudges (mood, exercise, WHO-5).
    times: list[str] = ["08:00", "12:30", "16:00", "19:00", "21:00"]
    # Day of the weekly well-being check (WHO-5): 1 = Monday … 7 = Sunday.
    weekly_day: int = Field(7, ge=1, le=7)

    @field_validator("times")
    @classmethod
    def _clock_times(cls, values: list[str]) -> list[str]:
        if not values:
            raise ValueError("offer at least one time")
        for value in values:
            try:
                time.fromisoformat(value)
            except ValueError:
                raise ValueError(f"{value!r}: expected a time like 20:00") from None
        return values


class Settings(_Section):
    telegram: TelegramConfig = TelegramConfig()
    database: DatabaseConfig = DatabaseConfig()
    security: SecurityConfig = SecurityConfig()
    bot: BotConfig = BotConfig()
    support: SupportConfig = SupportConfig()
    fsm: FsmConfig = FsmConfig()
    invites: InviteConfig = InviteConfig()
    groups: GroupsConfig = GroupsConfig()
    broadcast: BroadcastConfig = BroadcastConfig()
    chat: ChatConfig = ChatConfig()
    relax: RelaxConfig = RelaxConfig()
    booking: BookingConfig = BookingConfig()
    video: VideoConfig = VideoConfig()
    reminders: RemindersConfig = RemindersConfig()
    nudges: NudgesConfig = NudgesConfig()
    limits: LimitsConfig = LimitsConfig()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.bot.timezone)

    @property
    def data_dir(self) -> Path:
        return Path(self.bot.data_dir)

    def require_token(self) -> str:
        if self.telegram.token is None or not self.telegram.token.get_secret_value().strip():
            raise MissingTokenError
        return self.telegram.token.get_secret_value().strip()


class MissingTokenError(ConfigError):
    def __init__(self) -> None:
        super().__init__(
            "No bot token. Create a bot with @BotFather in Telegram (/newbot), then run:\n"
            "  BOT_TOKEN=123456:ABC... python -m bot\n"
            "or put it under [telegram] token in config.toml."
        )


def _env_overrides(environ: dict[str, str]) -> dict[str, dict[str, str]]:
    overrides: dict[str, dict[str, str]] = {}
    for section_name, section in Settings.model_fields.items():
        for key in section.annotation.model_fields:  # type: ignore[union-attr]
            env_name = f"DEMEU_{section_name}_{key}".upper()
            if env_name in environ:
                overrides.setdefault(section_name, {})[key] = environ[env_name]
    for env_name, (section_name, key) in ENV_ALIASES.items():
        if environ.get(env_name):
            overrides.setdefault(section_name, {})[key] = environ[env_name]
    return overrides


def _coerce_env_value(section_name: str, key: str, value: str) -> Any:
    field = Settings.model_fields[section_name].annotation.model_fields[key]  # type: ignore[union-attr]
    if "list" in str(field.annotation):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def _describe(error: Mapping[str, Any], secret_keys: set[str]) -> str:
    key = ".".join(str(part) for part in error["loc"])
    shown = (
        "(hidden)"
        if error["loc"][:2] and ".".join(map(str, error["loc"][:2])) in secret_keys
        else repr(error.get("input"))
    )
    return f"{key} = {shown}: {error['msg']}"


def load_settings(path: str | Path | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Read `path` (or $DEMEU_CONFIG, or ./config.toml if present), then apply env overrides."""
    environ = dict(os.environ if environ is None else environ)
    raw: dict[str, Any] = {}
    explicit = path or environ.get("DEMEU_CONFIG")
    config_path = Path(explicit) if explicit else Path("config.toml")
    if explicit and not config_path.is_file():
        raise ConfigError(f"config file {config_path} not found")
    if config_path.is_file():
        try:
            raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config_path}: not valid TOML: {exc}") from None
    for section_name, values in _env_overrides(environ).items():
        section = raw.setdefault(section_name, {})
        if not isinstance(section, dict):
            raise ConfigError(f"{section_name}: expected a [{section_name}] table")
        for key, value in values.items():
            section[key] = _coerce_env_value(section_name, key, value)
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        secrets = {
            "telegram.token",
            "telegram.webhook_secret",
            "security.encryption_keys",
            "security.hmac_key",
        }
        lines = [_describe(error, secrets) for error in exc.errors()]
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines)) from None
