"""The other notice kinds survive Telegram's failures too, end to end through the fake Bot API: group
seats (an offer from the waitlist, a lapsed offer, a cancelled session, a rating request), a crisis
hand-off's card, anonymous questions (announced to a psychologist, taken, answered: its title and
the copy of the answer) and a
deactivation (both sides of an ended chat, a chat called off, a question put back in the queue, the
psychologist told, then told of the reactivation), and the other side of a chat told that a teacher
who deleted their data left it. Each reaches its recipient exactly once while
Telegram answers 500 four times, or 429 with a flood wait of 20 to 120 s, to its first tries; the
reminder worker's clock is moved past the wait (tests/test_notices_e2e.py). In Kazakh and Russian."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.telegram.callbacks import (
    Coord,
    CoordAction,
    Group,
    GroupAction,
    Menu,
    Safe,
    SafeAction,
    Settings,
    Staff,
    StaffAction,
)
from storage.models import AnonQuestion
from storage.models.base import utcnow
from storage.repo import chat as chat_repo
from storage.repo import groups, users
from tests.test_coordinator_stats import REGION, make_psychologist, make_user
from tests.test_notices_e2e import FAST, TRANSLATIONS, Telegram, text_like
from tests.waiting import wait_for

COORDINATOR, A, B, C, D, E = 7401, 7402, 7403, 7404, 7405, 7406
PSYCHOLOGIST, TEACHER, CHATTING, COLLEAGUE = 7411, 7412, 7413, 7414
TITLES = {"kk": ("Күйзеліс", "Ұйқы"), "ru": ("Стресс", "Сон")}


async def start(fake_api, start_bot, lang: str, status: int, *talking: int):
    """The bot, Telegram failing as `status` says, and the users who open the bot first."""
    bot = await start_bot(reminders=FAST)
    people = {n: fake_api.user(user_id=n, language_code=lang) for n in talking}
    return bot, Telegram(fake_api, bot, status), people


async def swept(bot, now) -> None:
    """The sweep decides and writes its notices; their first tries are made."""
    await bot.app.sweeper.sweep(now=now)
    await bot.app.reminders.run_once()


@pytest.mark.parametrize(("lang", "status"), [("kk", 500), ("ru", 429)])
async def test_seat_offered_lapsed_rating_asked_and_session_cancelled(fake_api, start_bot, lang, status):
    t = TRANSLATIONS[lang].gettext
    bot, telegram, people = await start(fake_api, start_bot, lang, status, COORDINATOR, A, C)
    titles = TITLES[lang]
    async with bot.app.sessions() as session:
        await make_user(session, COORDINATOR, REGION, "coordinator", lang)
        seated = [await make_user(session, n, REGION, language=lang) for n in (A, B, C, D, E)]
        starts = utcnow() + timedelta(days=2)
        ids = []
        for title_kk, title_ru, capacity, days in zip(*TITLES.values(), (1, 5), (0, 3), strict=True):
            group = await groups.create_session(
                session,
                title_kk=title_kk,
                title_ru=title_ru,
                starts_at=starts + timedelta(days=days),  # the second not over when the first is
                capacity=capacity,
                format="online",
                region=None,
                language=lang,
            )
            ids.append(group.id)
        first, second = ids
        for user in seated[:3]:  # A seated, B and C in line
            await groups.enroll(session, first, user.id, utcnow())
        for user in seated[3:]:
            await groups.enroll(session, second, user.id, utcnow())
        await session.commit()
    for person in people.values():
        await person.send_text("/menu")

    # A leaves: B is offered the seat.
    offer = telegram.failing("offered", B, "sendMessage", text_like(t("groups-offer"), titles[0]))
    await people[A].press_data(Group(a=GroupAction.OUT, s=first).pack())
    await telegram.through(offer)

    # B lets it lapse: B is told, C is offered the seat and accepts.
    lapsed = telegram.failing("lapsed", B, "sendMessage", text_like(t("groups-offer-lapsed")))
    passed = telegram.failing("passed on", C, "sendMessage", text_like(t("groups-offer"), titles[0]))
    await swept(bot, utcnow() + bot.settings.groups.offer_hold + timedelta(minutes=1))
    await telegram.through(lapsed, passed)
    await people[C].press(t("groups-accept"))
    assert t("groups-joined") in people[C].alerts

    # After the session C is asked for a rating.
    rate = telegram.failing("rating", C, "sendMessage", text_like(t("groups-rate-ask"), titles[0]))
    await swept(bot, starts + timedelta(minutes=70))
    await telegram.through(rate)

    # The coordinator cancels the other session: both seated teachers are told.
    cancelled = [
        telegram.failing(
            f"cancelled to {n}", n, "sendMessage", text_like(t("groups-session-cancelled"), titles[1])
        )
        for n in (D, E)
    ]
    await people[COORDINATOR].press_data(Coord(a=CoordAction.GROUP_KILL, i=second).pack())
    assert t("co-g-cancelled").format(count=2) in people[COORDINATOR].last_text
    await telegram.through(*cancelled)
    await telegram.assert_each_once()


@pytest.mark.parametrize(("lang", "status"), [("ru", 500), ("kk", 429)])
async def test_question_taken_answered_and_a_deactivation(fake_api, start_bot, lang, status):
    t = TRANSLATIONS[lang].gettext
    bot, telegram, people = await start(fake_api, start_bot, lang, status, COORDINATOR, TEACHER)
    async with bot.app.sessions() as session:
        await make_user(session, COORDINATOR, REGION, "coordinator", lang)
        profile = await make_psychologist(session, PSYCHOLOGIST, "Сауле")
        profile.user.language, profile.on_duty_until = lang, utcnow() + timedelta(hours=2)
        teacher = await make_user(session, TEACHER, REGION, language=lang)
        chatting = await make_user(session, CHATTING, REGION, language=lang)
        await session.commit()
        code, chatting_code, psychologist_id = teacher.pseudonym, chatting.pseudonym, profile.user_id
        teacher_id, chatting_id, profile_id = teacher.id, chatting.id, profile.id
    coordinator, asking = people[COORDINATOR], people[TEACHER]
    psychologist = fake_api.user(user_id=PSYCHOLOGIST, language_code=lang)  # first told of a question
    fake_api.user(user_id=COLLEAGUE, language_code=lang)  # staff have their chat with the bot (the invite)
    for person in people.values():
        await person.send_text("/menu")

    async def ask(text: str) -> int:
        await asking.press_data(Menu(item="ask").pack())
        await asking.send_text(text)
        async with bot.app.sessions() as session:
            return await session.scalar(select(func.max(AnonQuestion.id)))

    def announced(number_of: dict, key: str):
        """The question's notice, saying the language the teacher writes in."""
        title = t("ask-question-title")
        return lambda call: (
            title.format(number=number_of.get(key), code=code) + "\n" + t("ask-language-" + lang)
            in (call.params.get("text") or "")
        )

    # A crisis hand-off: the psychologist on duty gets its card.
    card = telegram.failing("hand-off", PSYCHOLOGIST, "sendMessage", text_like(t("handoff-psy"), code))
    await asking.press_data(Safe(a=SafeAction.HANDOFF_YES).pack())
    assert t("handoff-sent") in asking.last_text
    await telegram.through(card)

    # A question: the psychologist is told, takes it, and the teacher hears it is taken.
    number: dict[str, int] = {}
    told = telegram.failing("question", PSYCHOLOGIST, "sendMessage", announced(number, "first"))
    number["first"] = await ask("Ата-аналар жиналысына қалай дайындалған дұрыс?")
    await telegram.through(told)
    taken = telegram.failing("taken", TEACHER, "sendMessage", text_like(t("ask-taken-teacher")))
    await psychologist.press(t("ask-take"))
    await telegram.through(taken)

    # The answer: its title, then the copy of the answer, in this order.
    title = telegram.failing("answer title", TEACHER, "sendMessage", text_like(t("ask-answer-title")))
    answer = telegram.failing(
        "answer",
        TEACHER,
        "copyMessage",
        lambda call: str(call.params.get("from_chat_id")) == str(PSYCHOLOGIST),
    )
    await psychologist.send_text("Жауап")
    assert t("ask-answer-sent") in psychologist.last_text
    await telegram.through(title)
    await wait_for(lambda: telegram.calls(answer, ok=False))  # tried only once the title is through
    await telegram.through(answer)
    order = [c.method for c in fake_api.calls if c.chat_id == TEACHER and c.ok]
    assert order[-2:] == ["sendMessage", "copyMessage"], "the title comes before the answer"

    # Mid-work the psychologist is deactivated: a second question taken, an open chat, a planned one.
    number["second"] = await ask("Сыныптағы тәртіпке қатысты сұрақ")
    async with bot.app.sessions() as session:
        assert await chat_repo.take(session, number["second"], await session.get(users.User, psychologist_id))
        now = utcnow()
        live = await chat_repo.create_session(
            session, chatting_id, psychologist_id, now, now + timedelta(minutes=30)
        )
        await chat_repo.mark_open(session, live.id)
        later = now + timedelta(hours=5)
        await chat_repo.create_session(
            session, teacher_id, psychologist_id, later, later + timedelta(hours=1)
        )
        colleague = await make_psychologist(session, COLLEAGUE, "Әсел")
        colleague.user.language = lang
        await session.commit()
        colleague_profile, colleague_user = colleague.id, colleague.user_id
    at = later.astimezone(bot.settings.tz).strftime("%H:%M")
    released = [
        telegram.failing("chat ended (teacher)", CHATTING, "sendMessage", text_like(t("chat-ended-teacher"))),
        telegram.failing(
            "chat ended (psychologist)",
            PSYCHOLOGIST,
            "sendMessage",
            text_like(t("chat-ended-psy"), chatting_code),
        ),
        telegram.failing("chat called off", TEACHER, "sendMessage", text_like(t("chat-called-off"), at)),
        telegram.failing("question requeued", COLLEAGUE, "sendMessage", announced(number, "second")),
    ]
    await coordinator.press_data(Staff(a=StaffAction.OFF_CONFIRMED, id=profile_id).pack())
    await telegram.through(*released)
    await wait_for(
        lambda: psychologist.last_text == t("sa-you-off")
    )  # told last, once the chat's end is through

    # The colleague is deactivated and reactivated: told each time.
    off = telegram.failing("deactivated", COLLEAGUE, "sendMessage", text_like(t("sa-you-off")))
    await coordinator.press_data(Staff(a=StaffAction.OFF_CONFIRMED, id=colleague_profile).pack())
    await telegram.through(off)
    on = telegram.failing("reactivated", COLLEAGUE, "sendMessage", text_like(t("sa-you-on")))
    await coordinator.press_data(Staff(a=StaffAction.ON, id=colleague_profile).pack())
    await telegram.through(on)

    # A teacher in a live chat with the colleague deletes their data: the colleague is told they left.
    async with bot.app.sessions() as session:
        now = utcnow()
        chat = await chat_repo.create_session(
            session, chatting_id, colleague_user, now, now + timedelta(minutes=30)
        )
        await chat_repo.mark_open(session, chat.id)
        await session.commit()
    left = telegram.failing("left", COLLEAGUE, "sendMessage", text_like(t("chat-other-left")))
    await fake_api.user(user_id=CHATTING, language_code=lang).press_data(Settings(action="erase").pack())
    await telegram.through(left)
    await telegram.assert_each_once()
