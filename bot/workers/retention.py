"""The nightly retention job: data older than `[reminders] retention_days` is deleted.

Every replica's scheduler fires at `retention_time` (local); the first to claim the night in
`job_runs` (one conditional upsert, storage/repo/retention.py) does the work, the others find the
night taken and do nothing. It runs through the reminder worker (run_job), so a shutdown waits for
it instead of cutting it mid-transaction, and it has no misfire grace limit: a replica busy at
03:45 still runs it late. A night when every replica was down is caught up at the next one (the
cutoff is relative to now, so nothing old is left behind).
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from functools import partial

from apscheduler.triggers.cron import CronTrigger

from bot.workers.reminders import Plan, ReminderWorker
from storage.models.base import utcnow
from storage.repo import retention as repo

log = logging.getLogger("demeu.retention")
JOB = "retention"


async def run_retention(worker: ReminderWorker, now: datetime | None = None) -> dict[str, int] | None:
    """Run tonight's retention if no replica has; the counts deleted, or None if it was not ours."""
    now = now or utcnow()
    cutoff = now - timedelta(days=worker.config.retention_days)
    async with worker.sessions() as session:
        if not await repo.claim(session, JOB, f"{now.astimezone(worker.tz):%Y%m%d}", worker.name):
            await session.rollback()
            return None
        counts = await repo.purge_before(session, cutoff)
        await session.commit()
    log.info("retention: deleted %s (older than %s days)", counts, worker.config.retention_days)
    return counts


def plan(worker: ReminderWorker) -> Plan:
    at = time.fromisoformat(worker.config.retention_time)
    return Plan(
        "retention",
        CronTrigger(hour=at.hour, minute=at.minute, timezone=worker.tz),
        partial(run_retention, worker),
    )
