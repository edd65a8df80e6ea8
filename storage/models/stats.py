"""Published statistics: one row per reporting period ("m202610", "q20263", "y2026"), written once
when the period is first shown after it has settled (bot/statistics.py) and never changed.

`data` holds the counts of every region and of the country at that moment, and which of them are
hidden. Encrypted: a count of 1 is not for whoever can read the database either.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
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
