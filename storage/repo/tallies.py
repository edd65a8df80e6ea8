"""Sealed monthly tallies (storage.models.stats.StatTally): one count a (month, region, name).

The first count of a month writes every row of that month, for every region and name, at zero;
only then is the one row counted. Counting reads the sealed value under the row's lock (a no-op
UPDATE takes it: the row lock on PostgreSQL, the write lock on SQLite), so two replicas counting
at once both count.

An event is counted when its transaction commits, not when it happens: the lock is then held only
while the transaction commits, never while its handler still answers Telegram, so teachers of one
region counting at once (or, on SQLite, any write at all) do not wait for each other's answers.
The counts of one transaction are taken in one order (sorted), so two never wait for each other.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from sqlalchemy import event, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from storage.commit import statements_at_commit
from storage.models import StatTally

NOTED = "demeu_tallies_noted"  # Session.info: the events to count when the transaction commits
Event = tuple[str, str, str, tuple[str, ...], tuple[str, ...]]  # month, region, name, regions, names


async def add(
    session: AsyncSession, month: str, region: str, name: str, regions: Iterable[str], names: Iterable[str]
) -> None:
    """Count one event of `name` in `region` ("" for none) in `month` when the session commits
    (not if it rolls back); `regions` and `names` are all there are (the month's rows are made for
    all of them at once)."""
    regions, names = tuple(regions), tuple(names)
    if region not in regions or name not in names:
        raise ValueError(f"not a tally: {region!r} {name!r}")
    sync = session.sync_session
    if not sync.in_transaction():
        sync.begin()  # the count goes with this transaction, committed or rolled back (no round trip)
    sync.info.setdefault(NOTED, []).append((month, region, name, regions, names))
    statements_at_commit(sync)


@event.listens_for(Session, "before_commit")
def _count_noted(session: Session) -> None:
    """Runs inside the commit (SQLAlchemy's asyncio runs it where it may emit SQL), before its flush."""
    for noted in sorted(session.info.pop(NOTED, ())):
        _count(session, noted)


@event.listens_for(Session, "after_transaction_end")
def _forget_noted(session: Session, transaction: SessionTransaction) -> None:
    """Rolled back, or the session closed: not counted."""
    if transaction.parent is None:
        session.info.pop(NOTED, None)


def _count(session: Session, noted: Event) -> None:
    month, region, name, regions, names = noted
    where = (StatTally.month == month, StatTally.region == region, StatTally.name == name)
    lock = update(StatTally).where(*where).values(month=StatTally.month)
    if not session.execute(lock).rowcount:  # type: ignore[attr-defined]  # the month's first event
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        rows = [{"month": month, "region": r, "name": n, "count": 0} for r in regions for n in names]
        session.execute(
            dialect.insert(StatTally)
            .values(rows)
            .on_conflict_do_nothing(index_elements=[StatTally.month, StatTally.region, StatTally.name])
        )
        session.execute(lock)
    row = session.scalars(select(StatTally).where(*where).execution_options(populate_existing=True)).one()
    row.count += 1


async def month(session: AsyncSession, month: str) -> dict[str, Counter[str]]:
    """A month's counts by region ("" for none) and name; empty when nothing was counted."""
    found: dict[str, Counter[str]] = {}
    for row in await session.scalars(select(StatTally).where(StatTally.month == month)):
        found.setdefault(row.region, Counter())[row.name] = row.count
    return found
