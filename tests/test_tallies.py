"""Sealed monthly tallies (bot/services/tallies.py, storage/repo/tallies.py): how soon a search's
first free time was, by buckets of days; quantiles from buckets added up over months; a month's
rows all written at its first event, counts sealed and exact under concurrency, on both databases."""

import asyncio
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, text

from bot.content.regions import regions
from bot.services import tallies
from bot.services.anonymity import HIDDEN
from storage import db
from storage.models import StatTally

TZ = ZoneInfo("Asia/Almaty")
QUANTILES = ("wait-video-median", "wait-video-p90")
NOW = datetime(2026, 12, 1, 22, 30, tzinfo=TZ)  # late evening: the next local day is 90 minutes away


def test_a_wait_is_a_bucket_of_local_days():
    def after(**delta: float) -> str:
        return tallies.bucket(NOW + timedelta(**delta), NOW, TZ)

    assert after(minutes=60) == "d0", "the same local day"
    assert after(minutes=120) == "d1", "after midnight is the next day, however soon"
    assert [after(days=n) for n in (2, 3, 4, 7, 8, 14, 15, 30, 31)] == [
        "d2",
        "d3",
        "d7",
        "d7",
        "d14",
        "d14",
        "d30",
        "d30",
        "more",
    ]
    assert tallies.bucket(None, NOW, TZ) == tallies.NONE
    assert tallies.month_code(datetime(2026, 11, 30, 20, 0, tzinfo=ZoneInfo("UTC")), TZ) == "m202612", (
        "the local month: 01:00 on 1 December in Almaty"
    )


def test_quantiles_come_from_buckets_and_from_months_added_up():
    october = Counter({"d0": 3, "d1": 2})
    november = Counter({"d7": 4, "more": 1})
    assert tallies.quantile(october, 0.5) == "d0"  # 3 of 5 the same day
    assert tallies.quantile(october, 0.9) == "d1"
    quarter = october + november  # 10 searches: the 5th is within a day, the 9th within 7 days
    assert (tallies.quantile(quarter, 0.5), tallies.quantile(quarter, 0.9)) == ("d1", "d7")
    assert tallies.quantile(quarter, 1.0) == "more"
    assert tallies.quantile(Counter({tallies.NONE: 4}), 0.5) is None, "no search found a time"
    assert tallies.quantile(Counter({"d14": 1}), 0.1) == "d14", "the first search at least"


async def test_a_months_rows_are_written_at_once_and_counted_exactly(database_url):
    engine = db.create_engine(database_url)
    await db.upgrade(engine)
    sessions = db.session_factory(engine)
    region = next(iter(regions()))
    try:
        async with sessions() as session:
            await tallies.safety_event(session, region, "crisis", NOW, TZ)
            await session.commit()
        async with sessions() as session:
            rows = list(await session.scalars(select(StatTally)))
        assert len(rows) == (len(regions()) + 1) * len(tallies.NAMES), "every region (and none) x name"
        assert {row.month for row in rows} == {"m202612"}
        assert [(r.region, r.name) for r in rows if r.count] == [(region, "safety-crisis")]

        async def search(first: datetime | None, where: str | None) -> None:
            async with sessions() as session:
                await tallies.searched(session, where, "video", first, NOW, TZ)
                await session.commit()

        # Replicas counting at once: every count lands (the row is locked before it is read).
        await asyncio.gather(*(search(NOW + timedelta(days=2), region) for _ in range(8)))
        await search(None, None)  # a teacher without a region
        await search(NOW, "nowhere")  # not a region code: counted under none
        async with sessions() as session:
            month = await tallies.month_counts(session, "m202612")
            assert month[region]["wait-video-d2"] == 8 and month[region]["safety-crisis"] == 1
            assert month[None]["wait-video-none"] == 1 and month[None]["wait-video-d0"] == 1
            assert sum(sum(c.values()) for c in month.values()) == 11
            assert await tallies.month_counts(session, "m202611") == {}
        async with engine.connect() as connection:
            stored = (await connection.execute(text("SELECT count FROM stat_tallies"))).scalars().all()
        assert len({len(value) for value in stored}) == 1, "a count of 0 and of 8 look the same"
        assert not any(value.isdigit() for value in stored), "sealed"
    finally:
        await engine.dispose()


async def test_a_quarters_median_and_p90_come_from_its_months_buckets(database_url):
    """A quarter stores its months' buckets added up, and its waits are read from them: not a
    median of medians. Shown only over at least the minimum searches that found a time."""
    from bot.services import statistics
    from bot.services.periods import Period

    quarter = Period("q", 2026, 3)
    one, two, three = quarter.months
    region = next(iter(regions()))

    def month(buckets: dict[str, int]) -> dict:
        values = Counter({tallies.wait_name("video", b): n for b, n in buckets.items()})
        names = statistics._names(one)
        return {"raw": statistics._scopes(values, {region: values}, names)}

    months = {one.code: month({"d0": 3}), two.code: month({"d14": 2}), three.code: month({"none": 4})}
    engine = db.create_engine(database_url)
    await db.upgrade(engine)
    try:
        async with db.session_factory(engine)() as session:
            raw = await statistics.count_sum(session, quarter, TZ, months)
    finally:
        await engine.dispose()
    assert (
        raw[region][tallies.wait_name("video", "d0")] == 3 and raw[""][tallies.wait_name("video", "d14")] == 2
    )

    def waits(minimum: int) -> dict[str, str]:
        shown = statistics.Shown({"raw": raw, "hidden": {region: []}}, region)
        return {f.key: f.value for f in statistics._demand(shown, region, minimum, []) if f.key in QUANTILES}

    # 5 found a time (3 the same day, 2 within 14 days): the 3rd is the median, the 5th the p90.
    assert waits(5) == {"wait-video-median": "d0", "wait-video-p90": "d14"}
    assert waits(6) == {"wait-video-median": HIDDEN, "wait-video-p90": HIDDEN}, "fewer than the minimum"


async def test_a_count_holds_its_lock_only_while_its_transaction_commits(database_url):
    """A search is counted while its handler still has to answer (Telegram, seconds at worst): the
    tally's lock (the row's on PostgreSQL, the database's on SQLite) is taken when the update
    commits, so another teacher's count, or any write, never waits for that answer."""
    engine = db.create_engine(database_url)
    await db.upgrade(engine)
    sessions = db.session_factory(engine)
    region = next(iter(regions()))
    try:

        async def other_count() -> None:
            async with sessions() as other:
                await tallies.searched(other, region, "office", None, NOW, TZ)
                await other.commit()

        async with sessions() as first:
            await tallies.searched(first, region, "office", None, NOW, TZ)
            other = asyncio.create_task(other_count())  # while the first is still answering
            done, _ = await asyncio.wait({other}, timeout=5)
            await first.commit()
        await other
        assert done, "the other count waited for the first transaction to end"
        async with sessions() as session:
            assert (await tallies.month_counts(session, "m202612"))[region]["wait-office-none"] == 2
        async with sessions() as session:  # rolled back: not counted
            await tallies.searched(session, region, "office", None, NOW, TZ)
            await session.rollback()
            await session.commit()
            assert (await tallies.month_counts(session, "m202612"))[region]["wait-office-none"] == 2
    finally:
        await engine.dispose()
