"""Staff administration through the fake Bot API: a coordinator lists the psychologists of their
region with their load, deactivates one (free slots hidden, bookings ahead released and their
teachers offered a new time, the psychologist told, the cabinet closed) and reactivates them;
every action in the audit log; forged buttons from others refused. In Kazakh and Russian."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.config import BookingConfig
from bot.events import Events
from bot.services.bookings import Bookings
from bot.services.staff import deactivate
from bot.telegram.callbacks import Ask, Group, Menu, Staff
from bot.telegram.i18n import compile_translations
from storage import db
from storage.models import AnonQuestion, AuditEntry, Booking, ChatSession
from storage.models.base import utcnow
from storage.repo import booking as booking_repo
from storage.repo import chat as chat_repo
from storage.repo import groups, staff, users
from tests.test_chat_e2e import copies_to, eventually, texts
from tests.test_coordinator_stats import OTHER, REGION, agree, book, make_psychologist, make_user

TRANSLATIONS = compile_translations()
COORDINATOR, TEACHER, PSYCHOLOGIST, FAR_PSYCHOLOGIST = 7200, 7201, 7202, 7203


async def free_profiles(bot) -> set[int]:
    """Psychologists whose free video slots teachers are offered now."""
    async with bot.app.sessions() as session:
        slots = await bot.app.bookings.free_slots(session, booking_repo.Filters("video"), utcnow())
        return {slot.psychologist_id for slot in slots}


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_deactivate_and_reactivate_a_psychologist(fake_api, start_bot, lang):
    t = TRANSLATIONS[lang].gettext
    bot = await start_bot()
    coordinator = fake_api.user(user_id=COORDINATOR, language_code=lang)
    teacher = fake_api.user(user_id=TEACHER, language_code=lang)
    psychologist = fake_api.user(user_id=PSYCHOLOGIST, language_code=lang)
    for person in (coordinator, teacher):
        await agree(person, lang)
    async with bot.app.sessions() as session:
        me = await users.by_telegram_id(session, COORDINATOR)
        me.role, me.region = "coordinator", REGION
        near = await make_psychologist(session, PSYCHOLOGIST, "Айгүл П.")
        near.user.language = lang
        far = await make_psychologist(session, FAR_PSYCHOLOGIST, "Far Away", region=OTHER)
        booked = await book(
            session, near, await users.by_telegram_id(session, TEACHER), 48, "video", "booked"
        )
        await book(session, near, await make_user(session, 730_000, REGION), 72, "video", "cancelled")
        await book(session, far, await make_user(session, 730_001, OTHER), 50, "video", "cancelled")
        near_id, far_id, booking_id, pseudonym = near.id, far.id, booked.id, me.pseudonym
        await session.commit()
    assert near_id in await free_profiles(bot)
    await psychologist.send_text("/start")  # their own "/" menu, with the question queue
    assert "questions" in fake_api.chat_commands(PSYCHOLOGIST)

    # The list: only this region's psychologist, with their load.
    await coordinator.send_text("/menu")
    await coordinator.press(t("menu-coord"))
    await coordinator.press(t("sa-open"))
    assert (
        t("sa-list")
        .format(region="Түркістан облысы" if lang == "kk" else "Туркестанская область", count=1)
        .replace("<b>", "")
        .replace("</b>", "")
        == coordinator.last_text
    )
    assert not any("Far Away" in b for b in coordinator.last.buttons)
    await coordinator.press("Айгүл П.")
    view = coordinator.last_text
    assert "Айгүл П." in view and t("sa-status-on") in view

    # Another region's psychologist, forged: not found.
    await coordinator.press_data(Staff(a="offok", id=far_id).pack())
    assert t("sa-not-found") in coordinator.alerts
    assert "Far Away" not in coordinator.last_text, "back to the list, nothing of the other region shown"
    await coordinator.press("Айгүл П.")

    # Deactivate: asked first with the number of bookings ahead, then done.
    await coordinator.press(t("sa-off"))
    assert t("sa-off-ask").format(name="Айгүл П.", count=1) in coordinator.last_text
    await coordinator.press(t("sa-off-confirm"))
    assert t("sa-off-done").format(count=1) in coordinator.alerts
    assert t("sa-status-off") in coordinator.last_text
    async with bot.app.sessions() as session:
        assert (await session.get(Booking, booking_id)).state == "cancelled"
        actions = (
            await session.execute(select(AuditEntry.actor, AuditEntry.action, AuditEntry.target_id))
        ).all()
        assert (pseudonym, "psychologist_deactivated", near_id) in actions
    assert near_id not in await free_profiles(bot), "their free slots are hidden"
    notice = t("teacher-notice-psy_off").split("}", 1)[1].split("\n")[0]  # the psychologist left
    # With it the calendar's cancellation (tests/test_sessions_e2e.py), in either order.
    told = [m for m in teacher.messages if notice in (m.text or "")]
    assert len(told) == 1 and t("book-again") in told[0].buttons, "offered a new time"
    assert t("sa-you-off") in psychologist.last_text
    assert fake_api.chat_commands(PSYCHOLOGIST) is None, "the everyone's menu again"
    # The cabinet is closed to them now: an old button is refused.
    await psychologist.press_data(Menu(item="psy").pack())
    assert t("role-refused") in psychologist.alerts

    # Reactivate.
    await coordinator.press(t("sa-on"))
    assert t("sa-on-done") in coordinator.alerts and t("sa-status-on") in coordinator.last_text
    assert near_id in await free_profiles(bot)
    assert t("sa-you-on") in psychologist.last_text
    assert "questions" in fake_api.chat_commands(PSYCHOLOGIST)
    async with bot.app.sessions() as session:
        actions = (await session.execute(select(AuditEntry.action, AuditEntry.target_type))).all()
        assert ("psychologist_reactivated", "psychologist_profile") in actions
        assert (await users.by_telegram_id(session, PSYCHOLOGIST)).role == "psychologist"


async def test_forged_staff_buttons_are_refused(fake_api, start_bot, database_url):
    t = TRANSLATIONS["ru"].gettext
    bot = await start_bot(database_url)
    teacher = fake_api.user(user_id=TEACHER, language_code="ru")
    psychologist = fake_api.user(user_id=PSYCHOLOGIST, language_code="ru")
    await agree(teacher, "ru")
    async with bot.app.sessions() as session:
        profile = await make_psychologist(session, PSYCHOLOGIST, "Айгүл П.")
        profile_id = profile.id
        await session.commit()
    for person in (teacher, psychologist):
        await person.send_text("/menu")
        for action in ("list", "view", "off", "offok", "on"):
            await person.press_data(Staff(a=action, id=profile_id).pack())
        assert person.alerts.count(t("role-refused")) == 5
    async with bot.app.sessions() as session:
        assert (await users.by_telegram_id(session, PSYCHOLOGIST)).role == "psychologist"
        assert (await session.scalars(select(AuditEntry))).all() == []


async def test_deactivation_takes_back_everything_the_psychologist_held(fake_api, start_bot):
    """Deactivated mid-work: the question they took goes back to the queue and the region's other
    psychologist hears of it; their live chat and their planned one end, each side told in their own
    language; nothing the teacher writes reaches them any more, and their group session's list of
    participants is closed to them."""
    kk, ru = TRANSLATIONS["kk"].gettext, TRANSLATIONS["ru"].gettext
    bot = await start_bot()
    coordinator = fake_api.user(user_id=COORDINATOR, language_code="ru")
    teacher = fake_api.user(user_id=TEACHER, language_code="kk")
    psychologist = fake_api.user(user_id=PSYCHOLOGIST, language_code="ru")
    colleague = fake_api.user(user_id=FAR_PSYCHOLOGIST, language_code="kk")
    await agree(coordinator, "ru")
    await agree(teacher, "kk")
    async with bot.app.sessions() as session:
        me = await users.by_telegram_id(session, COORDINATOR)
        me.role, me.region = "coordinator", REGION
        me_teacher = await users.by_telegram_id(session, TEACHER)
        me_teacher.region = REGION
        profile = await make_psychologist(session, PSYCHOLOGIST, "Айгүл П.")
        (await make_psychologist(session, FAR_PSYCHOLOGIST, "Әсел Б.")).user.language = "kk"
        group = await groups.create_session(
            session,
            title_kk="Күйзеліс",
            title_ru="Стресс",
            starts_at=utcnow() + timedelta(days=2),
            capacity=5,
            format="online",
            region=None,
            language="kk",
            facilitator_id=profile.user_id,
        )
        await groups.enroll(session, group.id, me_teacher.id, utcnow())
        later = utcnow() + timedelta(hours=5)
        planned = await chat_repo.create_session(
            session, me_teacher.id, profile.user_id, later, later + timedelta(hours=1)
        )
        code, group_id, planned_id = me_teacher.pseudonym, group.id, planned.id
        await session.commit()
    await psychologist.send_text("/menu")
    await psychologist.press_data(Group(a="who", s=group_id).pack())
    assert code in psychologist.last_text, "while active, the facilitator sees who comes"

    # Two questions: the psychologist takes both, answers the second and continues it in a live chat.
    for text in ("Бірінші сұрақ", "Екінші сұрақ"):
        await teacher.send_text("/menu")
        await teacher.press_data(Menu(item="ask").pack())
        await teacher.send_text(text)
        await eventually(
            lambda text=text: len(texts(colleague)) == 1 + (text == "Екінші сұрақ"),
            "both psychologists are told",
        )
        await psychologist.press(ru("ask-take"))
        assert psychologist.messages[-1].text == text
    async with bot.app.sessions() as session:
        first, second = (q.id for q in await session.scalars(select(AnonQuestion).order_by(AnonQuestion.id)))
    await psychologist.send_text("Жауап")
    await eventually(lambda: any(m.text == "Жауап" for m in teacher.messages), "the answer arrives")
    answer = next(m.message_id for m in teacher.messages if m.text == "Жауап")
    await psychologist.press(ru("ask-live"))
    await eventually(
        lambda: any(kk("ask-live-accept") in " ".join(m.buttons) for m in teacher.messages), "the invitation"
    )
    await teacher.press(kk("ask-live-accept"))
    await eventually(
        lambda: any(ru("chat-enter") in " ".join(m.buttons) for m in psychologist.messages), "the chat opens"
    )
    await teacher.send_text("Чаттағы сөз")
    assert psychologist.last.text == "Чаттағы сөз"

    await coordinator.send_text("/menu")
    await coordinator.press(ru("menu-coord"))
    await coordinator.press(ru("sa-open"))
    await coordinator.press("Айгүл П.")
    await coordinator.press(ru("sa-off"))
    await coordinator.press(ru("sa-off-confirm"))
    assert ru("sa-status-off") in coordinator.last_text

    # The live chat ended, each side told in their language; the planned one is called off.
    assert ru("chat-ended-psy").format(code=code) in texts(psychologist)
    assert any(kk("chat-ended-teacher").split("\n")[0] in t for t in texts(teacher))
    assert kk("chat-rate-1") in " ".join(teacher.messages[-2].buttons + teacher.messages[-1].buttons)
    async with bot.app.sessions() as session:
        starts = (await session.get(ChatSession, planned_id)).starts_at
        assert {c.status for c in await session.scalars(select(ChatSession))} == {"closed"}
        questions = {q.id: (q.status, q.psychologist_id) for q in await session.scalars(select(AnonQuestion))}
    assert kk("chat-called-off").format(time=starts.astimezone(bot.settings.tz).strftime("%H:%M")) in texts(
        teacher
    )
    # The question taken but not answered is back in the queue, and the colleague is told as of a new one.
    assert questions[first] == ("open", None) and questions[second][0] == "answered"
    title = kk("ask-question-title").format(number=first, code=code) + "\n" + kk("ask-language-kk")
    assert [t for t in texts(colleague) if t == title] == [title, title]
    assert psychologist.last_text == ru("sa-you-off"), "the psychologist is told last, with the reason"

    # Nothing reaches them any more: a chat message, a reply to their answer.
    copies = len(copies_to(fake_api, psychologist.id))
    await teacher.send_text("Тағы бір сөз")
    await teacher.press(kk("ask-reply"), message_id=answer)
    assert kk("ask-reply-psy-gone") in teacher.alerts
    assert len(copies_to(fake_api, psychologist.id)) == copies
    # Nothing is open to them: the question, the queue, their group session's participants.
    seen = len(psychologist.messages)
    for data in (
        Ask(action="take", id=first),
        Ask(action="queue"),
        Group(a="led"),
        Group(a="who", s=group_id),
    ):
        await psychologist.press_data(data.pack())
    assert psychologist.alerts.count(ru("role-refused")) == 4
    await psychologist.press_data(Group(a="view", s=group_id).pack())
    assert ru("groups-who") not in psychologist.last.buttons and ru("groups-led") not in " ".join(
        psychologist.last.buttons
    )
    assert not any(code in t for t in texts(psychologist)[seen:])
    # The colleague takes the question back from the queue; the session they do not lead stays closed to them.
    await colleague.press(kk("ask-take"))
    assert colleague.last.text == "Бірінші сұрақ"
    await colleague.press_data(Group(a="who", s=group_id).pack())
    assert kk("groups-not-yours") in colleague.alerts and code not in colleague.last_text


async def test_deactivation_releases_questions_and_chats(database_url):
    """In the repository, on both databases: one transaction unpublishes, cancels the bookings ahead,
    puts the questions taken but not answered back in the queue and ends every planned or open chat."""
    engine = db.create_engine(database_url)
    await db.upgrade(engine)
    sessions = db.session_factory(engine)
    bookings = Bookings(BookingConfig(), Events())
    try:
        async with sessions() as session:
            profile = await make_psychologist(session, PSYCHOLOGIST, "Айгүл П.")
            colleague = await make_user(session, FAR_PSYCHOLOGIST, REGION, "psychologist")
            teacher = await make_user(session, TEACHER, REGION)
            psychologist = profile.user
            booked = await book(session, profile, teacher, 48, "video", "booked")
            taken, answered, waiting = [
                await chat_repo.ask(session, teacher, n, urgent=False) for n in (1, 2, 3)
            ]
            for question in (taken, answered):
                assert await chat_repo.take(session, question.id, psychologist)
            await chat_repo.mark_answered(session, answered, utcnow() + timedelta(hours=1))
            now = utcnow()
            chats = {
                state: await chat_repo.create_session(
                    session, teacher.id, psychologist.id, now, now + timedelta(hours=1)
                )
                for state in ("planned", "open", "closed")
            }
            await chat_repo.mark_open(session, chats["open"].id)
            await chat_repo.mark_closed(session, chats["closed"].id)
            others = await chat_repo.create_session(
                session, teacher.id, colleague.id, now, now + timedelta(hours=1)
            )
            await session.commit()

        async with sessions() as session:
            profile = await staff.psychologist(session, profile.id, REGION)
            released = await deactivate(session, profile, bookings, utcnow())
            assert [b.id for b in released.cancelled] == [booked.id]
            assert [q.id for q in released.requeued] == [taken.id]
            assert sorted((chat.id, was) for chat, was in released.ended) == [
                (chats["planned"].id, "planned"),
                (chats["open"].id, "open"),
            ]
            await session.commit()

        async with sessions() as session:
            questions = {
                q.id: (q.status, q.psychologist_id) for q in await session.scalars(select(AnonQuestion))
            }
            assert questions == {
                taken.id: ("open", None),
                answered.id: ("answered", psychologist.id),
                waiting.id: ("open", None),
            }
            statuses = {c.id: c.status for c in await session.scalars(select(ChatSession))}
            assert statuses == {**{chat.id: "closed" for chat in chats.values()}, others.id: "planned"}, (
                "a colleague's chat stays"
            )
            assert [p.id for p in await chat_repo.psychologists_for(session, REGION)] == [colleague.id]
            assert {q.id for q in await chat_repo.open_questions(session, REGION)} == {taken.id, waiting.id}
            stored = await staff.psychologist(session, profile.id, REGION)
            assert staff.deactivated(stored.user) and not stored.published
            assert await deactivate(session, stored, bookings, utcnow()) is None, "only once"
    finally:
        await engine.dispose()
