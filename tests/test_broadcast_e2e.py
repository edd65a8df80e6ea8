"""A coordinator's broadcast to 1,000 teachers through the fake Bot API enforcing Telegram's flood
limits: one copy each, almost no 429s, a kill halfway and a restart, opted-out and blocked teachers
skipped, a forged callback refused, statistics that hide small cells; an audience below the
minimum cell shown as "fewer than 5", in the preview and in the progress."""

import asyncio
from collections import Counter
from datetime import timedelta

from sqlalchemy import select, update

from bot.services import periods
from bot.services.anonymity import HIDDEN
from bot.telegram.callbacks import Coord
from bot.telegram.i18n import compile_translations
from storage.models import Broadcast, BroadcastRecipient, User
from storage.models.base import utcnow
from storage.repo import broadcasts, groups, users
from tests.conftest import STATS_CEILING

T = compile_translations()["ru"].gettext
FIRST = 600_000
TEACHERS = 1000
OPTED_OUT = range(FIRST, FIRST + 20)  # turned announcements off in Settings
INACTIVE = range(FIRST + 20, FIRST + 30)  # blocked the bot earlier: already inactive
BLOCKED_NOW = range(FIRST + 30, FIRST + 33)  # blocked it since: Telegram answers 403
COORDINATOR, FORGER = 7700, 7800
TEXT = "Вебинар о профилактике выгорания, 1 декабря в 16:00"


async def make_teachers(bot) -> None:
    async with bot.app.sessions() as session:
        for telegram_id in range(FIRST, FIRST + TEACHERS):
            user = await users.create(session, telegram_id, "kk" if telegram_id % 2 else "ru")
            user.consent_at = utcnow()
            user.announcements = telegram_id not in OPTED_OUT
            user.active = telegram_id not in INACTIVE
        await session.commit()


async def agree(user) -> None:
    await user.send_text("/start")
    await user.press("Русский")
    await user.press("Согласен")


def delivered(fake_api) -> Counter:
    """Successful sends of the announcement, per teacher chat."""
    teachers = set(range(FIRST, FIRST + TEACHERS)) | {FORGER}
    return Counter(
        c.chat_id
        for c in fake_api.calls
        if c.method == "sendMessage"
        and c.status == 200
        and c.chat_id in teachers
        and TEXT in (c.params.get("text") or "")
    )


async def wait_until(predicate, timeout: float = 120.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.2)


async def broadcast_status(bot, broadcast_id: int) -> str:
    async with bot.app.sessions() as session:
        return await session.scalar(select(Broadcast.status).where(Broadcast.id == broadcast_id))


