"""Counts of what leaves no other row, for the monthly statistics (bot/services/statistics.py):
how soon a teacher's booking search found its first free time, and the safety events.

Each is one sealed tally (storage/repo/tallies.py) of its local month, the teacher's region and a
name, never a row about a teacher: all of a month's rows are written at its first event, and no
time finer than the month is kept. A search's wait is kept only as a bucket of days, so a median
and a 90th percentile of any period come from its months' buckets added up.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from itertools import accumulate
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.content.regions import regions
from storage.models.booking import FORMATS
from storage.repo import tallies

# Days from the search to its first free time, by local date: the same day, then at most 1, 2, 3,
# 7, 14 and 30 days, more; "none" when no time was free at all.
LIMITS = (0, 1, 2, 3, 7, 14, 30)
BUCKETS = (*(f"d{days}" for days in LIMITS), "more")
NONE = "none"
SAFETY = ("crisis", "button", "handoff")  # a crisis message's safety screen, Urgent help, a hand-off


def wait_name(fmt: str, bucket: str) -> str:
    return f"wait-{fmt}-{bucket}"


def safety_name(event: str) -> str:
    return f"safety-{event}"


NAMES = (
    *(wait_name(fmt, bucket) for fmt in FORMATS for bucket in (*BUCKETS, NONE)),
    *(safety_name(event) for event in SAFETY),
)


def month_code(now: datetime, tz: ZoneInfo) -> str:
    """The local month of a moment, as a period code ("m202612")."""
    local = now.astimezone(tz)
    return f"m{local.year}{local.month:02d}"


def bucket(first: datetime | None, now: datetime, tz: ZoneInfo) -> str:
    """The bucket of a search at `now` whose first free time is `first` (None: there was none)."""
    if first is None:
        return NONE
    days = (first.astimezone(tz).date() - now.astimezone(tz).date()).days
    return next((f"d{limit}" for limit in LIMITS if days <= limit), "more")


async def _add(session: AsyncSession, region: str | None, name: str, now: datetime, tz: ZoneInfo) -> None:
    where = region if region in regions() else ""
    await tallies.add(session, month_code(now, tz), where, name, [*regions(), ""], NAMES)


async def searched(
    session: AsyncSession, region: str | None, fmt: str, first: datetime | None, now: datetime, tz: ZoneInfo
) -> None:
    """A teacher of `region` searched for a consultation of `fmt` and was first offered `first`."""
    if fmt in FORMATS:
        await _add(session, region, wait_name(fmt, bucket(first, now, tz)), now, tz)


async def safety_event(
    session: AsyncSession, region: str | None, event: str, now: datetime, tz: ZoneInfo
) -> None:
    await _add(session, region, safety_name(event), now, tz)


async def month_counts(session: AsyncSession, month: str) -> dict[str | None, dict[str, int]]:
    """A month's tallies by region (None: no region)."""
    return {region or None: dict(counts) for region, counts in (await tallies.month(session, month)).items()}


def quantile(counts: Mapping[str, int], q: float) -> str | None:
    """The bucket holding the `q` quantile of the searches that found a time (None: there were none):
    the first bucket with at least ⌈q·n⌉ searches up to it."""
    total = sum(counts.get(b, 0) for b in BUCKETS)
    if not total:
        return None
    rank = max(1, math.ceil(q * total))
    running = accumulate(counts.get(b, 0) for b in BUCKETS)
    return next(name for name, seen in zip(BUCKETS, running, strict=True) if seen >= rank)
