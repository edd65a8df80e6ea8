"""An "add to calendar" file (RFC 5545) for one consultation, in the bot's time zone.

Times are written as local times with a TZID and the matching VTIMEZONE, so a phone shows
the session at the same wall-clock time the bot showed, whatever zone the phone is in.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Alarm, Calendar, Event, Timezone

from storage.models.base import utcnow

PRODID = "-//Demeu//Consultations//KK-RU"
REMIND_BEFORE = timedelta(hours=1)


def event_file(
    uid: str,
    starts_at: datetime,
    ends_at: datetime,
    tz: ZoneInfo,
    summary: str,
    description: str = "",
    location: str = "",
    url: str = "",
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
    # The zone's block is the same in every file; RFC 5545 lets it stand anywhere in the calendar.
    return calendar.to_ical().replace(b"END:VCALENDAR", _vtimezone(tz.key) + b"END:VCALENDAR")


@functools.lru_cache(maxsize=8)
def _vtimezone(tzid: str) -> bytes:
    """The zone's VTIMEZONE block, made once: icalendar derives it from the tz database and
    writes it out in several ms, which would be most of a booking's time."""
    return Timezone.from_tzid(tzid).to_ical()
