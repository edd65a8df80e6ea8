"""Sealed monthly tallies (storage.models.stats.StatTally): one count a (month, region, name).

The first count of a month writes every row of that month, for every region and name, at zero;
only then is the one row counted. Counting reads the sealed value under the row's lock (a no-op
UPDATE takes it: the row lock on PostgreSQL, the write lock on SQLite), so two replicas counting
at once both count.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import changed, dialect_of
from storage.models import StatTally


async def add(
    session: AsyncSession, month: str, region: str, name: str, regions: Iterable[str], names: Iterable[str]
) -> None:
    """Count one event of `name` in `region` ("" for none) in `month`; `regions` and `names` are
    all there are (the month's rows are made for all of them at once)."""
    where = (StatTally.month == month, StatTally.region == region, StatTally.name == name)
    lock = update(StatTally).where(*where).values(month=StatTally.month)
    if not await changed(session, lock):  # the month's first event
        dialect = postgresql if dialect_of(session) == "postgresql" else sqlite
        names = list(names)
        rows = [{"month": month, "region": r, "name": n, "count": 0} for r in regions for n in names]
        await session.execute(
            dialect.insert(StatTally)
            .values(rows)
            .on_conflict_do_nothing(index_elements=[StatTally.month, StatTally.region, StatTally.name])
        )
        await session.execute(lock)
    row = await session.scalar(select(StatTally).where(*where).execution_options(populate_existing=True))
    if row is None:
        raise ValueError(f"not a tally: {region!r} {name!r}")
    row.count += 1
    await session.flush()


async def month(session: AsyncSession, month: str) -> dict[str, Counter[str]]:
    """A month's counts by region ("" for none) and name; empty when nothing was counted."""
    found: dict[str, Counter[str]] = {}
    for row in await session.scalars(select(StatTally).where(StatTally.month == month)):
        found.setdefault(row.region, Counter())[row.name] = row.count
    return found
