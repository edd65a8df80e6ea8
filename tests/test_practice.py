"""A psychologist's practice, on SQLite and PostgreSQL: notes are sealed and their author's alone,
removed by retention and by the teacher's deletion; continuity is off until the teacher allows it
and then shows exactly the earlier sessions with that psychologist; intakes; duty coverage."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text

from bot.config import BookingConfig
from bot.content.lines import lines
from bot.content.referrals import referrals
from bot.content.regions import regions
from bot.events import BookingChanged, Events
from bot.services import practice
from bot.services.bookings import Bookings
from bot.workers import practice as outbox
from storage.models import Booking, DutyHours, GroupSession, SelfCheckResult
from storage.models.practice import NOTE_SIZE, SessionNote
from storage.repo import booking as booking_repo
from storage.repo import practice as repo
from storage.repo import retention, users
from storage.repo import selfcheck as selfcheck_repo
from tests.conftest import stored_bytes
from tests.test_booking_repo import BOOKINGS, NOW, make_psychologist, make_teachers, sessions  # noqa: F401

ALMATY = ZoneInfo("Asia/Almaty")
SECRET = "Завуч Сапарова унижает меня на педсовете"
NEXT = "Дыхание 4-7-8 до следующей встречи"


async def video_group(session, facilitator_id: int, starts_at) -> GroupSession:
    group = GroupSession(
        title_kk="Топ",
        title_ru="Группа",
        starts_at=starts_at,
        capacity=5,
        format="video",
        language="ru",
        facilitator_id=facilitator_id,
    )
    session.add(group)
    await session.flush()
    return group


async def booked(session, profile, teacher, starts_at):
    slot = await booking_repo.add_slot(session, profile, starts_at, 50, "video")
    result = await BOOKINGS.book(session, teacher, slot.id, None, starts_at - timedelta(hours=3))
    assert result.booking is not None
    return result.booking


async def test_notes_are_sealed_padded_and_only_their_authors(sessions, database_url):  # noqa: F811
    async with sessions.begin() as session:
        anna = await make_psychologist(session, 100)
        olga = await make_psychologist(session, 101)
        coordinator = await users.create(session, 102, "ru")
        coordinator.role = "coordinator"
        admin = await users.create(session, 103, "ru")
        admin.role = "admin"
        (teacher,) = await make_teachers(session, 1)
        booking = await booked(session, anna, teacher, NOW + timedelta(days=1))
        mine = await practice.own_booking(session, anna.user, booking.id)
        assert mine is not None
        for stranger in (olga.user, coordinator, admin, teacher):
            assert await practice.own_booking(session, stranger, booking.id) is None, stranger.role
        body = practice.with_text(
            await practice.booking_note(session, anna.user, mine), practice.TEXT, SECRET
        )
        body = practice.with_text(body | {"k": practice.toggled([], "burnout")}, practice.NEXT, NEXT)
        await practice.save_booking_note(session, anna.user, mine, body)
        short = await booked(session, anna, teacher, NOW + timedelta(days=2))
        await practice.save_booking_note(session, anna.user, short, practice.with_text(None, "t", "ок"))
    async with sessions() as session:
        assert await practice.booking_note(session, olga.user, booking) == practice.empty_note()
        assert (await practice.booking_note(session, anna.user, booking))["t"] == SECRET
        assert await repo.booking_notes(session, olga.user.id, [booking.id, short.id]) == {}
    lengths = {len(value) for value in await _raw_bodies(sessions)}
    assert len(lengths) == 1, "a short note and a long one are stored at the same length"
    assert min(lengths) > NOTE_SIZE, "padded to the column's size"
    data = await stored_bytes(database_url)
    for clear in (SECRET, NEXT, "burnout"):
        assert clear.encode() not in data


async def _raw_bodies(sessions) -> list[str]:  # noqa: F811
    async with sessions() as session:
        return list(await session.scalars(text("SELECT body FROM session_notes")))


async def test_retention_and_the_teachers_deletion_remove_notes_intakes_and_consents(sessions):  # noqa: F811
    async with sessions.begin() as session:
        anna = await make_psychologist(session, 110)
        kept, erased = await make_teachers(session, 2)
        old = await booked(session, anna, kept, NOW - timedelta(days=400))
        recent = await booked(session, anna, kept, NOW - timedelta(days=1))
        theirs = await booked(session, anna, erased, NOW + timedelta(days=1))
        group = await video_group(session, anna.user_id, NOW - timedelta(days=400))
        for booking in (old, recent, theirs):
            await repo.save_note(session, anna.user_id, {"t": SECRET}, booking_id=booking.id)
            await repo.save_intake(
                session, booking.id, practice.intake_answers(["sleep"], SECRET, "ru", 2, True)
            )
        await repo.save_note(session, anna.user_id, {"t": SECRET}, group_id=group.id)
        await repo.set_allowed(session, erased.id, anna, True)
        await repo.set_allowed(session, kept.id, anna, True)
    async with sessions.begin() as session:
        counts = await retention.purge_before(session, NOW - timedelta(days=180))
    assert counts["session_notes"] == 2 and counts["bookings"] == 1, counts  # the old intake went with it
    async with sessions.begin() as session:
        await repo.erase_teacher(session, await session.get(type(erased), erased.id))
    async with sessions() as session:
        assert set(await session.scalars(select(SessionNote.booking_id))) == {recent.id}
        intakes = dict((await session.execute(select(Booking.id, Booking.intake))).all())
        assert intakes.keys() == {recent.id, theirs.id} and intakes[theirs.id] is None
        assert intakes[recent.id]["t"] == SECRET
        assert [await repo.allows(session, t.id, anna) for t in (kept, erased)] == [True, False]


async def test_continuity_is_off_by_default_and_then_shows_exactly_the_earlier_sessions(sessions):  # noqa: F811
    async with sessions.begin() as session:
        anna = await make_psychologist(session, 120)
        olga = await make_psychologist(session, 121)
        teacher, other = await make_teachers(session, 2)
        first = await booked(session, anna, teacher, NOW - timedelta(days=14))
        second = await booked(session, anna, teacher, NOW - timedelta(days=7))
        await booked(session, olga, teacher, NOW - timedelta(days=10))  # another psychologist's
        await booked(session, anna, other, NOW - timedelta(days=9))  # another teacher's
        cancelled = await booked(session, anna, teacher, NOW - timedelta(days=3))
        assert await BOOKINGS.cancel(session, cancelled, "teacher", NOW - timedelta(days=4))
        current = await booked(session, anna, teacher, NOW + timedelta(days=1))
        await repo.save_note(session, anna.user_id, {"t": "первая"}, booking_id=first.id)
        await repo.save_note(session, olga.user_id, {"t": "чужая"}, booking_id=second.id)
        result = SelfCheckResult(user_id=teacher.id, instrument="phq9", data={"answers": []})
        session.add(result)
        await session.flush()
        await selfcheck_repo.share(session, result.id, second.id)
    async with sessions.begin() as session:
        current = await session.get(type(current), current.id)
        assert await practice.history(session, anna.user, current) is None, "off by default"
        assert [p.id for p in await repo.psychologists_of(session, teacher.id)] == [anna.id, olga.id]
        await repo.set_allowed(session, teacher.id, anna, True)
        earlier = await practice.history(session, anna.user, current)
        assert earlier is not None
        assert [e.booking.id for e in earlier] == [first.id, second.id]
        assert [e.note for e in earlier] == [{"t": "первая"}, None], "only the author's own notes"
        assert [e.shared for e in earlier] == [[], ["phq9"]], "and the results the teacher shared"
        await repo.set_allowed(session, teacher.id, anna, False)
        assert await practice.history(session, anna.user, current) is None, "withdrawn"
        assert (await session.get(type(teacher), teacher.id)).prefs["p"] == []


async def test_intake_only_before_the_first_session_and_urgent_is_marked(sessions):  # noqa: F811
    async with sessions.begin() as session:
        anna = await make_psychologist(session, 130)
        (teacher,) = await make_teachers(session, 1)
        stranger = await users.create(session, 131, "kk")
        first = await booked(session, anna, teacher, NOW + timedelta(days=1))
        later = await booked(session, anna, teacher, NOW + timedelta(days=8))
        assert await practice.may_take_intake(session, teacher, first.id) is not None
        assert await practice.may_take_intake(session, teacher, later.id) is None, "not the first"
        assert await practice.may_take_intake(session, stranger, first.id) is None, "not theirs"
        answers = practice.intake_answers(["sleep", "nope"], "  не сплю  ", "xx", 2, False)
        assert answers == {"k": ["sleep"], "t": "не сплю", "l": "", "u": 2, "b": False}
        assert practice.is_urgent(answers) and not practice.is_urgent(answers | {"u": 1})
        await repo.save_intake(session, first.id, answers)
        load = await practice.caseload(session, anna.user, NOW + timedelta(days=1, minutes=10), ALMATY)
    assert load.urgent == {first.id}
    assert [b.id for b in load.waiting] == [first.id], "begun, not yet marked"


async def test_duty_coverage_counts_the_hours_nobody_is_on_duty(sessions):  # noqa: F811
    async with sessions.begin() as session:
        local = await make_psychologist(session, 140)
        local.user.region = "KZ-75"
        everywhere = await make_psychologist(session, 141)
        elsewhere = await make_psychologist(session, 142)
        elsewhere.user.region = "KZ-71"
        await session.flush()
        session.add_all(
            [
                DutyHours(profile_id=local.id, weekday=0, start_min=9 * 60, end_min=13 * 60),
                DutyHours(profile_id=everywhere.id, weekday=0, start_min=12 * 60 + 30, end_min=18 * 60),
                DutyHours(profile_id=elsewhere.id, weekday=0, start_min=18 * 60, end_min=24 * 60),
            ]
        )
        await session.flush()
        gaps = await practice.coverage(session, "KZ-75")
    assert gaps[0] == [(6, 9), (18, 24)]
    assert all(gaps[day] == [(6, 24)] for day in range(1, 7))
    assert sum(end - start for r in gaps.values() for start, end in r) == 7 * 18 - 9


def test_referral_data_cites_every_centre_and_line():
    data = referrals()
    assert set(data.national_lines) <= set(lines())
    for centre in data.centre:
        assert centre.region in regions() and centre.source
    assert data.where.url.startswith("https://")


async def test_a_group_note_is_its_facilitators_alone(sessions):  # noqa: F811
    async with sessions.begin() as session:
        anna = await make_psychologist(session, 150)
        olga = await make_psychologist(session, 151)
        group = await video_group(session, anna.user_id, NOW + timedelta(days=1))
        assert await practice.own_group(session, olga.user, group.id) is None
        mine = await practice.own_group(session, anna.user, group.id)
        assert mine is not None
        await practice.save_group_note(session, anna.user, mine, practice.with_text(None, "t", SECRET))
        await practice.save_group_note(session, anna.user, mine, practice.with_text(None, "n", NEXT))
        assert await practice.group_note(session, olga.user, mine) == practice.empty_note()
        assert (await practice.group_note(session, anna.user, mine))["n"] == NEXT
        assert await session.scalar(select(func.count()).select_from(SessionNote)) == 1, "replaced, not added"


async def test_a_rescheduled_booking_keeps_its_intake_and_note(sessions):  # noqa: F811
    events = Events()
    events.subscribe(BookingChanged, outbox.follow)
    bookings = Bookings(BookingConfig(), events)
    async with sessions.begin() as session:
        anna = await make_psychologist(session, 160)
        (teacher,) = await make_teachers(session, 1)
        first = await booking_repo.add_slot(session, anna, NOW + timedelta(days=1), 50, "video")
        later = await booking_repo.add_slot(session, anna, NOW + timedelta(days=3), 50, "video")
        booking = (await bookings.book(session, teacher, first.id, None, NOW)).booking
        await repo.save_intake(session, booking.id, practice.intake_answers([], SECRET, "kk", 1, False))
        await repo.save_note(session, anna.user_id, {"t": SECRET}, booking_id=booking.id)
        moved = (await bookings.reschedule(session, booking, later.id, NOW)).booking
        assert moved.intake["t"] == SECRET
        assert (await repo.booking_note(session, anna.user_id, moved.id)).body["t"] == SECRET
        assert booking.intake is None
