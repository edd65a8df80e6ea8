"""Anonymous consultations end to end through the fake Bot API server: a booked chat opens on time,
relays text, voice and photo both ways as copies with no identity, closes on time and on request;
an anonymous question is taken by exactly one psychologist; crisis phrases mark it urgent; and the
database file holds none of what was said."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select

from bot.telegram.callbacks import Ask, Menu
from bot.telegram.i18n import compile_translations
from storage.models import AnonQuestion, ChatSession, User
from storage.models.base import utcnow
from storage.repo import users
from tests.conftest import stored_bytes

TEACHER = {"user_id": 610001, "first_name": "Гүлназ", "username": "gulnaz_teacher_61", "language_code": "kk"}
PSY = {"user_id": 620001, "first_name": "Марат", "username": "marat_psy_62", "language_code": "ru"}
PSY2 = {"user_id": 620002, "first_name": "Әсел", "username": "asel_psy_62", "language_code": "kk"}
IDENTITY = [str(p[k]) for p in (TEACHER, PSY, PSY2) for k in ("user_id", "first_name", "username")]
TRANSLATIONS = compile_translations()
ENDED = TRANSLATIONS["kk"].gettext("chat-ended-teacher-booked")  # a booked chat asks nothing at its end

SECRETS = {
    "teacher_text": "Завуч Омарова снова унизила меня при всех",
    "teacher_caption": "Мой рисунок про школу номер 17",
    "psy_text": "Давайте разберём, что вы почувствовали в тот момент",
    "psy_caption": "Посмотрите на это упражнение дыхания квадратом",
    "question": "Қорқамын, кейде өмір сүргім келмейді, директор Сейітов маған айқайлайды",
    "answer": "Спасибо, что написали. Вы не одна, давайте поговорим",
    "reply": "Рахмет, маған біраз жеңіл болды",
    "live": "В живом чате проще объяснить про класс 7Б",
}


async def add_user(bot, fake_api, person: dict, role: str = "teacher", region: str | None = "KZ-61"):
    """A consented user (staff roles come from invites in real life; here straight into the database)."""
    async with bot.app.sessions() as session:
        user = await users.create(session, person["user_id"], person["language_code"])
        user.role, user.region, user.consent_at = role, region, utcnow()
        await session.commit()
    return fake_api.user(**person)


async def eventually(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Wait for something the bot does on its own clock (no timing is asserted, only that it happens)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.05)


def texts(user) -> list[str]:
    return [m.text or m.caption or "" for m in user.messages]


def copies_to(fake_api, chat_id: int) -> list:
    return [c for c in fake_api.calls if c.method == "copyMessage" and c.chat_id == chat_id and c.ok]


def assert_no_identity_leaks(fake_api, teacher, *psychologists) -> None:
    """Nothing the bot sent names a Telegram user, and nothing was forwarded (a forward shows its origin)."""
    assert not [c for c in fake_api.calls if c.method == "forwardMessage"]
    for call in fake_api.calls:
        if call.method == "getUpdates":
            continue
        sent = json.dumps(
            {k: v for k, v in call.params.items() if k not in ("chat_id", "from_chat_id")},
            ensure_ascii=False,
            default=str,
        )
        for secret in IDENTITY:
            assert secret not in sent, (call.method, secret)
    for person in (teacher, *psychologists):
        for message in person.messages:
            shown = json.dumps(message.to_api(), ensure_ascii=False)
            assert "forward_origin" not in shown and "forward_from" not in shown
            assert message.from_bot


async def database_bytes(bot) -> bytes:
    return await stored_bytes(bot.settings.database.url)


async def test_booked_chat_opens_on_time_relays_both_ways_and_ends_on_request(fake_api, start_bot):
    bot = await start_bot(chat={"grace_minutes": 0})
    teacher = await add_user(bot, fake_api, TEACHER)
    psy = await add_user(bot, fake_api, PSY, role="psychologist")
    clock = bot.app.dispatcher["chat_clock"]
    async with bot.app.sessions() as session:
        ids = {u.role: u.id for u in await session.scalars(select(User))}
        start = utcnow() + timedelta(seconds=1.5)
        chat = await clock.plan_for_booking(
            session,
            booking_id=41,
            teacher_id=ids["teacher"],
            psychologist_id=ids["psychologist"],
            starts_at=start,
            ends_at=start + timedelta(hours=1),
        )
        # The booking flow may call it again (a retry): still one chat for the booking.
        again = await clock.plan_for_booking(
            session,
            booking_id=41,
            teacher_id=ids["teacher"],
            psychologist_id=ids["psychologist"],
            starts_at=start,
            ends_at=start + timedelta(hours=1),
        )
        assert again.id == chat.id
        await session.commit()

    # Before the start: nothing is relayed, and the teacher is told when the chat opens.
    await teacher.send_text("Сәлеметсіз бе, ерте жаздым")
    assert "ашылады" in teacher.last_text
    assert not copies_to(fake_api, psy.id)

    await eventually(
        lambda: any("чат ашық" in t for t in texts(teacher)), "the teacher is told the chat opened"
    )
    opened = next(t for t in texts(teacher) if "чат ашық" in t)
    assert compile_translations()["kk"].gettext("bk-privacy-chat") in opened, (
        "where the copies stay, as booked"
    )
    await eventually(
        lambda: any("открыт" in t for t in texts(psy)), "the psychologist is told the chat opened"
    )
    assert utcnow() >= start
    code = next(u.pseudonym for u in await _users(bot) if u.role == "teacher")
    assert code in psy.last_text, "the psychologist knows the teacher by code only"

    await teacher.press("Чатқа кіру")
    assert "Чатты аяқтау" in teacher.last.buttons[0]

    # Teacher -> psychologist: text, voice, photo with a caption.
    await teacher.send_text(SECRETS["teacher_text"])
    await teacher.send_voice()
    await teacher.send_photo(caption=SECRETS["teacher_caption"])
    kinds = [m.kind for m in psy.messages[-3:]]
    assert kinds == ["text", "voice", "photo"]
    assert psy.messages[-3].text == SECRETS["teacher_text"]
    assert psy.messages[-1].caption == SECRETS["teacher_caption"]
    assert psy.messages[-2].document == b"OggS fake voice"
    # Psychologist -> teacher, the same three kinds.
    await psy.send_text(SECRETS["psy_text"])
    await psy.send_voice()
    await psy.send_photo(caption=SECRETS["psy_caption"])
    assert [m.kind for m in teacher.messages[-3:]] == ["text", "voice", "photo"]
    assert teacher.messages[-3].text == SECRETS["psy_text"]
    assert teacher.messages[-1].caption == SECRETS["psy_caption"]

    relayed = copies_to(fake_api, psy.id) + copies_to(fake_api, teacher.id)
    assert len(relayed) == 6
    for call in relayed:
        assert (
            call.params["from_chat_id"] in (teacher.id, psy.id)
            and call.params["from_chat_id"] != call.chat_id
        )
        assert call.params.get("protect_content") is True
        assert "caption" not in call.params, "the sender's own caption travels as it is"
    reactions = [c for c in fake_api.calls if c.method == "setMessageReaction"]
    assert len(reactions) == 6, "each sender sees their message was delivered"
    assert_no_identity_leaks(fake_api, teacher, psy)

    # Ended on request by the teacher: both are told; a booked chat asks nothing here, its one
    # question is the booking's star rating (tests/test_booking_sessions_e2e.py).
    await teacher.send_text("/end")
    await eventually(lambda: "завершён" in (psy.last_text or ""), "the psychologist is told the chat ended")
    assert "рақмет" in teacher.last_text.lower() and "көмектесті ме" not in teacher.last_text

    # After the end nothing is relayed any more, and the teacher is told why.
    copies = len(copies_to(fake_api, psy.id))
    await teacher.send_text("Тағы бір сөз")
    assert "аяқталып қойды" in teacher.last_text
    assert len(copies_to(fake_api, psy.id)) == copies

    async with bot.app.sessions() as session:
        stored = await session.get(ChatSession, chat.id)
        assert (stored.status, stored.rating, stored.booking_id) == ("closed", None, 41)

    await bot.stop()
    raw = await database_bytes(bot)
    for secret in [*SECRETS.values(), *IDENTITY, "Омарова"]:
        assert secret.encode() not in raw, secret


async def _users(bot) -> list[User]:
    async with bot.app.sessions() as session:
        return list(await session.scalars(select(User)))


async def test_chat_closes_on_time_and_psychologist_ends_by_button(fake_api, start_bot):
    bot = await start_bot(chat={"grace_minutes": 0})
    teacher = await add_user(bot, fake_api, TEACHER)
    psy = await add_user(bot, fake_api, PSY, role="psychologist")
    clock = bot.app.dispatcher["chat_clock"]
    ids = {u.role: u.id for u in await _users(bot)}
    now = utcnow()
    async with bot.app.sessions() as session:
        short = await clock.plan_for_booking(
            session,
            booking_id=7,
            teacher_id=ids["teacher"],
            psychologist_id=ids["psychologist"],
            starts_at=now,
            ends_at=now + timedelta(seconds=1),
        )
        await session.commit()
    await eventually(lambda: any("чат ашық" in t for t in texts(teacher)), "opened")
    await eventually(lambda: any(ENDED in t for t in texts(teacher)), "the teacher is told it closed on time")
    await eventually(
        lambda: any("завершён" in t for t in texts(psy)), "the psychologist is told it closed on time"
    )
    async with bot.app.sessions() as session:
        assert (await session.get(ChatSession, short.id)).status == "closed"
        assert (await session.get(ChatSession, short.id)).closed_at >= short.ends_at

    # A second chat, ended by the psychologist with the button on the opening message.
    async with bot.app.sessions() as session:
        later = utcnow()
        await clock.plan_for_booking(
            session,
            booking_id=8,
            teacher_id=ids["teacher"],
            psychologist_id=ids["psychologist"],
            starts_at=later,
            ends_at=later + timedelta(hours=1),
        )
        await session.commit()
    await eventually(lambda: sum("открыт" in t for t in texts(psy)) == 2, "the second chat opened")
    await psy.press("Завершить чат")
    assert "завершён" in psy.last_text
    await eventually(lambda: sum(ENDED in t for t in texts(teacher)) == 2, "the teacher is told")
    # A stale "end" button on the old message is answered, not ignored.
    stale = next(m.message_id for m in teacher.messages if "Чатты аяқтау" in " ".join(m.buttons))
    await teacher.press("Чатты аяқтау", message_id=stale)
    assert any("ашық емес" in alert for alert in teacher.alerts)
    assert_no_identity_leaks(fake_api, teacher, psy)


async def test_anonymous_question_taken_once_urgent_answered_and_continued_live(fake_api, start_bot):
    bot = await start_bot()
    teacher = await add_user(bot, fake_api, TEACHER)
    psy = await add_user(bot, fake_api, PSY, role="psychologist")
    psy2 = await add_user(bot, fake_api, PSY2, role="psychologist", region=None)

    await teacher.send_text("/menu")
    await teacher.press_data(Menu(item="ask").pack())
    assert "жасырын сұрақ" in teacher.last_text.lower()
    assert any("Шұғыл көмек" in b for b in teacher.last.buttons)
    await teacher.send_text(SECRETS["question"])
    # The crisis phrase gets the safety screen as the first reply, then the question goes on...
    replies = [m.text for m in teacher.messages[-2:]]
    assert "маңызды" in replies[0] and "150" in replies[0]
    assert "жіберілді" in replies[1]
    # ...and both psychologists (one of the region, one serving all regions) see it marked urgent.
    await eventually(lambda: psy.messages and psy2.messages, "psychologists are told")
    assert "СРОЧНО" in psy.last_text and "ШҰҒЫЛ" in psy2.last_text
    assert SECRETS["question"] not in psy.last_text, "the question itself is copied only to whoever takes it"

    # Both press "take" at once: exactly one wins.
    await asyncio.gather(psy.press("Взять вопрос"), psy2.press("Сұрақты алу"))
    winners = [p for p in (psy, psy2) if any(m.text == SECRETS["question"] for m in p.messages)]
    losers = [p for p in (psy, psy2) if p not in winners]
    assert len(winners) == 1 and len(losers) == 1
    winner, loser = winners[0], losers[0]
    assert any(("уже взял" in a) or ("алып қойды" in a) for a in loser.alerts)
    async with bot.app.sessions() as session:
        question = await session.scalar(select(AnonQuestion))
        assert question.status == "taken" and question.urgent
    await eventually(lambda: any("алды" in t for t in texts(teacher)), "the teacher hears it was taken")

    # The winner answers; the teacher gets a copy with a Reply button.
    await winner.send_text(SECRETS["answer"])
    await eventually(lambda: any(m.text == SECRETS["answer"] for m in teacher.messages), "the answer arrives")
    await teacher.press("Психологқа жауап беру")
    await teacher.send_text(SECRETS["reply"])
    assert any(m.text == SECRETS["reply"] for m in winner.messages)
    assert not any(m.text == SECRETS["reply"] for m in loser.messages)

    # The psychologist offers a live chat; the teacher accepts; it opens at once and relays.
    await winner.press(
        "чат", message_id=next(m.message_id for m in reversed(winner.messages) if m.text == SECRETS["reply"])
    )
    await eventually(
        lambda: any("чатта сөйлесуді ұсынады" in t for t in texts(teacher)), "the invitation arrives"
    )
    await teacher.press("Чатты бастау")
    await eventually(lambda: any("чат ашық" in t for t in texts(teacher)), "the live chat opened")
    await teacher.send_text(SECRETS["live"])
    assert any(m.text == SECRETS["live"] for m in winner.messages)
    await teacher.press("Чатты аяқтау")
    assert "көмектесті ме" in teacher.last_text
    assert_no_identity_leaks(fake_api, teacher, psy, psy2)

    await bot.stop()
    raw = await database_bytes(bot)
    for secret in [*SECRETS.values(), *IDENTITY, "Сейітов"]:
        assert secret.encode() not in raw, secret


async def test_a_question_from_another_region_cannot_be_taken_by_its_id(fake_api, start_bot):
    bot = await start_bot()
    teacher = await add_user(bot, fake_api, TEACHER)
    psy = await add_user(bot, fake_api, PSY, role="psychologist")
    far = await add_user(bot, fake_api, PSY2, role="psychologist", region="KZ-75")
    kk = TRANSLATIONS["kk"].gettext

    await teacher.send_text("/menu")
    await teacher.press_data(Menu(item="ask").pack())
    await teacher.send_text(SECRETS["reply"])
    await eventually(lambda: psy.messages, "the region's psychologist is told")
    async with bot.app.sessions() as session:
        question = await session.scalar(select(AnonQuestion))
    assert not far.messages, "a psychologist of another region is not told"

    # The other region's psychologist forges "take" with the question's id: refused, nothing copied.
    await far.send_text("/questions")
    assert far.last_text == kk("ask-queue-empty")
    await far.press_data(Ask(action="take", id=question.id).pack())
    assert kk("ask-not-available") in far.alerts
    assert not copies_to(fake_api, far.id)
    assert not any(SECRETS["reply"] in t for t in texts(far))
    assert far.last_text == kk("ask-queue-empty"), "back to their own queue"
    async with bot.app.sessions() as session:
        stored = await session.get(AnonQuestion, question.id)
        assert (stored.status, stored.psychologist_id) == ("open", None)
    assert not any("алды" in t for t in texts(teacher)), "the teacher is not told it was taken"

    # The region's psychologist still takes it.
    await psy.press("Взять вопрос")
    assert any(m.text == SECRETS["reply"] for m in psy.messages)


async def test_deleting_data_ends_an_open_chat_and_tells_the_other_side(fake_api, start_bot):
    bot = await start_bot(chat={"grace_minutes": 0})
    teacher = await add_user(bot, fake_api, TEACHER)
    psy = await add_user(bot, fake_api, PSY, role="psychologist")
    ids = {u.role: u.id for u in await _users(bot)}
    async with bot.app.sessions() as session:
        now = utcnow()
        await bot.app.chat_clock.plan_for_booking(
            session,
            booking_id=9,
            teacher_id=ids["teacher"],
            psychologist_id=ids["psychologist"],
            starts_at=now,
            ends_at=now + timedelta(hours=1),
        )
        await session.commit()
    await eventually(lambda: any("открыт" in t for t in texts(psy)), "opened")
    await teacher.press_data(Menu(item="settings").pack())
    await teacher.press("Деректерімді өшіру")
    await teacher.press("бәрін өшіру")
    await eventually(lambda: "больше не пользуется" in (psy.last_text or ""), "the psychologist is told")
    async with bot.app.sessions() as session:
        assert await session.scalar(select(ChatSession)) is None


async def test_a_chat_booking_opens_its_chat_at_the_booked_time_and_a_cancel_calls_it_off(
    fake_api, start_bot
):
    from bot.config import BookingConfig
    from bot.services.bookings import Bookings
    from storage.repo import booking as booking_repo

    bot = await start_bot(chat={"grace_minutes": 0})
    teacher = await add_user(bot, fake_api, TEACHER)
    psy = await add_user(bot, fake_api, PSY, role="psychologist")
    bookings = Bookings(BookingConfig(min_notice_hours=0), bot.app.events)  # a slot 1.5 s ahead
    async with bot.app.sessions() as session:
        people = {u.role: u for u in await session.scalars(select(User))}
        profile = await booking_repo.ensure_profile(session, people["psychologist"])
        profile.display_name, profile.formats, profile.published = "Д. Ахметова", "chat", True
        now = utcnow()
        soon = await booking_repo.add_slot(session, profile, now + timedelta(seconds=1.5), 30, "chat")
        later = await booking_repo.add_slot(session, profile, now + timedelta(days=1), 30, "chat")
        booked = await bookings.book(session, people["teacher"], soon.id, None, now)
        other = await bookings.book(session, people["teacher"], later.id, None, now)
        assert booked.ok and other.ok
        await session.commit()
        chats = {c.booking_id: c for c in await session.scalars(select(ChatSession))}
        assert set(chats) == {booked.booking.id, other.booking.id}
        assert (
            chats[booked.booking.id].starts_at == soon.starts_at
            and chats[booked.booking.id].ends_at == soon.ends_at
        )

        assert await bookings.cancel(session, other.booking, "teacher", utcnow())
        await session.commit()

    await eventually(
        lambda: any("чат ашық" in t for t in texts(teacher)), "the booked chat opens for the teacher"
    )
    assert any("Д. Ахметова психологпен" in t for t in texts(teacher)), (
        "the teacher sees the psychologist's display name"
    )
    await eventually(lambda: any("открыт" in t for t in texts(psy)), "and for the psychologist")
    await teacher.send_text(SECRETS["teacher_text"])
    assert psy.last.text == SECRETS["teacher_text"]
    async with bot.app.sessions() as session:
        statuses = {c.booking_id: c.status for c in await session.scalars(select(ChatSession))}
    assert statuses == {booked.booking.id: "open", other.booking.id: "closed"}
    assert sum("открыт" in t for t in texts(psy)) == 1, "the cancelled booking's chat never opens"


async def test_a_planned_chat_survives_a_restart_and_one_missed_entirely_stays_silent(fake_api, start_bot):
    bot = await start_bot(chat={"grace_minutes": 0})
    teacher = await add_user(bot, fake_api, TEACHER)
    await add_user(bot, fake_api, PSY, role="psychologist")
    ids = {u.role: u.id for u in await _users(bot)}
    now = utcnow()
    async with bot.app.sessions() as session:
        clock = bot.app.dispatcher["chat_clock"]
        upcoming = await clock.plan_for_booking(
            session,
            booking_id=1,
            teacher_id=ids["teacher"],
            psychologist_id=ids["psychologist"],
            starts_at=now + timedelta(seconds=2),
            ends_at=now + timedelta(hours=1),
        )
        missed = await clock.plan_for_booking(
            session,
            booking_id=2,
            teacher_id=ids["teacher"],
            psychologist_id=ids["psychologist"],
            starts_at=now + timedelta(hours=2),
            ends_at=now + timedelta(hours=3),
        )
        await session.commit()
    await bot.stop()
    # While the bot was down the second chat's whole time passed (moved into the past here).
    async with bot.app.sessions() as session:
        stored = await session.get(ChatSession, missed.id)
        stored.starts_at, stored.ends_at = now - timedelta(hours=2), now - timedelta(hours=1)
        await session.commit()

    again = await start_bot(chat={"grace_minutes": 0})
    await eventually(lambda: any("чат ашық" in t for t in texts(teacher)), "the chat opens after the restart")
    async with again.app.sessions() as session:
        assert (await session.get(ChatSession, upcoming.id)).status == "open"
    await fake_api.wait_idle()
    async with again.app.sessions() as session:
        assert (await session.get(ChatSession, missed.id)).status == "closed"
    assert sum("чат ашық" in t for t in texts(teacher)) == 1
    assert not any("көмектесті ме" in t for t in texts(teacher)), "a chat that never opened is not 'ended'"
