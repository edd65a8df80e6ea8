"""Opt-in nudges through the fake Bot API: set in Settings → Reminders at a chosen local time,
sent with a one-tap action and a one-tap "turn off", re-armed for the next day (week) in the
sending transaction, skipped (but re-armed) when long overdue, gone with "delete my data"."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from bot.telegram.callbacks import Nudge, NudgeAction, SelfCheck
from bot.telegram.i18n import compile_translations
from bot.workers import nudges
from storage.models import MoodEntry, Reminder
from storage.models.base import utcnow
from storage.repo import users
from tests.test_reminders import worker_of
from tests.waiting import wait_for

ALMATY = ZoneInfo("Asia/Almaty")
AGREE = {"kk": ("Қазақша", "Келісемін", "Баптаулар"), "ru": ("Русский", "Согласен", "Настройки")}


def test_next_time_daily_and_weekly_in_local_time():
    after = datetime(2026, 11, 23, 15, 30, tzinfo=ZoneInfo("UTC"))  # 20:30 in Almaty, a Monday
    assert nudges.next_time("mood", "21:00", after, ALMATY, 7) == datetime(
        2026, 11, 23, 16, 0, tzinfo=ZoneInfo("UTC")
    )
    assert nudges.next_time("relax", "08:00", after, ALMATY, 7) == datetime(
        2026, 11, 24, 3, 0, tzinfo=ZoneInfo("UTC")
    )
    weekly = nudges.next_time("who5", "19:00", after, ALMATY, 7)
    assert weekly.astimezone(ALMATY) == datetime(2026, 11, 29, 19, 0, tzinfo=ALMATY)  # the next Sunday


async def pending_nudges(sessions, user_id: int) -> dict[str, Reminder]:
    async with sessions() as session:
        rows = await session.scalars(
            select(Reminder).where(
                Reminder.user_id == user_id, Reminder.kind == "nudge", Reminder.status == "pending"
            )
        )
        return {r.params["n"]: r for r in rows}


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_nudges_set_sent_rearmed_turned_off_and_erased(fake_api, start_bot, lang):
    bot = await start_bot(
        reminders={"poll_seconds": 0.3}, nudges={"times": ["08:00", "20:00"], "weekly_day": 7}
    )
    sessions, tz = bot.app.sessions, bot.settings.tz
    t = compile_translations()[lang].gettext
    teacher = fake_api.user(user_id=7601, first_name="Айгүл", language_code=lang)
    language, agree, settings_button = AGREE[lang]
    await teacher.send_text("/start")
    await teacher.press(language)
    await teacher.press(agree)
    await teacher.press(settings_button)
    await teacher.press(t("settings-nudges"))
    assert t("nudges-off") in teacher.last_text
    for kind, at in (("mood", "20:00"), ("relax", "08:00"), ("who5", "20:00")):
        await teacher.press(t("nudge-name-" + kind))
        await teacher.press(at)
        assert t("nudges-saved") in teacher.alerts
    assert t("nudges-daily").format(time="20:00") in teacher.last_text
    await teacher.press(t("nudge-name-mood"))
    await teacher.press("08:00")  # another time moves it: still one pending occurrence
    async with sessions() as session:
        user_id = (await users.by_telegram_id(session, 7601)).id
    first = await pending_nudges(sessions, user_id)
    assert set(first) == {"mood", "relax", "who5"}
    local = {kind: r.due_at.astimezone(tz) for kind, r in first.items()}
    assert f"{local['mood']:%H:%M}" == "08:00" and f"{local['who5']:%H:%M}" == "20:00"
    assert local["who5"].isoweekday() == 7 and local["mood"] - utcnow() <= timedelta(days=1)
    assert "20:00" not in str([r.params for r in first.values()]).replace("'t': '20:00'", "")  # mood moved

    # Make them occurrences due now (a day or a week in a test's seconds). Keyed by yesterday: the
    # occurrence re-armed at send (today's or a later one) must not share its key at any hour
    # of the day, as real occurrences never do.
    async with sessions() as session:
        for kind, reminder in first.items():
            past = f"{nudges.key_prefix(kind, user_id)}{utcnow().astimezone(tz) - timedelta(days=1):%Y%m%d}"
            await session.execute(
                update(Reminder).where(Reminder.id == reminder.id).values(due_at=utcnow(), key=past)
            )
        await session.commit()
    texts = {kind: t(f"nudge-{kind}-text").split("<")[0][:30] for kind in nudges.KINDS}

    def sent(kind: str) -> list:
        return [m for m in teacher.messages if m.text and texts[kind] in m.text]

    async def all_sent() -> bool:
        async with sessions() as session:
            return {
                (await session.get(Reminder, r.id, populate_existing=True)).status for r in first.values()
            } == {"sent"}

    await wait_for(lambda: all(sent(kind) for kind in nudges.KINDS))
    await wait_for(all_sent)  # committed just after Telegram's answer
    again = await pending_nudges(sessions, user_id)
    assert set(again) == {"mood", "relax", "who5"}
    for kind, reminder in again.items():  # the next occurrence, scheduled with the send
        assert reminder.id != first[kind].id and reminder.due_at > utcnow()
        assert f"{reminder.due_at.astimezone(tz):%H:%M}" == f"{local[kind]:%H:%M}"
    assert again["who5"].due_at.astimezone(tz).isoweekday() == 7
    for kind in nudges.KINDS:
        assert any(t("nudge-turn-off") in b for b in sent(kind)[0].buttons)

    # One tap on the mood message checks in; the WHO-5 message opens the questionnaire.
    await teacher.press(t("mood-score-4"), message_id=sent("mood")[0].message_id)
    async with sessions() as session:
        assert await session.scalar(select(MoodEntry.score).where(MoodEntry.user_id == user_id)) == 4
    who5 = sent("who5")[0].message_id
    await teacher.press(t("nudge-who5-open"), message_id=who5)
    begin = SelfCheck(action="begin", inst="who5").pack()
    opened = next(
        m for m in teacher.messages if m.message_id == who5
    )  # edited in place; the nudges' order may vary
    assert any(b.get("callback_data") == begin for row in opened.inline_keyboard for b in row)

    # One tap turns the exercise of the day off from its own message; the others stay.
    relax = sent("relax")[0].message_id
    await teacher.press(t("nudge-turn-off"), message_id=relax)
    edited = next(m for m in teacher.messages if m.message_id == relax)  # edited in place
    assert t("nudges-off-done").format(name=t("nudge-name-relax")) in edited.text
    assert set(await pending_nudges(sessions, user_id)) == {"mood", "who5"}
    await asyncio.sleep(0.7)  # polls come and go: nothing else is sent
    sends = [c.params["text"] for c in fake_api.calls if c.method == "sendMessage" and c.chat_id == 7601]
    assert [sum(texts[kind] in text for text in sends) for kind in nudges.KINDS] == [1, 1, 1]

    # "Delete my data" takes the rest with it.
    await teacher.press(t("nav-main"), message_id=relax)
    await teacher.press(settings_button, message_id=relax)
    await teacher.press(t("settings-delete"), message_id=relax)
    await teacher.press(t("settings-delete-confirm"), message_id=relax)
    async with sessions() as session:
        assert list(await session.scalars(select(Reminder).where(Reminder.user_id == user_id))) == []
    assert not fake_api.violations


async def test_an_occurrence_long_overdue_is_skipped_but_the_next_is_scheduled(fake_api, start_bot):
    bot = await start_bot(reminders={"poll_seconds": 60})
    sessions = bot.app.sessions
    async with sessions() as session:
        user = await users.create(session, 7602, "kk")
        user.consent_at = utcnow()
        await nudges.turn_on(session, user.id, "mood", "08:00", bot.settings.nudges, bot.settings.tz)
        await session.commit()
        user_id = user.id
    (reminder,) = (await pending_nudges(sessions, user_id)).values()
    async with sessions() as session:  # the bot was down for a day
        due = utcnow() - timedelta(hours=25)
        key = f"{nudges.key_prefix('mood', user_id)}{due.astimezone(bot.settings.tz):%Y%m%d}"
        await session.execute(update(Reminder).where(Reminder.id == reminder.id).values(due_at=due, key=key))
        await session.commit()
    await worker_of(bot.app).run_once()
    async with sessions() as session:
        skipped = await session.get(Reminder, reminder.id)
        assert (skipped.status, skipped.last_error) == ("cancelled", "stale")
    (following,) = (await pending_nudges(sessions, user_id)).values()
    assert following.id != reminder.id and following.due_at > utcnow()
    assert not [c for c in fake_api.calls if c.method == "sendMessage" and c.chat_id == 7602]


async def test_a_time_no_longer_offered_is_a_stale_button(fake_api, start_bot):
    bot = await start_bot(nudges={"times": ["08:00", "20:00"]})
    t = compile_translations()["ru"].gettext
    teacher = fake_api.user(user_id=7602, first_name="Әлия", language_code="ru")
    language, agree, settings_button = AGREE["ru"]
    await teacher.send_text("/start")
    await teacher.press(language)
    await teacher.press(agree)
    await teacher.press(settings_button)
    await teacher.press(t("settings-nudges"))
    await teacher.press(t("nudge-name-mood"))
    # 21:00 was offered once; so was 20:00 when buttons carried "2000" rather than the minute of the day.
    presses = (Nudge(a=NudgeAction.SET, k="mood", minute=21 * 60).pack(), "nu:set:mood:2000")
    for count, data in enumerate(presses, 1):
        await teacher.press_data(data)
        assert teacher.alerts.count(t("stale-button")) == count
        assert t("nudge-about-mood") in teacher.last_text
    async with bot.app.sessions() as session:
        user_id = (await users.by_telegram_id(session, 7602)).id
    assert await pending_nudges(bot.app.sessions, user_id) == {}
