"""Reminders follow bookings: booked -> sent at the offsets, cancelled (also from the reminder's own
Cancel button) -> the rest never sent, rescheduled -> sent for the new time only; never a note."""
from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.booking_reminders import plan_agenda
from bot.i18n import compile_translations
from storage.models.base import utcnow
from storage.repo import booking as booking_repo
from storage.repo import groups as groups_repo
from storage.repo import users
from tests.test_reminders import worker_of

NOTE = "Директор Бекжанов кричит на меня"
LINK = "https://meet.example/room?a=1&b=2"
OFFSETS = {"teacher_offsets": ["6s", "2s"], "psychologist_offsets": ["2s"], "poll_seconds": 60}


async def make_psychologist(session, telegram_id: int, starts_at, fmt: str = "video"):
    user = await users.create(session, telegram_id, "ru")
    user.role = "psychologist"
    profile = await booking_repo.ensure_profile(session, user)
    profile.display_name, profile.languages, profile.formats = "Психолог", "kk,ru", fmt
    profile.video_link, profile.published = LINK, True
    slot = await booking_repo.add_slot(session, profile, starts_at, 50, fmt)
    return user, slot


async def make_teacher(session, telegram_id: int, language: str = "kk"):
    teacher = await users.create(session, telegram_id, language)
    teacher.consent_at = utcnow()
    return teacher


def reminders_to(fake_api, chat_id: int) -> list[str]:
    return [c.params["text"] for c in fake_api.calls
            if c.method == "sendMessage" and c.status == 200 and c.chat_id == chat_id and "⏰" in c.params["text"]]


