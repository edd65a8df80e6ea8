"""Reminders before group sessions: the seated teachers (`teacher_offsets`) and the facilitator
(`psychologist_offsets`).

Group seats change in many places (enrol, leave, waitlist offers, a cancelled session), so instead
of following each change the worker plans ahead: every `group_plan_seconds` it upserts the
reminders falling due within the next 1.5 intervals for the sessions' current seats, keyed
"group:<session>:<user>:<seconds before>" (every replica plans the same rows; one message each).
Whether the seat is still held and the session still open is checked again when the reminder is
sent, so a teacher who left, or a cancelled session, gets nothing. A seat taken after a reminder's
time is not reminded of it (they have just enrolled); one whose time passed while the bot was
down is sent if the session is still ahead (it expires at the start). Each carries the way in
(bot/views/rooms.py): an online session's room within `[video] link_minutes` of the start, an
office session's address and how to find the cabinet.
"""

from __future__ import annotations

import html
from datetime import datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import VideoConfig
from bot.telegram import callbacks as cb
from bot.telegram.keyboards import KeyboardBuilder, button, nav_row
from bot.views import dates
from bot.views.rooms import group_room, group_way_in, join_button
from bot.workers.reminders import Plan, ReminderWorker, Rendered
from storage.models import Reminder, User
from storage.models.base import utcnow
from storage.repo import groups as groups_repo
from storage.repo import reminders as repo
from storage.repo import staff

KIND = "group"


def plan(worker: ReminderWorker) -> Plan:
    trigger = IntervalTrigger(seconds=worker.config.group_plan_seconds)
    return Plan("groups", trigger, partial(plan_groups, worker), at_start=True)


async def plan_groups(worker: ReminderWorker, now: datetime | None = None) -> int:
    """Upsert the group reminders due before the next plan but one; returns how many."""
    now = now or utcnow()
    config = worker.config
    horizon = now + timedelta(seconds=config.group_plan_seconds * 1.5)
    teacher, facilitator = config.offsets("teacher"), config.offsets("psychologist")
    longest = max([*teacher, *facilitator], default=timedelta(0))
    planned = 0
    async with worker.sessions() as session:
        for group, seats in await repo.group_seats_starting(session, now, horizon + longest):
            recipients = [(seat.user_id, seat.updated_at, teacher) for seat in seats]
            if group.facilitator_id is not None:
                recipients.append((group.facilitator_id, group.created_at, facilitator))
            for user_id, since, offsets in recipients:
                for offset in offsets:
                    due = group.starts_at - offset
                    if due > horizon or due < since:
                        continue
                    key = f"group:{group.id}:{user_id}:{int(offset.total_seconds())}"
                    await repo.schedule(
                        session, key, user_id, due, KIND, {"group": group.id}, expires_at=group.starts_at
                    )
                    planned += 1
        await session.commit()
    return planned


async def render_group(
    session: AsyncSession, reminder: Reminder, user: User, tz: ZoneInfo, video: VideoConfig
) -> Rendered | None:
    group = await groups_repo.get(session, reminder.params["group"])
    if group is None or group.status != "open" or group.starts_at <= utcnow():
        return None
    when = dates.moment(group.starts_at, tz)
    title = html.escape(group.title(user.language))
    now = utcnow()
    way_in = group_way_in(video, group, now)
    way_in = "\n\n" + way_in if way_in else ""
    builder = KeyboardBuilder()
    builder.row(*join_button(group_room(video, group, now)))
    builder.row(button(_("rem-group-open"), cb.Group(a=cb.GroupAction.OPEN, s=group.id)))
    builder.row(*nav_row())
    if user.id == group.facilitator_id:
        if staff.deactivated(user):  # no longer leads anything: not even the count reaches them
            return None
        count = await groups_repo.taken(session, group.id)
        return Rendered(
            _("rem-group-facilitator").format(title=title, when=when, count=count) + way_in,
            builder.as_markup(),
        )
    seat = await groups_repo.seat_of(session, group.id, user.id)
    if seat is None or seat.status != "enrolled":
        return None
    return Rendered(_("rem-group-teacher").format(title=title, when=when) + way_in, builder.as_markup())
