"""The check-in a teacher may ask for after a safety screen: when the bot writes again."""

from __future__ import annotations

from datetime import datetime, timedelta


def checkin_time(checkin_hours: float, now: datetime) -> datetime:
    """The next full hour after the check-in period: a due time to the second would point, in a copy
    of the database, to the teacher's other rows of the moment the safety screen was shown."""
    due = now + timedelta(hours=checkin_hours)
    if checkin_hours < 2:  # short periods are for trying it out and for tests
        return due
    return due.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
