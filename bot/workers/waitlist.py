""" "Tell me when a time opens" for individual consultations: durable, and once.

A teacher who finds no free time may leave a wait with the filters they chose (handlers/teacher/
booking.py). Every `[booking] waitlist_seconds` (and at start) each replica matches waits with free
times (bot/services/bookings.py: one free time to one teacher, the longest waiting first) and, in one
transaction, deletes each matched wait and schedules its message as a reminder keyed
"waitlist:<wait id>" — so a crash leaves either both or neither, two replicas plan one row, and the
reminder worker sends it exactly as it sends any reminder. Deleted, the wait can never tell again.
A time still free at the next look goes to the next teacher waiting for it: the first told has
`waitlist_seconds` to take it before anyone else hears of it.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.bookings import Bookings
from bot.telegram import callbacks as cb
from bot.telegram.keyboards import KeyboardBuilder, button, nav_row
from bot.views.booking import format_name, when
from bot.workers.reminders import Plan, ReminderWorker, Rendered
from storage.models import Reminder, User
from storage.models.base import utcnow
from storage.repo import booking as booking_repo
from storage.repo import reminders as repo

KIND = "waitlist"


def plan(worker: ReminderWorker, bookings: Bookings) -> Plan:
    trigger = IntervalTrigger(seconds=bookings.rules.waitlist_seconds)
    return Plan("waitlist", trigger, partial(plan_waits, worker, bookings), at_start=True)


async def plan_waits(worker: ReminderWorker, bookings: Bookings, now: datetime | None = None) -> int:
    """Each wait a free time answers becomes one message; returns how many."""
    now = now or utcnow()
    async with worker.sessions() as session:
        matched = await bookings.match_waits(session, now)
        for wait, slot in matched:
            params = {
                "f": wait.format,
                "l": wait.language,
                "g": wait.region,
                "p": wait.psychologist_id,
                "slot": slot.id,
            }
            await repo.schedule(session, f"waitlist:{wait.id}", wait.teacher_id, now, KIND, params)
            await booking_repo.remove_wait(session, wait)
        await session.commit()
    return len(matched)


async def render_wait(session: AsyncSession, reminder: Reminder, user: User, tz: ZoneInfo) -> Rendered:
    """A time opened (it may be taken by the time it is pressed: the day's free times are shown then)."""
    params = reminder.params
    slot = await booking_repo.slot_by_id(session, params["slot"])
    builder = KeyboardBuilder()
    if slot is None:
        text = _("sess-wait-found-gone")
        builder.button(text=_("menu-book"), callback_data=cb.Menu(item=cb.Section.BOOK))
    else:
        text = _("sess-wait-found").format(
            when=when(slot.starts_at, tz, user.language), format=format_name(slot.format)
        )
        day = slot.starts_at.astimezone(tz).strftime("%Y%m%d")
        times = cb.Book(
            a=cb.BookAction.DAY, f=params["f"], l=params["l"], g=params["g"], p=params["p"], d=day
        )
        builder.row(button(_("sess-wait-see"), times))
    builder.row(*nav_row())
    return Rendered(text, builder.as_markup())
