"""Anonymous chat storage on SQLite and PostgreSQL: races have exactly one winner."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from storage import db
from storage.models import AnonQuestion, ChatSession
from storage.models.base import utcnow
from storage.repo import chat as repo
from storage.repo import users

RACERS = 8


async def _setup(database_url: str):
    engine = db.create_engine(database_url)
    await db.upgrade(engine)
    sessions = db.session_factory(engine)
    async with sessions() as session:
        teacher = await users.create(session, 1, "kk")
        teacher.region = "KZ-61"
        psychologists = []
        for number in range(RACERS):
            person = await users.create(session, 100 + number, "ru")
            person.role, person.consent_at = "psychologist", utcnow()
            psychologists.append(person)
        await session.commit()
    return engine, sessions, teacher, psychologists


async def test_exactly_one_psychologist_takes_a_question(database_url):
    engine, sessions, teacher, psychologists = await _setup(database_url)
    try:
        async with sessions() as session:
            question = await repo.ask(session, teacher, message_id=5, urgent=True)
            await session.commit()

        async def take(psychologist) -> bool:
            async with sessions() as session:
                won = await repo.take(session, question.id, psychologist)
                await session.commit()
                return won

        results = await asyncio.gather(*(take(p) for p in psychologists))
        assert sum(results) == 1
        winner = psychologists[results.index(True)]
        async with sessions() as session:
            stored = await session.get(AnonQuestion, question.id)
            assert (stored.status, stored.psychologist_id) == ("taken", winner.id)
            assert await repo.open_questions(session, "KZ-61") == []
    finally:
        await engine.dispose()


async def test_chat_opens_and_closes_once_and_one_chat_per_booking(database_url):
    engine, sessions, teacher, psychologists = await _setup(database_url)
    try:
        now = utcnow()
        async with sessions() as session:
            chat = await repo.upsert_for_booking(
                session, 3, teacher.id, psychologists[0].id, now, now + timedelta(hours=1)
            )
            moved = await repo.upsert_for_booking(
                session, 3, teacher.id, psychologists[1].id, now, now + timedelta(hours=2)
            )
            assert moved.id == chat.id and moved.psychologist_id == psychologists[1].id
            await session.commit()

        async def step(action) -> bool:
            async with sessions() as session:
                done = await action(session, chat.id)
                await session.commit()
                return done

        assert sum(await asyncio.gather(*(step(repo.mark_open) for _ in range(4)))) == 1
        async with sessions() as session:
            assert (await repo.active_for(session, teacher.id)).id == chat.id
            assert await repo.psychologist_busy(session, psychologists[1].id)
        assert sum(await asyncio.gather(*(step(repo.mark_closed) for _ in range(4)))) == 1
        async with sessions() as session:
            assert await repo.active_for(session, teacher.id) is None
            assert await repo.pending(session) == []
    finally:
        await engine.dispose()


async def test_erasing_a_psychologist_returns_their_questions_to_the_queue(database_url):
    engine, sessions, teacher, psychologists = await _setup(database_url)
    try:
        async with sessions() as session:
            question = await repo.ask(session, teacher, message_id=9, urgent=False)
            now = utcnow()
            await repo.create_session(session, teacher.id, psychologists[0].id, now, now + timedelta(hours=1))
            await session.commit()
        async with sessions() as session:
            assert await repo.take(session, question.id, psychologists[0])
            await repo.mark_open(session, (await session.scalar(select(ChatSession))).id)
            await session.commit()
        async with sessions() as session:
            psychologist = await session.get(type(teacher), psychologists[0].id)
            told = await repo.erase_user(session, psychologist)
            await users.delete_user(session, psychologist, [])
            await session.commit()
            assert [person.id for person in told] == [teacher.id]
        async with sessions() as session:
            stored = await session.get(AnonQuestion, question.id)
            assert (stored.status, stored.psychologist_id) == ("open", None)
            assert await session.scalar(select(ChatSession)) is None
    finally:
        await engine.dispose()


async def test_a_psychologist_takes_only_the_questions_they_may_see(database_url):
    """The queue's rule holds for "take" too: the psychologist's region, unassigned questions, and
    those of a region nobody serves (everyone hears of those); a forged id from elsewhere takes nothing."""
    engine = db.create_engine(database_url)
    await db.upgrade(engine)
    sessions = db.session_factory(engine)
    try:
        async with sessions() as session:
            people = {}
            for number, (name, region) in enumerate(
                [
                    ("teacher", "KZ-61"),
                    ("lonely", "KZ-55"),
                    ("nowhere", None),
                    ("local", "KZ-61"),
                    ("far", "KZ-75"),
                ]
            ):
                person = await users.create(session, 200 + number, "ru")
                person.region, person.consent_at = region, utcnow()
                if name in ("local", "far"):
                    person.role = "psychologist"
                people[name] = person
            await session.flush()
            here = await repo.ask(session, people["teacher"], message_id=1, urgent=False)
            unserved = await repo.ask(session, people["lonely"], message_id=2, urgent=False)
            unassigned = await repo.ask(session, people["nowhere"], message_id=3, urgent=False)
            await session.commit()
        local, far = people["local"], people["far"]

        async with sessions() as session:
            assert {q.id for q in await repo.open_questions(session, far.region)} == {
                unserved.id,
                unassigned.id,
            }
            assert {p.id for p in await repo.psychologists_for(session, "KZ-55")} == {local.id, far.id}
            assert not await repo.take(session, here.id, far), "another region's question, pressed by its id"
            await session.commit()
        async with sessions() as session:
            stored = await session.get(AnonQuestion, here.id)
            assert (stored.status, stored.psychologist_id) == ("open", None)
            assert await repo.take(session, unserved.id, far), "nobody serves KZ-55: everyone may take it"
            assert await repo.take(session, here.id, local)
            await session.commit()

        # Once someone serves every region, a region without its own psychologist is no longer everyone's.
        async with sessions() as session:
            everywhere = await users.create(session, 300, "kk")
            everywhere.role, everywhere.consent_at = "psychologist", utcnow()
            later = await repo.ask(
                session, await session.get(type(far), people["lonely"].id), message_id=4, urgent=False
            )
            await session.commit()
        async with sessions() as session:
            assert [q.id for q in await repo.open_questions(session, far.region)] == [unassigned.id]
            assert not await repo.take(session, later.id, far)
            assert [q.id for q in await repo.open_questions(session, None)] == [unassigned.id, later.id]
            assert await repo.take(session, later.id, everywhere)
            await session.commit()
    finally:
        await engine.dispose()
