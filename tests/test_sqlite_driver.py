"""The one-trip SQLite cursor behaves as a DBAPI cursor where Demeu relies on it: claims count
changed rows, failed statements roll back with SQLAlchemy's own errors, and two sessions racing
for one row have exactly one winner."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, update
from sqlalchemy.exc import IntegrityError

from storage import db
from storage.sqlite_driver import DRIVER

metadata = MetaData()
seats = Table(
    "seats", metadata, Column("id", Integer, primary_key=True), Column("holder", String, unique=True)
)


@pytest.fixture
async def engine(sqlite_url: str):
    engine = db.create_engine(sqlite_url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


async def test_sqlite_urls_use_the_one_trip_driver(engine) -> None:
    assert engine.dialect.driver == DRIVER


async def test_rows_rowcount_and_many(engine) -> None:
    async with engine.begin() as connection:
        await connection.execute(insert(seats), [{"id": n, "holder": None} for n in range(1, 6)])
        first = await connection.execute(
            update(seats).where(seats.c.id == 1, seats.c.holder.is_(None)).values(holder="a")
        )
        again = await connection.execute(
            update(seats).where(seats.c.id == 1, seats.c.holder.is_(None)).values(holder="b")
        )
        assert (first.rowcount, again.rowcount) == (1, 0)
        inserted = await connection.execute(insert(seats).values(holder="c").returning(seats.c.id))
        assert inserted.scalar_one() == 6
        assert (await connection.scalars(select(seats.c.holder).order_by(seats.c.id))).all() == [
            "a",
            None,
            None,
            None,
            None,
            "c",
        ]
        in_pages = (await connection.execute(select(seats.c.id).order_by(seats.c.id))).partitions(4)
        assert [[row.id for row in page] for page in in_pages] == [[1, 2, 3, 4], [5, 6]]


async def test_errors_are_sqlalchemy_errors_and_roll_back(engine) -> None:
    with pytest.raises(IntegrityError):
        async with engine.begin() as connection:
            await connection.execute(insert(seats).values(id=1, holder="x"))
            await connection.execute(insert(seats).values(id=2, holder="x"))
    async with engine.connect() as connection:
        assert (await connection.scalars(select(seats.c.id))).all() == []


async def test_racing_claims_have_one_winner(engine) -> None:
    async with engine.begin() as connection:
        await connection.execute(insert(seats).values(id=1))

    async def claim(name: str) -> int:
        async with engine.begin() as connection:
            result = await connection.execute(
                update(seats).where(seats.c.id == 1, seats.c.holder.is_(None)).values(holder=name)
            )
            return result.rowcount

    assert sorted(await asyncio.gather(*(claim(f"t{n}") for n in range(8)))) == [0] * 7 + [1]
