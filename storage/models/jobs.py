"""Periodic jobs that must run once per period across all replicas (the nightly retention job).

One row per job: `period` is the last period (a local date "20261123") some replica claimed. A
replica runs the job only if its conditional UPDATE moved `period` forward (see
storage/repo/retention.py), so however many replicas fire at 03:45, one of them does the work.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow
from storage.types import UTCDateTime


class JobRun(Base):
    __tablename__ = "job_runs"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    period: Mapped[str] = mapped_column(String(16))
    claimed_by: Mapped[str] = mapped_column(String(64))
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
