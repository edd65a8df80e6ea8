"""The way into a session, given only to those in it and only shortly before it starts
(`[video] link_minutes`): a booking's own room or the psychologist's link for the slot, an online
group session's room, an office session's address. Each join text says how to stay private."""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape

from aiogram.types import InlineKeyboardButton
from aiogram.utils.i18n import gettext as _

from bot.config import VideoConfig
from bot.services.rooms import booking_link, group_link, open_now
from storage.models import Booking, GroupSession


def booking_room(video: VideoConfig, booking: Booking, now: datetime) -> str | None:
    """The booking's video link if it is given now."""
    slot = booking.slot
    if slot.format != "video" or not open_now(video, slot.starts_at, slot.ends_at, now):
        return None
    return booking_link(video, booking)


def booking_way_in(video: VideoConfig, booking: Booking, now: datetime, *, psychologist: bool = False) -> str:
    """For a video booking: the room with how to stay private, or when the link will come ("" otherwise)."""
    slot = booking.slot
    if slot.format != "video":
        return ""
    if not open_now(video, slot.starts_at, slot.ends_at, now):
        return _("sess-link-later").format(minutes=video.link_minutes)
    link = booking_link(video, booking)  # None only with engine "own" and no link given
    return _("sess-room-psy" if psychologist else "sess-room-own").format(link=escape(link)) if link else ""


def group_open_now(video: VideoConfig, group: GroupSession, now: datetime) -> bool:
    return open_now(video, group.starts_at, group.starts_at + timedelta(minutes=group.duration_min), now)


def group_room(video: VideoConfig, group: GroupSession, now: datetime) -> str | None:
    """An online session's link if it is given now."""
    return (
        group_link(video, group) if group.format == "online" and group_open_now(video, group, now) else None
    )


def group_way_in(video: VideoConfig, group: GroupSession, now: datetime) -> str:
    """For an enrolled teacher: an online session's room (shortly before), an office one's place."""
    if group.format == "offline":
        place = group.place
        return _("sess-group-place").format(place=escape(place)) if place else _("sess-group-place-none")
    if video.engine == "own":  # no rooms made: the way in is the session's description
        return ""
    if not group_open_now(video, group, now):
        return _("sess-group-link-later").format(minutes=video.link_minutes)
    link = group_link(video, group)
    return _("sess-room-group").format(link=escape(link)) if link else ""


def join_button(link: str | None) -> list[InlineKeyboardButton]:
    """A row with the one-tap way in, when there is a link."""
    return [InlineKeyboardButton(text=_("sess-join"), url=link)] if link else []
