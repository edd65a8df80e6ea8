"""An "add to calendar" file (RFC 5545) for one consultation, in the bot's time zone.

Times are written as local times with a TZID and the matching VTIMEZONE, so a phone shows
the session at the same wall-clock time the bot showed, whatever zone the phone is in.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Alarm, Calendar, Event

from storage.models.base import utcnow

PRODID = "-//Demeu//Consultations//KK-RU"
REMIND_BEFORE = timedelta(hours=1)


def event_file(
    uid: str, starts_at: datetime, ends_at: datetime, tz: ZoneInfo, summary: str, description: str = "",
    location: str = "", url: str = "",
) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", utcnow())
    event.add("dtstart", starts_at.astimezone(tz))
    event.add("dtend", ends_at.astimezone(tz))
    event.add("summary", summary)
    if description:
        event.add("description", description)
    if location:
        event.add("location", location)
    if url:
        event.add("url", url)
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", summary)
    alarm.add("trigger", -REMIND_BEFORE)
    event.add_component(alarm)
    calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical()

