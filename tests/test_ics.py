"""The .ics files are written from a template (bot/views/ics.py); here icalendar builds the same
events with its objects, as the bot did before, and the bytes must be the same."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Alarm, Calendar, Event, Timezone

from bot.views import ics
from tests.ics_reader import event_of

TZ = ZoneInfo("Asia/Almaty")
STAMP = datetime(2026, 12, 1, 18, 26, 10, 123456, tzinfo=UTC)
STARTS = datetime(2026, 12, 3, 4, 30, tzinfo=UTC)


def by_icalendar(
    uid: str, summary: str, description: str, location: str, sequence: int, cancelled: bool
) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", ics.PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancelled else "PUBLISH")
    event = Event()
    event.add("uid", uid)
    event.add("sequence", sequence)
    event.add("dtstamp", STAMP)
    event.add("dtstart", STARTS.astimezone(TZ))
    event.add("dtend", (STARTS + timedelta(minutes=50)).astimezone(TZ))
    event.add("summary", summary)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    if cancelled:
        event.add("organizer", ics.ORGANIZER, parameters={"CN": "Demeu"})
    if description:
        event.add("description", description)
    if location:
        event.add("location", location)
    if not cancelled:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", summary)
        alarm.add("trigger", -ics.REMIND_BEFORE)
        event.add_component(alarm)
    calendar.add_component(event)
    zone = Timezone.from_tzid(TZ.key).to_ical()
    return calendar.to_ical().replace(b"END:VCALENDAR", zone + b"END:VCALENDAR")


LONG = "Психолог: Айгүл Серікқызы \\ жаңа жол; үтір, нүкте.\n" * 4


@pytest.mark.parametrize(
    ("summary", "description", "location", "sequence", "cancelled"),
    [
        ("Demeu", "", "", 0, False),
        ("Demeu", "Жеке кеңес", "", 1, True),
        ("Demeu; кеңес, бейне", LONG, "Алматы, Абай даңғылы 1, 204-кабинет; екінші қабат", 3, False),
        ("Demeu · консультация", LONG, "Астана", 4, True),
        ("x" * 75, "y" * 74, "z" * 200, 0, False),
    ],
)
def test_the_template_writes_what_icalendar_writes(
    monkeypatch, summary, description, location, sequence, cancelled
):
    monkeypatch.setattr(ics, "utcnow", lambda: STAMP)
    made = ics.event_file(
        "0123456789abcdef0123456789abcdef@demeu",
        STARTS,
        STARTS + timedelta(minutes=50),
        TZ,
        summary,
        description,
        location,
        sequence=sequence,
        cancelled=cancelled,
    )
    uid = "0123456789abcdef0123456789abcdef@demeu"
    assert made == by_icalendar(uid, summary, description, location, sequence, cancelled)
    _calendar, event = event_of(made)  # and strict RFC 5545, read apart from both writers
    assert event.one("SUMMARY").text == summary
