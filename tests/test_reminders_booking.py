"""Reminders follow bookings: booked -> sent at the offsets, cancelled (also from the reminder's own
Cancel button) -> the rest never sent, rescheduled -> sent for the new time only; the teacher's
note only in the psychologist's reminder; one rating prompt after the session."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from bot.telegram.i18n import compile_translations
from bot.workers.booking_reminders import plan_agenda
from storage.models import Reminder
from storage.models.base import utcnow
from storage.repo import booking as booking_repo
from storage.repo import groups as groups_repo
from storage.repo import reminders as reminders_repo
from storage.repo import users
from tests.test_reminders import worker_of
from tests.waiting import wait_for

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
    return [
        c.params["text"]
        for c in fake_api.calls
        if c.method == "sendMessage" and c.status == 200 and c.chat_id == chat_id and "⏰" in c.params["text"]
    ]


async def test_booking_reminders_follow_book_cancel_and_reschedule(fake_api, start_bot):
    bot = await start_bot(reminders=OFFSETS, booking={"min_notice_hours": 0})
    service, sessions = bot.app.bookings, bot.app.sessions
    kk = compile_translations()["kk"]
    now = utcnow()
    async with sessions() as session:
        _psy_a, slot_a = await make_psychologist(session, 8801, now + timedelta(seconds=8))
        _psy_b, slot_b = await make_psychologist(session, 8802, now + timedelta(seconds=8))
        _psy_c, slot_c = await make_psychologist(session, 8803, now + timedelta(seconds=8))
        _psy_d, slot_d = await make_psychologist(session, 8804, now + timedelta(seconds=11))
        t1, t2, t3 = [await make_teacher(session, n) for n in (8701, 8702, 8703)]
        booked = await service.book(session, t1, slot_a.id, NOTE, now)
        assert booked.status == "ok"
        cancelled = (await service.book(session, t2, slot_b.id, NOTE, now)).booking
        assert await service.cancel(session, cancelled, "teacher", now)
        moved = (await service.book(session, t3, slot_c.id, NOTE, now)).booking
        assert (await service.reschedule(session, moved, slot_d.id, now)).status == "ok"
        await session.commit()
        t3_code = t3.pseudonym

    # T1's first reminder (8 s - 6 s): Kazakh, the booking's own room (not the profile's permanent
    # link), Cancel / Reschedule; then T1 cancels from it.
    await wait_for(lambda: reminders_to(fake_api, 8701))
    first = reminders_to(fake_api, 8701)[0]
    assert "кеңесіңіз" in first and "https://meet.jit.si/" in first and "meet.example" not in first
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
    assert NOTE in reminders_to(fake_api, 8804)[0], "the psychologist's reminder carries the note"
    teachers_text = " ".join(" ".join(reminders_to(fake_api, chat_id)) for chat_id in (8701, 8702, 8703))
    assert "Бекжанов" not in teachers_text


async def test_psychologists_agenda_is_sent_once_however_often_it_is_planned(fake_api, start_bot):
    # Agenda time long past today: every plan from now on is due at once.
    bot = await start_bot(reminders={**OFFSETS, "agenda_time": "00:00"}, booking={"min_notice_hours": 0})
    service, sessions = bot.app.bookings, bot.app.sessions
    now = utcnow()
    async with sessions() as session:
        _psychologist, slot = await make_psychologist(
            session, 8901, now + timedelta(seconds=60), fmt="office"
        )
        teacher = await make_teacher(session, 8902)
        assert (await service.book(session, teacher, slot.id, NOTE, now)).status == "ok"
        await session.commit()
        code = teacher.pseudonym
    worker = worker_of(bot.app)
    for _ in range(3):  # the cron job of every replica, and restarts, plan the same agenda
        assert await plan_agenda(worker) == 1

    def agendas() -> list[str]:
        return [
            c.params["text"]
            for c in fake_api.calls
            if c.method == "sendMessage" and c.chat_id == 8901 and c.params["text"].startswith("🗓")
        ]

    await wait_for(agendas)
    await asyncio.sleep(1)  # a second copy would show up now
    assert len(agendas()) == 1
    local = slot.starts_at.astimezone(bot.settings.tz)
    assert f"{local:%H:%M} — {code}, очная встреча" in agendas()[0] and NOTE not in agendas()[0]


async def test_group_session_reminders_for_seated_teachers_and_the_facilitator(fake_api, start_bot):
    bot = await start_bot(reminders={**OFFSETS, "group_plan_seconds": 0.5})
    sessions = bot.app.sessions
    now = utcnow()
    async with sessions() as session:
        facilitator = await users.create(session, 8950, "kk")
        facilitator.role = "psychologist"
        deactivated = await users.create(session, 8954, "kk")
        deactivated.role = "psychologist_off"  # as storage.repo.staff.deactivate leaves them
        seated, left, other, theirs = [await make_teacher(session, n, "ru") for n in (8951, 8952, 8953, 8955)]
        fields = {
            "title_kk": "Күйзеліспен күрес",
            "title_ru": "Стресс <и> выгорание",
            "duration_min": 60,
            "capacity": 10,
            "format": "online",
            "region": None,
            "language": "ru",
            "facilitator_id": facilitator.id,
            "status": "open",
            "lock_version": 0,
            "ratings_requested": False,
            "demo": False,
        }
        group = await groups_repo.create_session(session, starts_at=now + timedelta(seconds=8), **fields)
        cancelled = await groups_repo.create_session(session, starts_at=now + timedelta(seconds=8), **fields)
        for teacher in (seated, left):
            assert (await groups_repo.enroll(session, group.id, teacher.id, now)).status == "enrolled"
        assert (await groups_repo.enroll(session, cancelled.id, other.id, now)).status == "enrolled"
        unled = await groups_repo.create_session(
            session, starts_at=now + timedelta(seconds=8), **{**fields, "facilitator_id": deactivated.id}
        )
        assert (await groups_repo.enroll(session, unled.id, theirs.id, now)).status == "enrolled"
        await session.commit()

    async def planned() -> bool:  # the planner (every 0.5 s) wrote the cancelled session's reminders
        async with sessions() as session:
            return bool(await session.scalar(select(Reminder.id).where(Reminder.user_id == other.id)))

    await wait_for(
        planned
    )  # then it is cancelled, before anything is due (the first, 6 s before the start, is 2 s away)
    async with sessions() as session:
        assert await groups_repo.cancel_session(session, cancelled.id) == [other.id]
        await session.commit()
    await wait_for(lambda: reminders_to(fake_api, 8952))  # the first reminder (6 s before), then they leave:
    # 4 s before the second, room for a loaded machine
    async with sessions() as session:
        assert (
            await groups_repo.leave(session, group.id, left.id, utcnow(), timedelta(hours=1))
        ).status == "cancelled"
        await session.commit()

    await wait_for(
        lambda: (
            len(reminders_to(fake_api, 8951)) == 2
            and reminders_to(fake_api, 8950)
            and len(reminders_to(fake_api, 8955)) == 2
        )
    )
    await asyncio.sleep(1)
    assert all("«Стресс &lt;и&gt; выгорание»" in text for text in reminders_to(fake_api, 8951))
    facilitator_texts = reminders_to(fake_api, 8950)
    # The facilitator leads both sessions, but the cancelled one is not reminded.
    assert len(facilitator_texts) == 1 and "Жазылған қатысушылар: 1" in facilitator_texts[0]
    assert len(reminders_to(fake_api, 8952)) == 1, "only the reminder sent before leaving"
    assert reminders_to(fake_api, 8953) == []
    assert reminders_to(fake_api, 8954) == [], "a deactivated facilitator is told nothing, not even the count"


async def test_psychologists_reminder_carries_the_escaped_note_decrypted_only_at_send(fake_api, start_bot):
    # Due 3 s before a start 6 s away: sent well before it would expire at the start on a slow machine.
    bot = await start_bot(
        reminders={**OFFSETS, "psychologist_offsets": ["3s"]}, booking={"min_notice_hours": 0}
    )
    now = utcnow()
    note = "<b>Бекжанов</b> & я"
    service = bot.app.bookings
    async with bot.app.sessions() as session:
        _psy, slot = await make_psychologist(session, 8811, now + timedelta(seconds=6))
        teacher = await make_teacher(session, 8711, "ru")
        assert (await service.book(session, teacher, slot.id, note, now)).status == "ok"
        await session.commit()
        params = [r.params for r in await session.scalars(select(Reminder))]
    assert params and all("Бекжанов" not in str(p) for p in params), "the note is not copied into reminders"
    await wait_for(lambda: reminders_to(fake_api, 8811))
    assert "&lt;b&gt;Бекжанов&lt;/b&gt; &amp; я" in reminders_to(fake_api, 8811)[0]
    assert all("Бекжанов" not in text for text in reminders_to(fake_api, 8711))


def rating_prompts(fake_api, chat_id: int) -> list:
    return [
        c
        for c in fake_api.calls
        if c.method == "sendMessage"
        and c.status == 200
        and c.chat_id == chat_id
        and "mb:rate" in str(c.params.get("reply_markup"))
    ]


async def test_one_feedback_request_after_the_session(fake_api, start_bot):
    """Marked attended before the request is due -> asked once at end + feedback_after; not marked
    by then -> asked at once when marked; rated already, cancelled, or no-show -> never asked."""
    bot = await start_bot(reminders={**OFFSETS, "feedback_after": "2s"}, booking={"min_notice_hours": 0})
    service, sessions = bot.app.bookings, bot.app.sessions
    ru = compile_translations()["ru"]
    now = utcnow()
    # Sessions that started 50 min ago (50-minute slots) end 1 s from now: feedback due in 3 s.
    ended = now - timedelta(minutes=50) + timedelta(seconds=1)
    booked_at = ended - timedelta(hours=1)  # as if booked an hour before the start
    async with sessions() as session:
        bookings = {}
        for _n, (psy_id, teacher_id) in enumerate([(8821, 8721), (8822, 8722), (8823, 8723), (8824, 8724)]):
            _psy, slot = await make_psychologist(session, psy_id, ended)
            teacher = await make_teacher(session, teacher_id, "ru")
            bookings[teacher_id] = (await service.book(session, teacher, slot.id, NOTE, booked_at)).booking
        _psy, future = await make_psychologist(session, 8825, now + timedelta(hours=3))
        cancelled = (
            await service.book(session, await make_teacher(session, 8725, "ru"), future.id, None, now)
        ).booking
        await session.commit()
        assert await service.mark(session, bookings[8721], "attended", utcnow())
        assert await service.mark(session, bookings[8723], "attended", utcnow())
        assert await booking_repo.rate(session, bookings[8723], 4)
        assert await service.mark(session, bookings[8724], "no_show", utcnow())
        assert await service.cancel(session, cancelled, "teacher", utcnow())
        await session.commit()
        cancelled_key = f"feedback:{cancelled.id}"
        late_id = bookings[8722].id

    await wait_for(lambda: rating_prompts(fake_api, 8721))
    assert (
        ru.gettext("teacher-notice-rate").split("{when}")[0]
        in rating_prompts(fake_api, 8721)[0].params["text"]
    )
    async with sessions() as session:  # 8722's request came due unmarked: dropped, not sent
        await wait_for_status(sessions, f"feedback:{late_id}", "cancelled")
        assert rating_prompts(fake_api, 8722) == []
        late = await booking_repo.booking_by_id(session, late_id)
        assert await service.mark(session, late, "attended", utcnow())
        await session.commit()
    await wait_for(lambda: rating_prompts(fake_api, 8722))

    teacher = fake_api.user(8721)
    await teacher.press("⭐⭐⭐⭐⭐")
    assert ru.gettext("rate-thanks-comment").split("!")[0] in teacher.last_text
    await asyncio.sleep(1)  # a second prompt would show up now
    assert [len(rating_prompts(fake_api, n)) for n in (8721, 8722, 8723, 8724, 8725)] == [1, 1, 0, 0, 0]
    async with sessions() as session:
        assert (await booking_repo.booking_by_id(session, bookings[8721].id)).rating == 5
        assert (await reminders_repo.by_key(session, cancelled_key)).status == "cancelled"
    assert not fake_api.violations


async def wait_for_status(sessions, key: str, status: str) -> None:
    async def reached() -> bool:
        async with sessions() as session:
            reminder = await reminders_repo.by_key(session, key)
            return reminder is not None and reminder.status == status

    deadline = asyncio.get_running_loop().time() + 20
    while not await reached():
        assert asyncio.get_running_loop().time() < deadline, f"{key} never became {status}"
        await asyncio.sleep(0.1)
