"""The attacker with a copy of the database (or Redis) but not the keys: four teachers make the
private choices A, B, B, A — a mood of 1 or 5, a self-check with no symptoms or every item at its
worst (the self-harm item answered or not), a question with or without a crisis phrase, a safety
screen shown or not, a check-in asked for or not, a safety plan, a journal entry, notes written or
not, detailed calendar titles or not, an intake before the first session or not, the psychologist
allowed to see their earlier sessions or not, a favourite exercise or not, a self-check result and a
drawing shown to the booking's psychologist or not; a consultation, a chat and a group session rated
(with a comment) or not — and for every table and
column, nothing they left behind follows the choice: not a value, not a stored length, not the
presence or number of rows linked to them (directly, or through a row they own, such as a booking)."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from bot.content.instruments import load_instruments
from bot.telegram.callbacks import (
    Book,
    Carry,
    CarryAction,
    Chat,
    ChatAction,
    Drawing,
    DrawingAction,
    Group,
    GroupAction,
    Menu,
    Mine,
    MineAction,
    Mood,
    Relax,
    Safe,
    SafeAction,
    SelfCheck,
    Settings,
    SettingsAction,
)
from bot.telegram.i18n import compile_translations
from bot.workers import notices
from storage import crypto
from storage.models import Base, Booking, ChatSession, GroupSeat, Reminder, User
from storage.models.base import utcnow
from storage.models.booking import ATTENDED
from storage.repo import booking as booking_repo
from storage.repo import chat as chat_repo
from storage.repo import groups as groups_repo
from storage.repo import relax as relax_repo
from storage.repo import selfcheck as selfcheck_repo
from storage.repo import users
from storage.types import Sealed
from tests.conftest import REDIS_URL
from tests.test_e2e_foundation import TEXTS, agree
from tests.waiting import wait_for

CHOICES = ["A", "B", "B", "A"]
IDS = [7301, 7302, 7303, 7304]
PHQ9 = load_instruments()["phq9"]
CATALOGUES = compile_translations()
# Columns that differ between any two people whatever they chose: keys, links, moments, identities.
NATURALLY_DIFFERENT = {
    "id",
    "tg_index",
    "pseudonym",
    "chat_id",
    "created_at",
    "updated_at",
    "taken_at",
    "last_seen_on",
    "consent_at",
    "slot_id",
    "teacher_id",
    "user_id",
    "key",
    "claimed_at",
    "claimed_until",
    "sent_at",
    "due_at",
    "expires_at",
    "position",  # a seat's order of arrival in its session's line
}


async def make_slots(bot, count: int) -> tuple[int, list[int]]:
    """The psychologist's profile and `count` free video slots."""
    async with bot.app.sessions() as session:
        psychologist = await users.create(session, 7399, "ru")
        psychologist.role = "psychologist"
        profile = await booking_repo.ensure_profile(session, psychologist)
        profile.display_name, profile.languages, profile.formats = "Ольга", "kk,ru", "video"
        profile.video_link, profile.published = "https://meet.example/room", True
        slots = [
            await booking_repo.add_slot(session, profile, utcnow() + timedelta(days=2, hours=n), 50, "video")
            for n in range(count)
        ]
        await session.commit()
        return profile.id, [slot.id for slot in slots]


