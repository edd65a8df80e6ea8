"""Opt-in nudges teachers set themselves: the daily mood check-in, the daily exercise of the day
and the weekly well-being check (WHO-5), each at a local time they pick (Settings → Reminders).

A nudge that is on is exactly one pending reminder: its next occurrence, keyed
"nudge:<kind>:<user id>:<local date>", with params {"n": kind, "t": "HH:MM"} (no free text).
Recurring: when an occurrence is sent, its renderer schedules the next one in the same
transaction as the send (bot/reminders.py commits both together), so a crash either sends and
re-arms, or does neither and the claim is taken again. Replaying a render schedules the same key
for the same time: nothing changes. Turning a nudge on (or picking another time) cancels the
pending occurrence and schedules the new one in the handler's transaction; turning it off
cancels it. Every nudge message carries a one-tap "turn off" button. A blocked bot kills the
chain with the user's other reminders (bot/reminders.py); "delete my data" removes the rows by
the users cascade.

An occurrence found long overdue (the bot was down) is not sent: a "how are you today?" a day
late reads oddly. It is recorded as cancelled ("stale") and the next one is still scheduled.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import NudgesConfig
from bot.content.exercises import load_exercises
from bot.telegram import callbacks as cb
from bot.telegram.keyboards import KeyboardBuilder, button, nav_row
from bot.views.mood import score_buttons
from bot.workers.reminders import Rendered
from storage.models import Reminder, User
from storage.models.base import utcnow
from storage.repo import reminders as repo
from storage.repo.nudges import KIND

KINDS = ("mood", "relax", "who5")
WEEKLY = {"who5"}
STALE_AFTER = timedelta(hours=3)


def key_prefix(kind: str, user_id: int) -> str:
    return f"nudge:{kind}:{user_id}:"


def next_time(kind: str, at: str, after: datetime, tz: ZoneInfo, weekly_day: int) -> datetime:
    """The first local `at` (on `weekly_day`, ISO 1-7, for weekly kinds) strictly after `after`."""
    clock = time.fromisoformat(at)
    day = after.astimezone(tz).date()
    while True:
        moment = datetime.combine(day, clock, tz)
        if moment > after and (kind not in WEEKLY or day.isoweekday() == weekly_day):
            return moment.astimezone(ZoneInfo("UTC"))
        day += timedelta(days=1)


async def _schedule(
    session: AsyncSession, user_id: int, kind: str, at: str, weekly_day: int, after: datetime, tz: ZoneInfo
) -> datetime:
    due = next_time(kind, at, after, tz, weekly_day)
    key = f"{key_prefix(kind, user_id)}{due.astimezone(tz):%Y%m%d}"
    await repo.schedule(session, key, user_id, due, KIND, {"n": kind, "t": at, "w": weekly_day})
    return due


async def turn_on(
    session: AsyncSession, user_id: int, kind: str, at: str, config: NudgesConfig, tz: ZoneInfo
) -> datetime:
    """On at `at` (or moved there); returns the first occurrence. The caller commits."""
    await repo.cancel_prefix(session, key_prefix(kind, user_id))
    return await _schedule(session, user_id, kind, at, config.weekly_day, utcnow(), tz)


async def turn_off(session: AsyncSession, user_id: int, kind: str) -> bool:
    return await repo.cancel_prefix(session, key_prefix(kind, user_id)) > 0


def _content(kind: str, user: User, tz: ZoneInfo) -> tuple[str, KeyboardBuilder]:
    builder = KeyboardBuilder()
    if kind == "mood":
        score_buttons(builder)  # one tap: the scores themselves, handled by handlers/teacher/mood.py
        return _("nudge-mood-text"), builder
    if kind == "relax":
        exercise = load_exercises().exercise_of_the_day(utcnow().astimezone(tz).date())
        builder.button(text=_("nudge-relax-open"), callback_data=cb.Relax(action="card", value=exercise.id))
        return _("nudge-relax-text").format(title=exercise.title[user.language]), builder
    builder.button(text=_("nudge-who5-open"), callback_data=cb.SelfCheck(action="open", inst="who5"))
    return _("nudge-who5-text"), builder


async def render_nudge(
    session: AsyncSession, reminder: Reminder, user: User, tz: ZoneInfo
) -> Rendered | None:
    params = reminder.params
    kind = params["n"]
    if kind not in KINDS:
        return None
    now = utcnow()
    # The next occurrence, in this transaction: committed together with this one's "sent".
    await _schedule(session, user.id, kind, params["t"], params["w"], max(now, reminder.due_at), tz)
    if now - reminder.due_at > STALE_AFTER:
        return None
    text, builder = _content(kind, user, tz)
    builder.adjust(1)
    builder.row(button(_("nudge-turn-off"), cb.Nudge(a="off", k=kind)))
    builder.row(*nav_row())
    return Rendered(text, builder.as_markup())


RENDERERS = {KIND: render_nudge}
