"""Notices survive Telegram's failures, end to end through the fake Bot API: every notice kind
(a booking and its .ics, a reschedule and its .ics, a confirmation, a cancel by the psychologist,
a cancel by the teacher, "delete my data", a deactivation) reaches its recipient exactly once while
Telegram answers 500 four times, or 429 with a flood wait of 20 to 120 s, to its first tries.

Nobody waits 120 s: the reminder worker's clock is moved past the flood wait, after showing that
the bot does not try again before its clock says the wait is over. In Kazakh and Russian."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.telegram.callbacks import Book, Mine, Psy, Settings, Staff
from bot.telegram.i18n import compile_translations
from bot.views.booking import when
from storage.models.base import utcnow
from storage.repo import booking as booking_repo
from tests.test_booking_e2e import screen
from tests.test_chat_e2e import eventually
from tests.test_coordinator_stats import REGION, make_psychologist, make_user
from tests.test_limits_e2e import booking_of

TRANSLATIONS = compile_translations()
ALMATY = ZoneInfo("Asia/Almaty")
COORDINATOR, PSYCHOLOGIST, TEACHER, LEAVING = 7301, 7302, 7303, 7304
FLOOD_WAITS = itertools.cycle([20, 57, 120, 33, 98, 75, 111, 42])
FAST = {"retry_seconds": 0.1, "backoff_seconds": 0.005, "poll_seconds": 60}


@dataclass
class Expected:
    """One notice: to `chat` by `method`, recognised by `looks_like` (a call's params and files)."""

    name: str
    chat: int
    method: str
    looks_like: object
    failures: int
    wait: int = 0  # the flood wait Telegram asked for, in seconds


class Telegram:
    """Telegram failing the first tries of each notice; the test steps the bot past them."""

    def __init__(self, fake_api, bot, status: int) -> None:
        self.api, self.worker, self.status = fake_api, bot.app.reminders, status
        self.expected: list[Expected] = []
        self.ahead = timedelta(0)

    def calls(self, notice: Expected, *, ok: bool) -> list:
        return [
            c
            for c in self.api.calls
            if c.method == notice.method and c.chat_id == notice.chat and c.ok == ok and notice.looks_like(c)
        ]

    def sends(self) -> int:
        return sum(c.method in ("sendMessage", "sendDocument") for c in self.api.calls)

    def failing(self, name: str, chat: int, method: str, looks_like) -> Expected:
        wait = 0 if self.status == 500 else next(FLOOD_WAITS)
        if self.status == 500:
            self.api.inject(method, chat, status=500, times=4)
        else:
            self.api.inject(method, chat, status=429, retry_after=wait, times=1)
        notice = Expected(name, chat, method, looks_like, 4 if self.status == 500 else 1, wait)
        self.expected.append(notice)
        return notice

    async def through(self, *notices: Expected) -> None:
        """The action is done: its notices are refused on their first tries, then arrive. A person's
        notices keep their order, so one waits while an earlier one to the same person is refused:
        round by round, the refused ones are stepped past their failures."""
        pending = list(notices)
        while pending:
            await eventually(lambda p=pending: any(self.calls(n, ok=False) for n in p), "a notice tried", 5)
            refused = [n for n in pending if self.calls(n, ok=False)]
            if self.status == 429:
                shortest, longest = (timedelta(seconds=f(n.wait for n in refused)) for f in (min, max))
                tries = self.sends()
                self.worker.clock = lambda half=shortest / 2: utcnow() + self.ahead + half
                await self.worker.run_once()
                assert self.sends() == tries, "nothing is tried again before the flood wait is over"
                self.ahead += longest + timedelta(seconds=1)
                self.worker.clock = lambda: utcnow() + self.ahead
                await self.worker.run_once()
            for notice in refused:
                await eventually(lambda n=notice: self.calls(n, ok=True), f"{notice.name} delivered", 5)
            pending = [n for n in pending if n not in refused]

    async def assert_each_once(self) -> None:
        """Each notice delivered once after exactly its failed tries, and nothing more came later."""
        await self.api.wait_idle()
        for notice in self.expected:
            assert len(self.calls(notice, ok=True)) == 1, notice.name
            assert len(self.calls(notice, ok=False)) == notice.failures, notice.name


def text_like(template: str, *more: str):
    """A text made from `template`: every literal part of it is there, and each of `more`."""
    parts = [part for part in re.split(r"\{\w+\}", template) if part.strip()] + list(more)
    return lambda call: all(part in (call.params.get("text") or "") for part in parts)


def text_of(template: str, slot, lang: str):
    """A text made from `template` about `slot`: every literal part of it is there, and the time."""
    return text_like(template, when(slot.starts_at, ALMATY, lang))


def ics_for(starts_at, cancelled: bool = False):
    stamp = starts_at.astimezone(ALMATY).strftime("%Y%m%d-%H%M") + ("-cancel" if cancelled else "")
    return lambda call: getattr(call.params.get("document"), "filename", None) == f"demeu-{stamp}.ics"


def calendar_cancel(slot):
    """The teacher's calendar cancellation, whoever cancelled."""
    return ("calendar cancellation", TEACHER, "sendDocument", ics_for(slot.starts_at, cancelled=True))


async def prepare(bot, lang: str) -> tuple[int, list]:
    """A coordinator, a published psychologist with three slots, two teachers who have agreed."""
    async with bot.app.sessions() as session:
        await make_user(session, COORDINATOR, REGION, "coordinator", lang)
        profile = await make_psychologist(session, PSYCHOLOGIST, "Сауле")
        profile.user.language, profile.video_link = lang, "https://meet.example.org/saule"
        for telegram_id in (TEACHER, LEAVING):
            await make_user(session, telegram_id, REGION, language=lang)
        start = utcnow().replace(second=0, microsecond=0) + timedelta(days=2)
        slots = [
            await booking_repo.add_slot(session, profile, start + timedelta(hours=n), 50, "video")
            for n in range(3)
        ]
        await session.commit()
        return profile.id, slots


async def scene(fake_api, start_bot, lang: str, status: int):
    bot = await start_bot(reminders=FAST, limits={"bookings_per_day": 10})
    profile_id, slots = await prepare(bot, lang)
    people = [
        fake_api.user(user_id=n, language_code=lang) for n in (COORDINATOR, PSYCHOLOGIST, TEACHER, LEAVING)
    ]
    for person in people:
        if person.id != PSYCHOLOGIST:  # the psychologist's first message is a notice
            await person.send_text("/menu")
    return bot, Telegram(fake_api, bot, status), profile_id, slots, people


async def booked(bot, telegram: Telegram, lang: str, who, slot, moving: int = 0) -> int:
    """`who` books `slot` (or moves booking `moving` to it): the psychologist's notice and the .ics
    come through the failures; the screen said the psychologist will be notified."""
    t = TRANSLATIONS[lang].gettext
    name, key = ("rescheduled", "book-moved") if moving else ("booked", "book-done")
    notices = (
        telegram.failing(name, PSYCHOLOGIST, "sendMessage", text_of(t(f"psy-notice-{name}"), slot, lang)),
        telegram.failing(f"{name} .ics", who.id, "sendDocument", ics_for(slot.starts_at)),
    )
    await who.press_data(Book(a="ok", f="video", s=slot.id, r=moving).pack())
    assert t(key).split("\n\n")[-1] in screen(who)
    await telegram.through(*notices)
    return (await booking_of(bot, slot.id)).id


@pytest.mark.parametrize(("lang", "status"), [("kk", 500), ("ru", 429)])
async def test_booked_moved_confirmed_and_cancelled_by_the_psychologist(fake_api, start_bot, lang, status):
    t = TRANSLATIONS[lang].gettext
    bot, telegram, _profile, slots, (_coordinator, psychologist, teacher, _leaving) = await scene(
        fake_api, start_bot, lang, status
    )
    first = await booked(bot, telegram, lang, teacher, slots[0])
    moved = await booked(bot, telegram, lang, teacher, slots[1], moving=first)

    # Confirmed and cancelled by the psychologist, from the notice's own buttons.
    confirmed = telegram.failing(
        "confirmed", TEACHER, "sendMessage", text_of(t("teacher-notice-confirmed"), slots[1], lang)
    )
    await psychologist.press(t("psy-confirm"))
    await telegram.through(confirmed)
    cancelled = telegram.failing(
        "cancelled by the psychologist",
        TEACHER,
        "sendMessage",
        text_of(t("teacher-notice-cancelled_by_psy"), slots[1], lang),
    )
    await psychologist.press_data(Psy(a="bcx", id=moved).pack())
    calendar = telegram.failing(*calendar_cancel(slots[1]))
    await psychologist.press(t("psy-cancel-no-reason"))
    assert t("psy-cancelled") in psychologist.last_text
    await telegram.through(cancelled, calendar)
    await telegram.assert_each_once()


@pytest.mark.parametrize(("lang", "status"), [("ru", 500), ("kk", 429)])
async def test_cancelled_by_the_teacher_erased_and_deactivated(fake_api, start_bot, lang, status):
    t = TRANSLATIONS[lang].gettext
    bot, telegram, profile_id, slots, (coordinator, _psychologist, teacher, leaving) = await scene(
        fake_api, start_bot, lang, status
    )
    third = await booked(bot, telegram, lang, teacher, slots[0])
    cancelled = telegram.failing(
        "cancelled by the teacher",
        PSYCHOLOGIST,
        "sendMessage",
        text_of(t("psy-notice-cancelled"), slots[0], lang),
    )
    calendar = telegram.failing(*calendar_cancel(slots[0]))
    await teacher.press_data(Mine(a="cancelok", id=third).pack())
    assert t("mine-cancelled") in screen(teacher)
    await telegram.through(cancelled, calendar)

    # Another teacher books and deletes their data: the psychologist is told from the notice alone.
    await booked(bot, telegram, lang, leaving, slots[1])
    erased = telegram.failing(
        "erased", PSYCHOLOGIST, "sendMessage", text_of(t("psy-notice-erased"), slots[1], lang)
    )
    await leaving.press_data(Settings(action="erase").pack())
    await telegram.through(erased)

    # The psychologist is deactivated: the teacher hears their booking is cancelled, and why.
    await booked(bot, telegram, lang, teacher, slots[2])
    gone = telegram.failing(
        "deactivated", TEACHER, "sendMessage", text_of(t("teacher-notice-psy_off"), slots[2], lang)
    )
    calendar = telegram.failing(*calendar_cancel(slots[2]))
    await coordinator.press_data(Staff(a="offok", id=profile_id).pack())
    await telegram.through(gone, calendar)
    await telegram.assert_each_once()