async def live_through(bot, user, choice: str, profile_id: int, slot_id: int, lang: str) -> None:
    """The same steps for everyone; what is typed or chosen differs with `choice`."""
    a = choice == "A"
    await agree(user, TEXTS[lang])
    # A question, with or without a crisis phrase (the safety screen shown or not).
    await user.press_data(Menu(item="ask").pack())
    await user.send_text("иногда не хочу жить" if a else "как записаться на групповую встречу?")
    # A check-in asked for, or the same number of presses elsewhere.
    await user.press_data(Safe(a=SafeAction.SAFE).pack())
    await user.press_data(Safe(a=SafeAction.CHECKIN_YES if a else SafeAction.CHECKIN_NO).pack())
    # A self-check at its best or at its worst (item 9 answered).
    await user.press_data(SelfCheck(action="begin", inst="phq9").pack())
    for position, item in enumerate(PHQ9.items):
        value = max(o.value for o in PHQ9.options_for(item)) if not a else 0
        await user.press_data(SelfCheck(action="ans", inst="phq9", n=position, v=value).pack())
    # A mood of 1 or 5, with a note or without one.
    await user.press_data(Mood(action="score", value="1" if a else "5").pack())
    if a:
        await user.send_text("сегодня было тяжело")
    else:
        await user.press_data(Mood(action="skip").pack())
    # A favourite exercise (a grounding one) or none; a safety plan and a journal entry, or not.
    if a:
        await user.press_data(Relax(action="fav", value="grounding").pack())
        await user.press_data(Safe(a=SafeAction.STEP, n=1).pack())
        await user.send_text("когда не сплю и молчу")
        await user.press_data(Relax(action="keep", value="evening").pack())
        await user.send_text("вечером стало легче")
    # A booking with a note for the psychologist, or without.
    if a:
        await user.press_data(Book(a="note", f="video", s=slot_id).pack())
        await user.send_text("хочу поговорить о выгорании")
    await user.press_data(Book(a="ok", f="video", s=slot_id).pack())
    if a:
        # An intake before this first session, offered on the booking's screen, or none.
        t = CATALOGUES[lang].gettext
        await user.press(t("practice-intake-button"))
        await user.press(t("practice-intake-next"))
        await user.send_text("плохо сплю")
        await user.press(t("bk-lang-" + lang))
        await user.press(t("practice-urgency-0"))
        await user.press(t("practice-no"))
    # Detailed calendar titles or the neutral default; the psychologist allowed to see earlier sessions or not.
    calendar = "detail" if a else "neutral"
    await user.press_data(Settings(action=SettingsAction.SET_CALENDAR, value=calendar).pack())
    await user.press_data(Carry(a=CarryAction.SET, id=profile_id, on=a).pack())
    if a:
        await show_the_psychologist(bot, user)


async def show_the_psychologist(bot, user) -> None:
    """The self-check result and a journal drawing, each sent to the psychologist of the booking."""
    await user.press_data(Relax(action="keep", value="drawing").pack())
    await user.send_photo()
    async with bot.app.sessions() as session:
        teacher = await users.by_telegram_id(session, user.id)
        (booking,) = await booking_repo.upcoming_for_teacher(session, teacher.id, utcnow())
        (result,) = await selfcheck_repo.history(session, teacher.id, "phq9")
        (drawing,) = [
            entry for entry in await relax_repo.journal(session, teacher.id) if entry.kind == "photo"
        ]
    await user.press_data(SelfCheck(action="shto", inst="phq9", n=result.id, v=booking.id).pack())
    await user.press_data(Drawing(a=DrawingAction.ASK, e=drawing.id, b=booking.id).pack())
    await user.press_data(Drawing(a=DrawingAction.SEND, e=drawing.id, b=booking.id).pack())


async def footprints(bot) -> dict[int, dict[str, list[tuple]]]:
    """Per teacher, per table: the rows linked to them, each as its clear values and sealed lengths.
    A row is linked to the users it references, and to those of the rows it references (an intake
    of a booking is the booking's teacher's); tables come referenced ones first."""
    found: dict[int, dict[str, list[tuple]]] = defaultdict(lambda: defaultdict(list))
    owners_of: dict[tuple[str, str, object], set[int]] = {}
    async with bot.app.sessions() as session:
        people = {user.id: user for user in await session.scalars(select(User))}
        connection = await session.connection()
        for table in Base.metadata.sorted_tables:
            links = [
                (c.name, fk.column.table.name, fk.column.name)
                for c in table.columns
                for fk in c.foreign_keys
                if fk.column.table.name != table.name
            ]
            bookings = "slot_id" in table.columns and table.name == "bookings"
            for row in (await connection.execute(text(f'SELECT * FROM "{table.name}"'))).mappings():
                owners = {row["id"]} if table.name == "users" else set()
                for name, other, column in links:
                    if other == "users":
                        owners |= {row[name]} & people.keys()
                    else:
                        owners |= owners_of.get((other, column, row[name]), set())
                for key in table.primary_key.columns:
                    owners_of[(table.name, key.name, row[key.name])] = owners
                shape = tuple(
                    (
                        name,
                        len(value)
                        if isinstance(table.columns[name].type, Sealed) and value is not None
                        else (
                            "·" if name in NATURALLY_DIFFERENT or (bookings and name == "slot_id") else value
                        ),
                    )
                    for name, value in sorted(row.items())
                )
                for owner in owners:
                    found[owner][table.name].append(shape)
    return found