async def test_broadcast_to_a_thousand_survives_a_kill(fake_api, start_bot):
    for telegram_id in BLOCKED_NOW:
        fake_api.block(telegram_id)
    bot = await start_bot()
    await make_teachers(bot)
    coordinator = fake_api.user(user_id=COORDINATOR, language_code="ru")
    await agree(coordinator)
    async with bot.app.sessions() as session:
        (await users.by_telegram_id(session, COORDINATOR)).role = "coordinator"
        await session.commit()
    forger = fake_api.user(user_id=FORGER, language_code="ru")
    await agree(forger)

    # Compose, audience, no button, preview in both languages, confirm with the count.
    await coordinator.send_text("/menu")
    await coordinator.press(T("menu-coord"))
    await coordinator.press(T("co-new"))
    await coordinator.send_text(TEXT)
    await coordinator.press(T("co-same-text"))
    await coordinator.press(T("co-aud-all"))
    await coordinator.press(T("co-btn-none"))
    eligible = TEACHERS - len(OPTED_OUT) - len(INACTIVE) + 1  # + the forger, a teacher who wants news
    assert T("co-confirm").format(count=eligible) in coordinator.last_text
    previews = [m.text for m in coordinator.messages if TEXT in (m.text or "")]
    assert len(previews) == 2 and previews[0] != previews[1], "one preview per language, each with its footer"
    async with bot.app.sessions() as session:
        draft = await session.scalar(select(Broadcast))

    # A teacher forging the Send (or Stop) button is refused and nothing is sent.
    await forger.press_data(Coord(a="send", i=draft.id).pack())
    await forger.press_data(Coord(a="stop", i=draft.id).pack())
    assert forger.alerts.count(T("role-refused")) == 2
    assert await broadcast_status(bot, draft.id) == "draft"

    # Telegram's flood limits from here on: 30 messages/s overall, 1/s per chat.
    fake_api.rate_limit(global_per_second=30, per_chat_per_second=1)
    await coordinator.press(T("co-send").split("(")[0].strip())

    # Kill the bot halfway: its broadcast worker is cancelled mid-send, then the app goes down.
    await wait_until(lambda: sum(delivered(fake_api).values()) >= eligible // 2)
    bot.app.broadcaster._task.cancel()
    await bot.stop()
    at_kill = sum(delivered(fake_api).values())
    assert at_kill < eligible - 100, "the kill really came halfway"
    assert await broadcast_status(bot, draft.id) == "sending"

    again = await start_bot()
    await wait_until(lambda: sum(delivered(fake_api).values()) >= eligible - len(BLOCKED_NOW))
    for _ in range(100):
        if await broadcast_status(again, draft.id) == "done":
            break
        await asyncio.sleep(0.2)
    assert await broadcast_status(again, draft.id) == "done"

    # Exactly one copy for every teacher who wants announcements; none for the others.
    copies = delivered(fake_api)
    wanted = set(range(FIRST, FIRST + TEACHERS)) - set(OPTED_OUT) - set(INACTIVE) - set(BLOCKED_NOW) | {
        FORGER
    }
    assert set(copies) == wanted
    assert set(copies.values()) == {1}
    touched = {c.chat_id for c in fake_api.calls if c.method == "sendMessage"}
    assert not touched & (set(OPTED_OUT) | set(INACTIVE))
    sends = [c for c in fake_api.calls if c.method == "sendMessage"]
    share_429 = len(fake_api.rate_limited) / len(sends)
    assert share_429 < 0.01, share_429
    async with again.app.sessions() as session:
        counts = await broadcasts.counts(session, draft.id)
        assert counts == {"sent": eligible - len(BLOCKED_NOW), "blocked": len(BLOCKED_NOW)}
        still_active = await session.scalars(
            select(User.active).where(
                User.id.in_(select(BroadcastRecipient.user_id).where(BroadcastRecipient.state == "blocked"))
            )
        )
        assert not any(still_active), "teachers who blocked the bot are marked inactive"

    # The progress message became the final report: the worker edits it just after it marks the broadcast done.
    def final_reports() -> list[str]:
        return [m.text for m in coordinator.messages if T("bc-progress-done").split(":")[0] in (m.text or "")]

    for _ in range(50):
        if final_reports():
            break
        await asyncio.sleep(0.1)
    reports = final_reports()
    assert len(reports) == 1 and str(eligible - len(BLOCKED_NOW)) in reports[0]
    assert not any(T("bc-progress").split(":")[0] in (m.text or "") for m in coordinator.messages)

    fake_api.rate_limit(global_per_second=30, per_chat_per_second=None)  # a person's own clicks again

    # Statistics of the month it went out in (moved back to the latest published one): 3 blocked is
    # a small cell, and "sent" would reveal it from the total, so both hide; 3 seats too.
    month = periods.latest_month(utcnow(), again.settings.tz)
    sent_at = month.since(again.settings.tz) + timedelta(days=10)
    async with again.app.sessions() as session:
        await session.execute(update(Broadcast).where(Broadcast.id == draft.id).values(started_at=sent_at))
        group = await groups.create_session(
            session,
            title_kk="Топ",
            title_ru="Группа",
            starts_at=sent_at,
            capacity=10,
            format="online",
            language="ru",
        )
        ids = (await session.scalars(select(User.id).where(User.role == "teacher").limit(3))).all()
        for user_id in ids:
            await groups.enroll(
                session, group.id, user_id, sent_at - timedelta(days=1)
            )  # joined before it ran
        await session.commit()
    await coordinator.send_text("/menu")
    await coordinator.press(T("menu-coord"))
    await coordinator.press(T("co-stats"), timeout=STATS_CEILING)
    await coordinator.press(T("co-stats-more-ac"), timeout=STATS_CEILING)  # group sessions and broadcasts
    stats = coordinator.last_text
    assert T("co-stat-bc-blocked").format(value=HIDDEN) in stats
    assert T("co-stat-bc-sent").format(value=HIDDEN) in stats
    assert (
        T("co-stat-seats").format(value=HIDDEN) in stats and T("co-stat-sessions").format(value="1") in stats
    )
    assert str(eligible - len(BLOCKED_NOW)) not in stats
    await coordinator.press(T("co-stats-csv"), timeout=STATS_CEILING)
    document = coordinator.documents[-1]
    seats, sessions = (
        T(key).split(":")[0] for key in ("co-stat-seats", "co-stat-sessions")
    )  # named, not coded
    assert (
        f"{seats},{HIDDEN}".encode() in document.file.data and f"{sessions},1".encode() in document.file.data
    )


async def test_an_audience_below_the_minimum_is_fewer_than_five(fake_api, start_bot):
    """The waitlist of a session with 2 teachers: the preview, the Send button and the progress say
    "fewer than 5", never 2; who of them got it or blocked the bot is not shown either."""
    bot = await start_bot()
    async with bot.app.sessions() as session:
        waiting = []
        for n in range(2):
            user = await users.create(session, 620_000 + n, "ru")
            user.consent_at = utcnow()
            waiting.append(user.id)
        group = await groups.create_session(
            session,
            title_kk="Топ",
            title_ru="Группа поддержки",
            capacity=2,
            starts_at=utcnow() + timedelta(days=2),
            format="online",
            language="ru",
        )
        for n in range(2):
            seat_holder = await users.create(session, 621_000 + n, "ru")
            seat_holder.consent_at, seat_holder.announcements = utcnow(), False
            await groups.enroll(session, group.id, seat_holder.id, utcnow())
        for user_id in waiting:
            await groups.enroll(session, group.id, user_id, utcnow())
        await session.commit()
    fake_api.block(620_001)
    coordinator = fake_api.user(user_id=COORDINATOR, language_code="ru")
    await agree(coordinator)
    async with bot.app.sessions() as session:
        (await users.by_telegram_id(session, COORDINATOR)).role = "coordinator"
        await session.commit()
    await coordinator.send_text("/menu")
    await coordinator.press(T("menu-coord"))
    await coordinator.press(T("co-new"))
    await coordinator.send_text(TEXT)
    await coordinator.press(T("co-same-text"))
    await coordinator.press(T("co-aud-session"))
    waitlist = T("co-aud-waitlist").split("{")[0]
    await coordinator.press(
        next(b for b in coordinator.last.buttons if b.startswith(waitlist) and "Группа поддержки" in b)
    )
    await coordinator.press(T("co-btn-none"))
    fewer = T("co-fewer").format(minimum=5)
    assert T("co-confirm").format(count=fewer) in coordinator.last_text
    assert T("co-send").format(count=fewer) in coordinator.last.buttons
    await coordinator.press(T("co-send").split("(")[0].strip())
    await wait_until(lambda: T("bc-progress-done").split(":")[0] in (coordinator.last_text or ""), timeout=30)
    report = coordinator.last_text
    assert fewer in report and not any(f": {n}" in report for n in (1, 2)), report


async def test_pause_resume_region_limit_and_enroll_button(fake_api, start_bot, database_url):
    """A coordinator of one region reaches only it; pause holds sending, resume finishes it; the
    Enroll button opens the session below the announcement. On SQLite and PostgreSQL."""
    bot = await start_bot(database_url, broadcast={"rate": 5.0, "progress_seconds": 1})
    async with bot.app.sessions() as session:
        for n in range(30):
            user = await users.create(session, 610_000 + n, "ru")
            user.consent_at, user.region = utcnow(), "KZ-61" if n < 20 else "KZ-75"
        group = await groups.create_session(
            session,
            title_kk="Топ",
            title_ru="Группа поддержки",
            capacity=5,
            starts_at=utcnow() + timedelta(days=2),
            format="online",
            language="ru",
        )
        await session.commit()
    teacher = fake_api.user(user_id=610_000, language_code="ru")  # one of the 20 in KZ-61, known to the fake
    coordinator = fake_api.user(user_id=COORDINATOR, language_code="ru")
    await agree(coordinator)
    async with bot.app.sessions() as session:
        user = await users.by_telegram_id(session, COORDINATOR)
        user.role, user.region = "coordinator", "KZ-61"
        await session.commit()

    await coordinator.send_text("/menu")
    await coordinator.press(T("menu-coord"))
    await coordinator.press(T("co-new"))
    await coordinator.send_text(TEXT)
    await coordinator.press(T("co-same-text"))
    await coordinator.press(T("co-aud-all"))  # "all" for a regional coordinator is their region
    await coordinator.press("Группа поддержки")
    assert T("co-confirm").format(count=20) in coordinator.last_text
    await coordinator.press(T("co-send").split("(")[0].strip())
    await wait_until(lambda: sum(delivered_to(fake_api, range(610_000, 610_030)).values()) >= 3)
    await coordinator.press(T("bc-pause"))
    assert T("co-status-paused") in coordinator.alerts
    await asyncio.sleep(0.5)  # a send already under way may still land
    paused_at = sum(delivered_to(fake_api, range(610_000, 610_030)).values())
    await asyncio.sleep(1.5)
    assert sum(delivered_to(fake_api, range(610_000, 610_030)).values()) == paused_at < 20
    assert T("bc-progress-paused").split(":")[0] in coordinator.last_text
    await coordinator.press(T("bc-resume"))
    await wait_until(lambda: sum(delivered_to(fake_api, range(610_000, 610_030)).values()) == 20, timeout=30)
    copies = delivered_to(fake_api, range(610_000, 610_030))
    assert set(copies) == set(range(610_000, 610_020)) and set(copies.values()) == {1}, (
        "only KZ-61, once each"
    )

    # The teacher presses Enroll under the announcement: the session opens below it, the text stays.
    announcement = teacher.last
    await teacher.press(T("bc-enroll"), message_id=announcement.message_id)
    assert TEXT in next(m for m in teacher.messages if m.message_id == announcement.message_id).text
    assert "Группа поддержки" in teacher.last_text
    await teacher.press(compile_translations()["ru"].gettext("groups-join"))
    async with bot.app.sessions() as session:
        assert await groups.taken(session, group.id) == 1


def delivered_to(fake_api, chats) -> Counter:
    chats = set(chats)
    return Counter(
        c.chat_id
        for c in fake_api.calls
        if c.method == "sendMessage"
        and c.status == 200
        and c.chat_id in chats
        and TEXT in (c.params.get("text") or "")
    )
