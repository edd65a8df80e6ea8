"""Group seats under concurrency, the waitlist and its offers, on SQLite and PostgreSQL."""

import asyncio
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.config import Settings
from bot.events import UserErased
from bot.services import groups as group_rules
from bot.telegram.i18n import build_i18n
from bot.workers import groups as group_notices
from bot.workers import notices
from bot.workers.groups import erase_user
from storage import db
from storage.models import GroupSeat, Reminder, User
from storage.models.base import utcnow
from storage.repo import broadcasts, groups, users

HOLD = timedelta(hours=2)


async def make_teachers(sessions, count: int, first: int = 10_000) -> list[int]:
    async with sessions() as session:
        ids = []
        for n in range(count):
            user = await users.create(session, first + n, "kk" if n % 2 else "ru")
            user.consent_at = utcnow()
            ids.append(user.id)
        await session.commit()
    return ids


async def make_group(sessions, capacity: int, **fields) -> int:
    async with sessions() as session:
        group = await groups.create_session(
            session,
            title_kk="Топ",
            title_ru="Группа",
            starts_at=utcnow() + timedelta(days=3),
            capacity=capacity,
            format="online",
            language="kk",
            **fields,
        )
        await session.commit()
        return group.id


async def one_seat_one_waiting(sessions) -> tuple[int, int, int]:
    """Teacher a in a group's only seat, teacher b on its waiting list."""
    a, b = await make_teachers(sessions, 2)
    group_id = await make_group(sessions, 1)
    async with sessions() as session:
        await groups.enroll(session, group_id, a, utcnow())
        await groups.enroll(session, group_id, b, utcnow())
        await session.commit()
    return a, b, group_id


async def test_fifty_teachers_into_ten_seats(database_url):
    engine = db.create_engine(database_url)
    await db.upgrade(engine)
    sessions = db.session_factory(engine)
    try:
        teachers = await make_teachers(sessions, 50)
        group_id = await make_group(sessions, 10)
        start = asyncio.Event()

        async def join(user_id: int):
            await start.wait()
            async with sessions() as session:
                change = await groups.enroll(session, group_id, user_id, utcnow())
                await session.commit()
                return user_id, change

        tasks = [asyncio.create_task(join(user_id)) for user_id in teachers]
        start.set()
        results = await asyncio.gather(*tasks)

        statuses = [change.status for _, change in results]
        assert statuses.count("enrolled") == 10
        assert statuses.count("waitlisted") == 40
        # Each teacher was told their true place, and the places are 1..40 without gaps or repeats.
        places = sorted(change.place for _, change in results if change.status == "waitlisted")
        assert places == list(range(1, 41))
        async with sessions() as session:
            seats = (await session.scalars(select(GroupSeat).where(GroupSeat.session_id == group_id))).all()
            assert len(seats) == 50
            assert await groups.taken(session, group_id) == 10
            by_user = {seat.user_id: seat for seat in seats}
            line = sorted((s for s in seats if s.status == "waitlisted"), key=lambda s: s.position)
            # In order: everyone seated arrived before everyone waiting; places follow arrival.
            assert max(s.position for s in seats if s.status == "enrolled") < line[0].position
            told = {user_id: change.place for user_id, change in results if change.status == "waitlisted"}
            assert [told[s.user_id] for s in line] == list(range(1, 41))
            assert all(by_user[u].status == "waitlisted" for u in told)

        # Pressing Join again changes nothing.
        async with sessions() as session:
            again = await groups.enroll(session, group_id, line[5].user_id, utcnow())
            assert (again.status, again.place) == ("waitlisted", 6)
    finally:
        await engine.dispose()


