"""Published statistics: one row per reporting period ("m202610", "q20263", "y2026"), written once
when the period is first shown after it has settled (bot/statistics.py) and never changed.

`data` holds the counts of every region and of the country at that moment, and which of them are
hidden. Encrypted: a count of 1 is not for whoever can read the database either.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow
from storage.types import EncryptedJSON, UTCDateTime

RELEASE_SIZE = 4096


class StatRelease(Base):
    __tablename__ = "stat_releases"

    period: Mapped[str] = mapped_column(String(8), primary_key=True)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Totals of every region: no teacher's choice in its size, so it grows in steps.
    data: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON(RELEASE_SIZE, grows=True))


TALLY_SIZE = 16  # a sealed count: every value the same length


class StatTally(Base):
    """One count of events that leave no other row (a booking search and how soon its first free
    time was, a safety screen, a crisis hand-off), by local month, teacher's region ("" for none)
    and name. Never linked to a teacher: all rows of a month are written at once, for every region
    and name, the first time any is counted (so a row's presence tells nothing), and the count is
    sealed (a copy of the database does not show that a region had one crisis screen in a month)."""

    __tablename__ = "stat_tallies"
    __table_args__ = (UniqueConstraint("month", "region", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # `keys rotate` walks a one-column key
    month: Mapped[str] = mapped_column(String(8))  # a period code, "m202612"
    region: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(24))
    count: Mapped[int] = mapped_column(EncryptedJSON(TALLY_SIZE))