async def notices_sent(bot) -> bool:
    async with bot.app.sessions() as session:
        statuses = await session.scalars(select(Reminder.status).where(Reminder.kind.in_(notices.KINDS)))
        return all(status == "sent" for status in statuses)


async def assert_indistinguishable(bot, teachers: list[int]) -> None:
    await wait_for(lambda: notices_sent(bot))  # the outbox's rows are done, each teacher's the same
    prints = await footprints(bot)
    async with bot.app.sessions() as session:
        ids = [(await users.by_telegram_id(session, telegram_id)).id for telegram_id in teachers]
    tables = {name for teacher in ids for name in prints[teacher]}
    for name in sorted(tables):
        shapes = [sorted(prints[teacher].get(name, [])) for teacher in ids]
        assert all(shape == shapes[0] for shape in shapes), (
            f"{name}: what teachers left behind follows their choice {CHOICES}:\n"
            + "\n".join(f"  {choice}: {shape}" for choice, shape in zip(CHOICES, shapes, strict=True))
        )


@pytest.mark.parametrize("lang", ["ru"])
async def test_four_teachers_choosing_differently_look_the_same(fake_api, start_bot, lang):
    bot = await start_bot()
    profile_id, slots = await make_slots(bot, len(IDS))
    for telegram_id, choice, slot_id in zip(IDS, CHOICES, slots, strict=True):
        user = fake_api.user(user_id=telegram_id, language_code=lang)
        await live_through(bot, user, choice, profile_id, slot_id, lang)
    async with bot.app.sessions() as session:  # the choices were made: the database just does not show them
        psychologist = await users.by_telegram_id(session, 7399)
        for telegram_id, choice in zip(IDS, CHOICES, strict=True):
            teacher = await users.by_telegram_id(session, telegram_id)
            (booking,) = await booking_repo.upcoming_for_teacher(session, teacher.id, utcnow())
            made = (
                teacher.calendar_detail,
                teacher.allows_carry(psychologist.pseudonym),
                booking.intake is not None,
                teacher.favourites == ["grounding"],
                booking.shared != [],
            )
            assert made == ((True,) * 5 if choice == "A" else (False,) * 5)
    shown = fake_api.messages(7399)  # the psychologist's chat: each A's result and drawing
    assert len([m for m in shown if m.kind == "photo"]) == CHOICES.count("A")
    assert len([m for m in shown if "PHQ" in (m.text or "")]) == CHOICES.count("A")
    await assert_indistinguishable(bot, IDS)
    await assert_one_length_a_column(bot)


async def assert_one_length_a_column(bot) -> None:
    """Every sealed value of a column has one length, whoever wrote it and whatever it says."""
    async with bot.app.sessions() as session:
        connection = await session.connection()
        for table in Base.metadata.sorted_tables:
            for column in table.columns:
                if isinstance(column.type, Sealed) and not column.type.grows:
                    lengths = set(
                        (
                            await connection.execute(
                                text(f'SELECT DISTINCT length("{column.name}") FROM "{table.name}"')
                            )
                        ).scalars()
                    )
                    assert len(lengths - {None}) <= 1, f"{table.name}.{column.name}: lengths {lengths}"
                    assert None not in lengths or not lengths - {None}, (
                        f"{table.name}.{column.name}: NULL beside values"
                    )


