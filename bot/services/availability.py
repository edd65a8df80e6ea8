"""What a psychologist may offer: the times, durations and formats of a single slot, and the
slots a weekly template makes (never beyond the booking horizon)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.config import BookingConfig
from storage.models.booking import FORMATS
from storage.repo.booking import template_times

DAY_TIMES = [time(hour, minute) for hour in range(8, 21) for minute in (0, 30)]  # 08:00 .. 20:30
DAY_END = time(21, 0)  # the latest end of a template's day
DURATIONS = (30, 45, 50, 60, 90)
WEEK_CHOICES = (2, 4, 8, 12)


def durations(rules: BookingConfig) -> list[int]:
    return sorted({*DURATIONS, rules.default_duration_min})


def week_choices(rules: BookingConfig) -> list[int]:
    return sorted({*WEEK_CHOICES, rules.template_weeks})


def slot_valid(fmt: str, minutes: int, rules: BookingConfig) -> bool:
    """A single slot's format and length as the buttons offer them (a forged or stale press is not)."""
    return fmt in FORMATS and minutes in durations(rules)


def template_valid(weekday: int, fmt: str, weeks: int) -> bool:
    return 0 <= weekday <= 6 and fmt in FORMATS and 1 <= weeks <= max(WEEK_CHOICES)


def template_starts(
    weekday: int, start: time, end: time, weeks: int, rules: BookingConfig, tz: ZoneInfo, now: datetime
) -> list[datetime]:
    """The start times of a template's sessions, from now to the booking horizon."""
    horizon = now + timedelta(days=rules.horizon_days)
    times = template_times(
        weekday, start, end, rules.default_duration_min, rules.default_break_min, weeks, tz, now
    )
    return [moment for moment in times if moment < horizon]