async def wait_for(condition, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_booking_reminders_follow_book_cancel_and_reschedule(fake_api, start_bot):
    bot = await start_bot(reminders=OFFSETS, booking={"min_notice_hours": 0})
    rules, sessions = bot.settings.booking, bot.app.sessions
    kk = compile_translations()["kk"]
    now = utcnow()
    async with sessions() as session:
        psy_a, slot_a = await make_psychologist(session, 8801, now + timedelta(seconds=8))
        psy_b, slot_b = await make_psychologist(session, 8802, now + timedelta(seconds=8))
        psy_c, slot_c = await make_psychologist(session, 8803, now + timedelta(seconds=8))
        psy_d, slot_d = await make_psychologist(session, 8804, now + timedelta(seconds=11))
        t1, t2, t3 = [await make_teacher(session, n) for n in (8701, 8702, 8703)]
        booked = await booking_repo.book(session, t1, slot_a.id, NOTE, rules, now)
        assert booked.status == "ok"
        cancelled = (await booking_repo.book(session, t2, slot_b.id, NOTE, rules, now)).booking
        assert await booking_repo.cancel(session, cancelled, "teacher", rules, now)
        moved = (await booking_repo.book(session, t3, slot_c.id, NOTE, rules, now)).booking
        assert (await booking_repo.reschedule(session, moved, slot_d.id, rules, now)).status == "ok"
        await session.commit()
        t3_code = t3.pseudonym

    # T1's first reminder (8 s - 6 s): Kazakh, the link, Cancel / Reschedule; then T1 cancels from it.
    await wait_for(lambda: reminders_to(fake_api, 8701))
    first = reminders_to(fake_api, 8701)[0]
    assert "кеңесіңіз" in first and "Сілтеме: https://meet.example/room?a=1&amp;b=2" in first
    teacher = fake_api.user(8701)
    await teacher.press(kk.gettext("rem-cancel"))
    await teacher.press(kk.gettext("mine-cancel-yes"))

    # T3's booking moved from C (8 s) to D (11 s): reminders at 5 s and 9 s, P-D's at 9 s.
    await wait_for(lambda: len(reminders_to(fake_api, 8703)) == 2 and reminders_to(fake_api, 8804))
    await asyncio.sleep(1.5)  # past C's and A's remaining reminder times
    local_d = slot_d.starts_at.astimezone(bot.settings.tz)
    assert all(f"{local_d:%H:%M}" in text for text in reminders_to(fake_api, 8703))
    assert t3_code in reminders_to(fake_api, 8804)[0], "the psychologist sees the teacher's code"
    assert len(reminders_to(fake_api, 8701)) == 1, "cancelled from the first reminder: no second one"
    for chat_id in (8801, 8702, 8802, 8803):
        assert reminders_to(fake_api, chat_id) == [], chat_id
    every_text = " ".join(c.params.get("text", "") for c in fake_api.calls if c.method == "sendMessage")
    assert NOTE not in every_text and "Бекжанов" not in every_text


async def test_psychologists_agenda_is_sent_once_however_often_it_is_planned(fake_api, start_bot):
    # Agenda time long past today: every plan from now on is due at once.
    bot = await start_bot(reminders={**OFFSETS, "agenda_time": "00:00"}, booking={"min_notice_hours": 0})
    rules, sessions = bot.settings.booking, bot.app.sessions
    now = utcnow()
    async with sessions() as session:
        psychologist, slot = await make_psychologist(session, 8901, now + timedelta(seconds=60), fmt="office")
        teacher = await make_teacher(session, 8902)
        assert (await booking_repo.book(session, teacher, slot.id, NOTE, rules, now)).status == "ok"
        await session.commit()
        code = teacher.pseudonym
    worker = worker_of(bot.app)
    for _ in range(3):  # the cron job of every replica, and restarts, plan the same agenda
        assert await plan_agenda(worker) == 1

    def agendas() -> list[str]:
        return [c.params["text"] for c in fake_api.calls
                if c.method == "sendMessage" and c.chat_id == 8901 and c.params["text"].startswith("🗓")]

    await wait_for(agendas)
    await asyncio.sleep(1)  # a second copy would show up now
    assert len(agendas()) == 1
    local = slot.starts_at.astimezone(bot.settings.tz)
    assert f"{local:%H:%M} — {code}, очная встреча" in agendas()[0] and NOTE not in agendas()[0]


async def test_group_session_reminders_for_seated_teachers_and_the_facilitator(fake_api, start_bot):
    bot = await start_bot(reminders={**OFFSETS, "teacher_offsets": ["4s", "2s"], "group_plan_seconds": 0.5})
    sessions = bot.app.sessions
    now = utcnow()
    async with sessions() as session:
        facilitator = await users.create(session, 8950, "kk")
        facilitator.role = "psychologist"
        seated, left, other = [await make_teacher(session, n, "ru") for n in (8951, 8952, 8953)]
        fields = dict(title_kk="Күйзеліспен күрес", title_ru="Стресс <и> выгорание", duration_min=60, capacity=10,
                      format="online", region=None, language="ru", facilitator_id=facilitator.id, status="open",
                      lock_version=0, ratings_requested=False, demo=False)
        group = await groups_repo.create_session(session, starts_at=now + timedelta(seconds=6), **fields)
        cancelled = await groups_repo.create_session(session, starts_at=now + timedelta(seconds=6), **fields)
        for teacher in (seated, left):
            assert (await groups_repo.enroll(session, group.id, teacher.id, now)).status == "enrolled"
        assert (await groups_repo.enroll(session, cancelled.id, other.id, now)).status == "enrolled"
        await session.commit()
    await asyncio.sleep(1)  # planned by now (every 0.5 s); the session is cancelled before anything is due
    async with sessions() as session:
        assert await groups_repo.cancel_session(session, cancelled.id) == [other.id]
        await session.commit()
    await wait_for(lambda: reminders_to(fake_api, 8952))  # the first reminder (4 s before), then they leave
    async with sessions() as session:
        assert (await groups_repo.leave(session, group.id, left.id, utcnow(), timedelta(hours=1))).status == "cancelled"
        await session.commit()

    await wait_for(lambda: len(reminders_to(fake_api, 8951)) == 2 and reminders_to(fake_api, 8950))
    await asyncio.sleep(1)
    assert all("«Стресс &lt;и&gt; выгорание»" in text for text in reminders_to(fake_api, 8951))
    facilitator_texts = reminders_to(fake_api, 8950)
    # The facilitator leads both sessions, but the cancelled one is not reminded.
    assert len(facilitator_texts) == 1 and "Жазылған қатысушылар: 1" in facilitator_texts[0]
    assert len(reminders_to(fake_api, 8952)) == 1, "only the reminder sent before leaving"
    assert reminders_to(fake_api, 8953) == []