async def test_rated_and_unrated_look_the_same(fake_api, start_bot):
    """A teacher who rated an attended consultation (stars and a comment), a chat ("did it help?")
    and a group session (a score and a comment), beside one who rated none: the same rows, the same
    columns filled, the same lengths; only decrypted do the ratings differ."""
    bot = await start_bot()
    t = CATALOGUES["ru"].gettext
    _profile_id, slots = await make_slots(bot, len(IDS))
    teachers = [fake_api.user(user_id=telegram_id, language_code="ru") for telegram_id in IDS]
    for user, slot_id in zip(teachers, slots, strict=True):
        await agree(user, TEXTS["ru"])
        await user.press_data(Book(a="ok", f="video", s=slot_id).pack())
    moment = utcnow().replace(microsecond=0) - timedelta(days=1)
    async with bot.app.sessions() as session:
        psychologist = await users.by_telegram_id(session, 7399)
        group = await groups_repo.create_session(
            session,
            title_kk="Топ",
            title_ru="Группа",
            starts_at=utcnow() + timedelta(days=1),
            capacity=10,
            format="online",
            language="ru",
        )
        chats, bookings = [], []
        for telegram_id in IDS:
            teacher = await users.by_telegram_id(session, telegram_id)
            assert (await groups_repo.enroll(session, group.id, teacher.id, utcnow())).status == "enrolled"
            (booking,) = await booking_repo.upcoming_for_teacher(session, teacher.id, utcnow())
            booking.state = ATTENDED  # as the psychologist marks it
            chat = await chat_repo.create_session(session, teacher.id, psychologist.id, moment, moment)
            chat.status, chat.closed_at = "closed", moment
            bookings.append(booking.id)
            chats.append(chat)
        await session.flush()
        group.starts_at = moment  # the session took place and every seat was asked for a score
        for seat in await session.scalars(select(GroupSeat).where(GroupSeat.session_id == group.id)):
            seat.rating_asked = True
        chats = [chat.id for chat in chats]
        await session.commit()
    for user, choice, booking_id, chat_id in zip(teachers, CHOICES, bookings, chats, strict=True):
        if choice == "A":
            await user.press_data(Mine(a=MineAction.RATE, id=booking_id, stars=5).pack())
            await user.send_text("стало спокойнее")
            await user.press_data(Chat(action=ChatAction.RATE, id=chat_id, value="1").pack())
            await user.press_data(Group(a=GroupAction.RATE, s=group.id, score=4).pack())
            await user.press(t("groups-comment-add"))
            await user.send_text("хорошая группа")
            assert t("groups-comment-thanks") in user.last_text
    async with bot.app.sessions() as session:  # rated, as the bot reads it back
        for choice, booking_id, chat_id in zip(CHOICES, bookings, chats, strict=True):
            booking, chat = await session.get(Booking, booking_id), await session.get(ChatSession, chat_id)
            seat = await groups_repo.seat_of(session, group.id, booking.teacher_id)
            made = (booking.rating, booking.rating_comment, chat.rating, seat.rating, seat.rating_comment)
            rated = (5, "стало спокойнее", 1, 4, "хорошая группа")
            assert made == (rated if choice == "A" else (None,) * 5)
        assert await booking_repo.rating_summary(session) == (2, 5.0)
        stats = await groups_repo.statistics(session, moment - timedelta(days=1), utcnow())
        assert [(each.ratings, each.rating_sum) for each in stats.values()] == [(2, 8)]
    await assert_indistinguishable(bot, IDS)
    await assert_one_length_a_column(bot)


@pytest.mark.skipif(not REDIS_URL, reason="DEMEU_TEST_REDIS_URL not set")
async def test_in_redis_keys_and_values_follow_no_choice(fake_api, start_bot):
    from redis.asyncio import Redis

    await start_bot(fsm={"storage": REDIS_URL})
    prefix = "demeu:fsm:"
    redis = Redis.from_url(REDIS_URL)
    try:
        await redis.delete(*[key async for key in redis.scan_iter(match=prefix + "*")] or ["none"])
        users_ = [fake_api.user(user_id=telegram_id, language_code="ru") for telegram_id in IDS]
        for user, choice in zip(users_, CHOICES, strict=True):
            await agree(user, TEXTS["ru"])
            # In the middle of a form: a safety plan step (A) or a booking note (B) being written.
            step = Safe(a=SafeAction.STEP, n=1) if choice == "A" else Menu(item="ask")
            await user.press_data(step.pack())
        values = {}
        async for key in redis.scan_iter(match=prefix + "*"):
            name = key.decode()
            if name.endswith((":state", ":data")):
                values[name] = await redis.get(key)
        kinds = defaultdict(set)
        for name, value in values.items():
            kinds[name.rsplit(":", 1)[1]].add(len(value))
            assert crypto.active().is_current(value.decode()), "a sealed token, nothing in clear"
        assert kinds["state"] and all(len(lengths) == 1 for lengths in kinds.values()), kinds
        assert len([n for n in values if n.endswith(":state")]) == len(IDS), "every teacher has the same keys"
    finally:
        await redis.aclose()
