"""The capacity view (coordinators): where teachers find no free time, this month so far, and the
hours published and booked ahead, so that a coordinator can ask for more hours.

Unlike the statistics, this is live: it moves as teachers act. So it shows only what is no more
than the statistics screens show of a closed month, each count from 1 to `minimum` - 1 hidden
with the same mark: searches and those with no free time (the month's sealed tallies), teachers
waiting to be told of a time, booked hours (hidden with their booked times); the median wait
only over at least `minimum` searches that found a time. Hours published and group waitlists are
exact, as staff made them and coordinators need them (README, "Statistics: what is shown").
A video or chat time is open to every region: a region sees the country's video and chat hours.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import tallies
from bot.services.anonymity import HIDDEN
from bot.services.statistics import NOT_COUNTED, hours, share
from storage.models.booking import FORMATS
from storage.repo import stats

AHEAD = timedelta(days=14)


@dataclass(frozen=True)
class FormatCapacity:
    format: str
    searches: str
    none: str  # searches that found no free time
    median: str  # a wait bucket (bot/services/tallies.py), the hidden mark or "—"
    waiting: str  # teachers waiting to be told of a free time
    published: str  # hours in the next AHEAD
    booked: str
    booked_share: str


@dataclass(frozen=True)
class Capacity:
    region: str | None
    formats: tuple[FormatCapacity, ...]
    group_waitlisted: int


def shown(count: int, minimum: int) -> str:
    """A live count: hidden from 1 to minimum - 1, like a published one."""
    return HIDDEN if 0 < count < minimum else str(count)


async def view(
    session: AsyncSession, region: str | None, minimum: int, now: datetime, tz: ZoneInfo
) -> Capacity:
    month = await tallies.month_counts(session, tallies.month_code(now, tz))
    counts: Counter[str] = Counter()
    for where, values in month.items():
        if region is None or where == region:
            counts.update(values)
    waiting = await stats.waits(session, region)
    ahead = await stats.capacity(session, now, now + AHEAD)
    found = []
    for fmt in FORMATS:
        buckets = {b: counts[tallies.wait_name(fmt, b)] for b in tallies.BUCKETS}
        reached = sum(buckets.values())
        none = counts[tallies.wait_name(fmt, tallies.NONE)]
        median = (
            tallies.quantile(buckets, 0.5) if reached >= minimum else (HIDDEN if reached else NOT_COUNTED)
        )
        places = [
            place for where, place in ahead.items() if region is None or fmt != "office" or where == region
        ]
        published = sum(p.published[fmt] for p in places)
        booked = sum(p.booked[fmt] for p in places)
        minutes = None if 0 < booked < minimum else sum(p.booked_minutes[fmt] for p in places)
        found.append(
            FormatCapacity(
                format=fmt,
                searches=shown(reached + none, minimum),
                none=shown(none, minimum),
                median=median or NOT_COUNTED,
                waiting=shown(waiting[fmt], minimum),
                published=hours(published),
                booked=hours(minutes),
                booked_share=share(minutes, published),
            )
        )
    return Capacity(region, tuple(found), await stats.group_waitlisted(session, now, region))