async def test_waitlist_promotion_with_hold_expiry(database_url):
    engine = db.create_engine(database_url)
    await db.upgrade(engine)
    sessions = db.session_factory(engine)
    try:
        a, b, c, d = await make_teachers(sessions, 4)
        group_id = await make_group(sessions, 1)
        now = utcnow()
        async with sessions() as session:
            assert (await groups.enroll(session, group_id, a, now)).status == "enrolled"
            assert (await groups.enroll(session, group_id, b, now)).place == 1
            assert (await groups.enroll(session, group_id, c, now)).place == 2
            assert (await groups.enroll(session, group_id, d, now)).place == 3
            await session.commit()

        # A leaves: B (first in line) is offered the seat, held for two hours; nobody else moves up.
        async with sessions() as session:
            change = await groups.leave(session, group_id, a, now, HOLD)
            await session.commit()
        assert [(o.user_id, o.expires_at) for o in change.offers] == [(b, now + HOLD)]
        async with sessions() as session:
            # The held seat counts as taken: a newcomer goes to the waitlist.
            assert await groups.taken(session, group_id) == 1
            assert (await groups.seat_of(session, group_id, c)).status == "waitlisted"
            # Nothing expires before the hold ends.
            assert await groups.expire_offers(session, now + HOLD - timedelta(seconds=1), HOLD) == ([], [])

        # B lets the offer expire: the sweep passes it to C.
        later = now + HOLD + timedelta(seconds=1)
        async with sessions() as session:
            lapsed, offers = await groups.expire_offers(session, later, HOLD)
            await session.commit()
        assert lapsed == [(group_id, b)] and [o.user_id for o in offers] == [c]
        async with sessions() as session:
            # B pressing Accept too late is told so and gets nothing.
            assert (await groups.accept(session, group_id, b, later, HOLD)).status == "expired"
            # D moved up to first place.
            assert await groups.waitlist_place(session, await groups.seat_of(session, group_id, d)) == 1
            # C declines: D is offered, then accepts in time.
            change = await groups.leave(session, group_id, c, later, HOLD)
            assert [o.user_id for o in change.offers] == [d]
            assert (
                await groups.accept(session, group_id, d, later + timedelta(minutes=5), HOLD)
            ).status == "enrolled"
            await session.commit()
            assert await groups.taken(session, group_id) == 1
            assert await groups.waitlist_length(session, group_id) == 0

        # Cancelling the whole session names everyone still in it, seated or waiting.
        async with sessions() as session:
            assert (await groups.enroll(session, group_id, a, later)).status == "waitlisted"
            assert sorted(await groups.cancel_session(session, group_id)) == sorted([a, d])
            assert (await groups.enroll(session, group_id, b, later)).status == "closed"
            await session.commit()
    finally:
        await engine.dispose()


async def test_two_workers_never_claim_the_same_recipient(database_url):
    engine = db.create_engine(database_url)
    await db.upgrade(engine)
    sessions = db.session_factory(engine)
    try:
        teachers = await make_teachers(sessions, 60)
        async with sessions() as session:
            draft = await broadcasts.create_draft(
                session,
                created_by=teachers[0],
                text_kk="Сәлем",
                text_ru="Привет",
                audience="all",
                group_id=None,
                language="ru",
            )
            assert await broadcasts.start(session, draft, None, utcnow(), 1, 1) == 60
            assert await broadcasts.start(session, draft, None, utcnow(), 1, 1) is None, (
                "a second press starts nothing"
            )
            await session.commit()

        async def worker(token: str) -> list[int]:
            taken = []
            while True:
                async with sessions() as session:
                    batch = await broadcasts.claim(
                        session, draft.id, token, 7, utcnow(), timedelta(seconds=60)
                    )
                    await session.commit()
                if not batch:
                    return taken
                taken += [row.user_id for row in batch]
                async with sessions() as session:
                    for row in batch:
                        await broadcasts.finish(session, row.recipient_id, token, "sent")
                    await session.commit()

        first, second = await asyncio.gather(worker("one"), worker("two"))
        assert sorted(first + second) == sorted(teachers)
        assert not set(first) & set(second)
        async with sessions() as session:
            assert await broadcasts.counts(session, draft.id) == {"sent": 60}
            assert await broadcasts.complete_if_done(session, draft.id, utcnow())
            assert not await broadcasts.complete_if_done(session, draft.id, utcnow())
    finally:
        await engine.dispose()


async def test_a_dead_workers_claims_are_taken_over_after_the_lease(database_url):
    engine = db.create_engine(database_url)
    await db.upgrade(engine)
    sessions = db.session_factory(engine)
    try:
        teachers = await make_teachers(sessions, 6)
        lease = timedelta(seconds=60)
        now = utcnow()
        async with sessions() as session:
            draft = await broadcasts.create_draft(
                session,
                created_by=teachers[0],
                text_kk="а",
                text_ru="б",
                audience="lang-kk",
                group_id=None,
                language="kk",
            )
            assert await broadcasts.start(session, draft, None, now, 1, 1) == 3
            dead = await broadcasts.claim(session, draft.id, "dead", 2, now, lease)
            await session.commit()
        async with sessions() as session:
            # Within the lease another worker gets only the row nobody holds.
            alive = await broadcasts.claim(session, draft.id, "alive", 5, now + timedelta(seconds=30), lease)
            assert [r.recipient_id for r in alive] == [max(r.recipient_id for r in alive)] and len(alive) == 1
            # After it, the dead worker's rows are taken over, and its late results count for nothing.
            later = await broadcasts.claim(
                session, draft.id, "alive", 5, now + lease + timedelta(seconds=1), lease
            )
            assert sorted(r.recipient_id for r in later) == sorted(r.recipient_id for r in dead)
            await broadcasts.finish(session, dead[0].recipient_id, "dead", "sent")
            await session.commit()
            assert await broadcasts.counts(session, draft.id) == {"claimed": 3}
    finally:
        await engine.dispose()


async def test_deleting_my_data_frees_my_seat_for_the_next_in_line(database_url):
    engine = db.create_engine(database_url)
    await db.upgrade(engine)
    sessions = db.session_factory(engine)
    try:
        a, b, group_id = await one_seat_one_waiting(sessions)
        async with sessions() as session:
            user = await session.get(users.User, a)
            settings = Settings(telegram={"token": "1:AAE-test-token-0123456789abcdefghij"})
            await erase_user(UserErased(session, user), settings=settings)
            await users.delete_user(session, user, [])
            await session.commit()
        async with sessions() as session:
            seat = await groups.seat_of(session, group_id, b)
            assert seat.status == "offered"
            assert await groups.seat_of(session, group_id, a) is None
    finally:
        await engine.dispose()


async def test_who_may_rate_a_session_and_which_sessions_can_be_joined(database_url):
    engine = db.create_engine(database_url)
    await db.upgrade(engine)
    sessions = db.session_factory(engine)
    asked, unasked = await make_teachers(sessions, 2)
    group_id = await make_group(sessions, 5)
    async with sessions() as session:
        group = await groups.get(session, group_id)
        assert group_rules.joinable(group, utcnow())
        assert not group_rules.joinable(group, group.starts_at), "not once it has begun"
        assert not group_rules.joinable(None, utcnow())
        for user_id in (asked, unasked):
            await groups.enroll(session, group_id, user_id, utcnow())
        seat = await groups.seat_of(session, group_id, asked)
        seat.rating_asked = True
        assert not await group_rules.rate(session, group_id, asked, 6), "scores are 1-5"
        assert not await group_rules.rate(session, group_id, unasked, 5), "only those asked rate"
        assert await group_rules.rate(session, group_id, asked, 5)
        assert await groups.comment(session, group_id, asked, "спасибо")
    await engine.dispose()


async def test_group_notices_are_written_with_the_decision_and_rendered_from_the_seat_as_it_is(database_url):
    """An offer's notice commits (or rolls back) with the offer; when it is sent it describes the seat
    as it is then: once accepted, nothing is sent; a cancelled session's notice names it."""
    engine = db.create_engine(database_url)
    await db.upgrade(engine)
    sessions = db.session_factory(engine)
    i18n, tz = build_i18n("kk"), ZoneInfo("Asia/Almaty")

    async def rows() -> dict[str, Reminder]:
        async with sessions() as session:
            return {r.key: r for r in await session.scalars(select(Reminder))}

    async def rendered(key: str, user_id: int, render) -> str | None:
        async with sessions() as session:
            reminder, user = (
                await session.get(Reminder, (await rows())[key].id),
                await session.get(User, user_id),
            )
            with i18n.context(), i18n.use_locale(user.language):
                result = await render(session, reminder, user, tz)
            return result.text if result is not None else None

    try:
        a, b, group_id = await one_seat_one_waiting(sessions)
        for commit in (False, True):
            async with sessions() as session:
                change = await groups.leave(session, group_id, a, utcnow(), HOLD)
                await group_notices.offered(session, change.offers)
                await (session.commit() if commit else session.rollback())
            offer = notices.key("group-offer", f"{group_id}:{b}")
            assert (offer in await rows()) is commit, "written with the offer, or not at all"
        reminder = (await rows())[offer]
        assert (reminder.kind, reminder.user_id, reminder.params) == (
            "notice-group-offer",
            b,
            {"group": group_id},
        )
        assert reminder.expires_at is not None, "an offer's notice is moot once the hold is over"
        assert "Топ" in await rendered(offer, b, group_notices.render_offer)  # in b's language, kk
        async with sessions() as session:
            assert (await groups.accept(session, group_id, b, utcnow(), HOLD)).status == "enrolled"
            await session.commit()
        assert await rendered(offer, b, group_notices.render_offer) is None, "accepted meanwhile"

        async with sessions() as session:
            group = await groups.get(session, group_id)
            await group_notices.cancelled(session, group, await groups.cancel_session(session, group_id))
            await session.commit()
        cancelled = notices.key("group-cancelled", f"{group_id}:{b}")
        assert set(await rows()) == {offer, cancelled}
        assert "Топ" in await rendered(cancelled, b, group_notices.render_cancelled)
    finally:
        await engine.dispose()
