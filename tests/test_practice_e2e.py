"""A psychologist's practice end to end through the fake Bot API, in Kazakh and Russian: private
notes written, edited and read by their author only (forged presses of another psychologist and a
coordinator refused), never in the database in clear nor in the log, gone with the teacher's
deletion; continuity off until the teacher allows it; the intake reaches the booked psychologist
only and an urgent answer raises the safety screen; the caseload fits one phone screen and lists the
group sessions led still waiting for how many came, counted from there; an urgent
question reaches the psychologist on duty first; a referral is delivered once under Telegram errors."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.telegram.callbacks import (
    Book,
    Carry,
    CarryAction,
    Coverage,
    Intake,
    IntakeAction,
    Menu,
    Practice,
    PracticeAction,
    Psy,
    PsyAction,
)
from bot.telegram.i18n import compile_translations
from bot.workers import practice as outbox
from storage.models import DutyHours, GroupSession, SelfCheckResult, SessionNote
from storage.models.base import utcnow
from storage.repo import booking as booking_repo
from storage.repo import groups as groups_repo
from storage.repo import practice as practice_repo
from storage.repo import reminders as reminder_repo
from storage.repo import selfcheck as selfcheck_repo
from storage.repo import users
from tests.conftest import stored_bytes
from tests.test_chat_e2e import add_user, eventually
from tests.test_e2e_foundation import TEXTS
from tests.test_safety_e2e import CRISIS
from tests.waiting import wait_for

SECRET = "Директор Бекжанова кричит на неё при детях"
EDITED = "Спокойнее; говорили о границах с директором Бекжановой"
P = PracticeAction
CATALOGUES = compile_translations()
T = {
    "kk": {
        "notes": "Жеке жазбалар",
        "returning": "Қайта келген мұғалім",
        "carry": "Бұрынғы кездесулер",
        "not_yours": "тек оның авторы",
        "intake": "Алғашқы кездесуге дайындалу",
        "next": "Әрі қарай",
        "urgent": "Өте шұғыл",
        "no": "Жоқ",
        "safety": "біз үшін өте маңызды",
        "referral": "Психологтан жолдама",
        "no_show": "Айыппұл жоқ",
        "sleep": "Ұйқы",
        "burnout": "Күйіп-жану",
        "send": "Жіберу",
        "already": "бұрын жіберілген",
    },
    "ru": {
        "notes": "Личные заметки",
        "returning": "Повторное обращение",
        "carry": "Прежние встречи",
        "not_yours": "только её автор",
        "intake": "Подготовиться к первой встрече",
        "next": "Дальше",
        "urgent": "Очень срочно",
        "no": "Нет",
        "safety": "Нам очень важно",
        "referral": "Направление от психолога",
        "no_show": "штрафов нет",
        "sleep": "Сон",
        "burnout": "Выгорание",
        "send": "Отправить",
        "already": "уже отправлено",
    },
}


async def psychologist(bot, fake_api, user_id: int, name: str, lang: str):
    person = await add_user(
        bot, fake_api, {"user_id": user_id, "first_name": name, "language_code": lang}, role="psychologist"
    )
    async with bot.app.sessions() as session:
        profile = await booking_repo.ensure_profile(session, await users.by_telegram_id(session, user_id))
        profile.display_name, profile.languages, profile.formats = name, "kk,ru", "video"
        profile.video_link, profile.published = "https://meet.example/room", True
        await session.commit()
    return person


async def booking_of(bot, psychologist_id: int, teacher_id: int, starts_in: timedelta) -> int:
    async with bot.app.sessions() as session:
        staff = await users.by_telegram_id(session, psychologist_id)
        profile = await booking_repo.ensure_profile(session, staff)
        teacher = await users.by_telegram_id(session, teacher_id)
        starts_at = utcnow() + starts_in
        slot = await booking_repo.add_slot(session, profile, starts_at, 50, "video")
        result = await bot.app.bookings.book(session, teacher, slot.id, None, starts_at - timedelta(hours=3))
        await session.commit()
        return result.booking.id


def note(booking_id: int, action: PracticeAction = P.NOTE, **fields) -> str:
    return Practice(a=action, id=booking_id, **fields).pack()


def screen(user):
    """The newest message with buttons (after a booking, the .ics file comes below the screen)."""
    return [m for m in user.messages if m.buttons][-1]


def seen(user, text: str) -> bool:
    return any(text in (m.text or "") for m in user.messages)


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_private_notes_their_author_only_continuity_by_consent_and_deletion(
    fake_api, start_bot, lang, caplog
):
    caplog.set_level(logging.INFO)
    t = T[lang]
    bot = await start_bot()
    base = 7300 if lang == "kk" else 7400
    teacher = await add_user(bot, fake_api, {"user_id": base, "first_name": "Айгүл", "language_code": lang})
    anna = await psychologist(bot, fake_api, base + 1, "Анна", lang)
    olga = await psychologist(bot, fake_api, base + 2, "Ольга", lang)
    coordinator = await add_user(
        bot, fake_api, {"user_id": base + 3, "first_name": "Кор", "language_code": "ru"}, role="coordinator"
    )
    earlier = await booking_of(bot, base + 1, base, timedelta(days=-7))
    current = await booking_of(bot, base + 1, base, timedelta(days=1))
    async with bot.app.sessions() as session:
        anna_user = await users.by_telegram_id(session, base + 1)
        await practice_repo.save_note(session, anna_user.id, {"t": "первая встреча"}, booking_id=earlier)
        result = SelfCheckResult(
            user_id=await teacher_id(session, base), instrument="phq9", data={"answers": []}
        )
        session.add(result)
        await session.flush()
        await selfcheck_repo.share(session, result.id, earlier)
        await session.commit()

    # The booking's notice reaches Anna first (the outbox sends it once the booking commits).
    await wait_for(lambda: any((m.text or "").startswith("🆕") for m in anna.messages))
    # The author writes and edits.
    for person in (anna, olga, coordinator):
        await person.send_text("/menu")
    await anna.press_data(Practice(a=P.NOTE, id=current).pack())
    assert t["notes"] in anna.last_text and t["returning"] not in anna.last_text, "off by default"
    await anna.press_data(note(current, P.EDIT, v="t"))
    await anna.send_text(SECRET)
    assert SECRET in anna.last_text
    await anna.press_data(note(current, P.TOPIC, v="burnout"))
    assert any(b.startswith("✓ ") for b in anna.last.buttons)
    await anna.press_data(note(current, P.EDIT, v="t"))
    await anna.send_text(EDITED)
    assert EDITED in anna.last_text and SECRET not in anna.last_text and t["burnout"] in anna.last_text

    # Forged presses: another psychologist and a coordinator get nothing of it.
    for stranger in (olga, coordinator):
        for data in (note(current), note(current, P.EDIT, v="t"), note(current, P.TOPIC, v="sleep")):
            await stranger.press_data(data)
        assert not any(EDITED in (m.text or "") for m in stranger.messages)
    assert any(t["not_yours"] in a for a in olga.alerts)
    await olga.send_text("перезапись чужой заметки")
    async with bot.app.sessions() as session:
        bodies = [n.body for n in await session.scalars(select(SessionNote).order_by(SessionNote.id))]
    assert [b["t"] for b in bodies] == ["первая встреча", EDITED] and bodies[1]["k"] == ["burnout"]

    # The teacher allows continuity in Settings: Anna then sees exactly the earlier session.
    await teacher.send_text("/menu")
    await teacher.press_data(Menu(item="settings").pack())
    await teacher.press(t["carry"])
    assert "Анна" in teacher.last_text or any("Анна" in b for b in teacher.last.buttons)
    assert not any("Ольга" in b for b in teacher.last.buttons), "only psychologists they met"
    await teacher.press_data(Carry(a=CarryAction.SET, id=await profile_id(bot, base + 2), on=True).pack())
    await teacher.press("⛔ Анна")
    assert any(b.startswith("✅ Анна") for b in teacher.last.buttons)
    async with bot.app.sessions() as session:
        allowed = (await users.by_telegram_id(session, teacher.id)).prefs["p"]
        anna_code = (await users.by_telegram_id(session, base + 1)).pseudonym
    assert allowed == [anna_code], (
        "kept by Anna's pseudonym; a forged id for a psychologist never met: nothing"
    )
    await anna.press_data(note(current))
    assert (
        t["returning"] in anna.last_text and "первая встреча" in anna.last_text and "PHQ-9" in anna.last_text
    )
    assert anna.last_text.count("\n• ") == 1, "exactly the one earlier session"
    await olga.press_data(note(current))
    assert not seen(olga, "первая встреча")

    url = bot.settings.database.url
    data = await stored_bytes(url)
    assert SECRET.encode() not in data and EDITED.encode() not in data
    assert SECRET not in caplog.text and EDITED not in caplog.text

    # "Delete my data": the notes on the teacher's sessions go with it.
    await teacher.press_data(Menu(item="settings").pack())
    await teacher.press(TEXTS[lang]["delete"])
    await teacher.press(TEXTS[lang]["confirm"])
    async with bot.app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(SessionNote)) == 0


async def profile_id(bot, telegram_id: int) -> int:
    async with bot.app.sessions() as session:
        return (
            await booking_repo.ensure_profile(session, await users.by_telegram_id(session, telegram_id))
        ).id


async def booked_with_anna(bot, fake_api, base: int, lang: str):
    """A teacher who has just booked their first session with Anna (Olga is another psychologist)."""
    teacher = await add_user(bot, fake_api, {"user_id": base, "first_name": "Сәуле", "language_code": lang})
    anna = await psychologist(bot, fake_api, base + 1, "Анна", lang)
    olga = await psychologist(bot, fake_api, base + 2, "Ольга", lang)
    for person in (anna, olga):
        await person.send_text("/menu")
    async with bot.app.sessions() as session:
        profile = await booking_repo.ensure_profile(session, await users.by_telegram_id(session, base + 1))
        slot = await booking_repo.add_slot(session, profile, utcnow() + timedelta(days=2), 50, "video")
        await session.commit()
    await teacher.send_text("/menu")
    await teacher.press_data(Book(a="slot", f="video", s=slot.id).pack())
    assert "ℹ️" in teacher.last_text, "the no-show policy is stated before booking"
    await teacher.press_data(Book(a="ok", f="video", s=slot.id).pack())
    return teacher, anna, olga


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_intake_reaches_the_booked_psychologist_only_and_urgent_raises_the_safety_screen(
    fake_api, start_bot, lang
):
    t = T[lang]
    bot = await start_bot()
    base = 7500 if lang == "kk" else 7600
    teacher, anna, olga = await booked_with_anna(bot, fake_api, base, lang)
    await teacher.press(t["intake"])
    await teacher.press(t["sleep"])
    assert "✓ " + t["sleep"] in screen(teacher).buttons
    await teacher.press(t["next"])
    await teacher.send_text("Не сплю третью неделю")
    await teacher.press("Қазақша")
    await teacher.press(t["urgent"])
    await teacher.press(t["no"])
    assert t["safety"] in teacher.last_text, "an urgent answer raises the safety screen"
    await teacher.press_data(Menu(item="mine").pack())
    await teacher.press(" · ")
    assert any(t["intake"] in b for b in teacher.last.buttons), "also from My bookings, to change the answers"

    async with bot.app.sessions() as session:
        booking_id = (
            await booking_repo.upcoming_for_teacher(session, await teacher_id(session, base), utcnow())
        )[0].id
    await anna.press_data(note(booking_id))
    assert (
        "Не сплю третью неделю" in anna.last_text and "⚠️" in anna.last_text and t["sleep"] in anna.last_text
    )
    await olga.press_data(note(booking_id))
    assert not seen(olga, "Не сплю третью неделю")
    assert "Не сплю третью неделю".encode() not in await stored_bytes(bot.settings.database.url)

    await anna.press_data(Practice(a=P.CASELOAD, v="w").pack())
    week = anna.last
    assert "⚠️" in week.text and len(week.text) <= 1000 and len(week.buttons) <= 8
    await anna.press_data(Practice(a=P.CASELOAD).pack())
    assert len(anna.last.text) <= 1000 and len(anna.last.buttons) <= 8


async def test_a_crisis_written_in_the_intake_gets_the_safety_screen_first_and_marks_the_booking(
    fake_api, start_bot
):
    t = T["ru"]
    bot = await start_bot()
    teacher, anna, _olga = await booked_with_anna(bot, fake_api, 7900, "ru")
    await teacher.press(t["intake"])
    await teacher.press(t["next"])
    await teacher.send_text("Не хочу больше жить")
    assert t["safety"] in teacher.messages[-2].text, "the safety screen is the first reply"
    await teacher.press("Русский")
    await teacher.press("Может подождать")
    await teacher.press(t["no"])
    async with bot.app.sessions() as session:
        booking_id = (
            await booking_repo.upcoming_for_teacher(session, await teacher_id(session, 7900), utcnow())
        )[0].id
    await anna.press_data(note(booking_id))
    assert "⚠️" in anna.last_text, "the psychologist sees the booking marked urgent"
    # A button of the finished intake, pressed again, says so instead of doing nothing.
    await teacher.press_data(Intake(a=IntakeAction.URGENCY, id=booking_id, v="0").pack())
    assert "Подготовка к этой встрече больше недоступна." in teacher.alerts


async def teacher_id(session, telegram_id: int) -> int:
    return (await users.by_telegram_id(session, telegram_id)).id


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_referral_once_under_errors_no_show_message_duty_first_and_coverage(fake_api, start_bot, lang):
    t = T[lang]
    bot = await start_bot(reminders={"retry_seconds": 0.2})
    base = 7700 if lang == "kk" else 7800
    person = {"user_id": base, "first_name": "Дана", "language_code": lang}
    teacher = await add_user(bot, fake_api, person, region="KZ-59")
    anna = await psychologist(bot, fake_api, base + 1, "Анна", lang)
    olga = await psychologist(bot, fake_api, base + 2, "Ольга", lang)
    coordinator = await add_user(
        bot,
        fake_api,
        {"user_id": base + 3, "first_name": "Кор", "language_code": lang},
        "coordinator",
        "KZ-59",
    )
    async with bot.app.sessions() as session:
        for telegram_id in (base + 1, base + 2):
            (await users.by_telegram_id(session, telegram_id)).region = "KZ-59"
        profile = await booking_repo.ensure_profile(session, await users.by_telegram_id(session, base + 1))
        profile.on_duty_until = utcnow() + timedelta(hours=2)
        session.add(DutyHours(profile_id=profile.id, weekday=0, start_min=9 * 60, end_min=13 * 60))
        await session.commit()
    booking_id = await booking_of(bot, base + 1, base, timedelta(hours=-1))
    for user in (anna, olga, coordinator, teacher):
        await user.send_text("/menu")

    # A referral: the region's cited centre and the national line; delivered once under errors.
    await anna.press_data(note(booking_id, P.REFER))
    assert "pnd-sko.kz" in anna.last_text and "111" in anna.last_text
    fake_api.inject("sendMessage", chat_id=base, status=500, times=4)
    await anna.press(t["send"])
    await eventually(lambda: seen(teacher, t["referral"]), "the referral arrives")
    await anna.press_data(note(booking_id, P.REFER_SEND))
    assert any(t["already"] in a for a in anna.alerts), "a second press sends nothing"
    await worker(bot).run_once()
    assert sum(t["referral"] in (m.text or "") for m in teacher.messages) == 1
    failed = [
        c for c in fake_api.calls if c.method == "sendMessage" and c.chat_id == base and c.status == 500
    ]
    assert len(failed) == 4
    async with bot.app.sessions() as session:
        assert (await reminder_repo.by_key(session, outbox.referral_key(booking_id))).status == "sent"

    # No-show, marked by the psychologist only: a gentle message, once.
    await anna.press_data(Psy(a=PsyAction.NO_SHOW, id=booking_id).pack())
    await eventually(lambda: seen(teacher, t["no_show"]), "the gentle message")
    await worker(bot).run_once()
    assert sum(t["no_show"] in (m.text or "") for m in teacher.messages) == 1
    gentle = next(m for m in teacher.messages if t["no_show"] in (m.text or ""))
    assert any("🗓" in b for b in gentle.buttons), "with the way to book again"

    # An urgent question goes to the psychologist on duty first.
    await teacher.press_data(Menu(item="ask").pack())
    await teacher.send_text(CRISIS[lang])
    await eventually(lambda: any("🔴" in (m.text or "") for m in anna.messages), "the one on duty is told")
    assert not any("🔴" in (m.text or "") for m in olga.messages), "off duty: not told while someone is on"

    # A group session's note, reached from the caseload, is the facilitator's too.
    async with bot.app.sessions() as session:
        group = GroupSession(
            title_kk="Күйзеліс",
            title_ru="Стресс",
            starts_at=utcnow() + timedelta(minutes=30),
            capacity=8,
            format="video",
            language=lang,
            facilitator_id=(await users.by_telegram_id(session, base + 1)).id,
        )
        session.add(group)
        await session.commit()
    await anna.press_data(Practice(a=P.CASELOAD).pack())
    await anna.press("📝")
    await anna.press_data(note(group.id, P.EDIT, g=1, v="n"))
    await anna.send_text("Следующая группа: дыхание")
    assert "Следующая группа: дыхание" in anna.last_text
    await olga.press_data(note(group.id, g=1))
    assert not seen(olga, "Следующая группа: дыхание")

    # The coordinator sees the hours nobody is on duty, never who did what.
    await coordinator.press_data(Coverage().pack())
    assert "06–09, 13–24" in coordinator.last_text and "Анна" not in coordinator.last_text


def worker(bot):
    return next(w for w in bot.app.workers if type(w).__name__ == "ReminderWorker")


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_the_caseload_shows_group_sessions_waiting_for_how_many_came(fake_api, start_bot, lang):
    """Led, ended and not counted: listed on the caseload with the count one tap away, Back to the
    caseload, the count saved and gone from it; counted, ahead or another's: not listed."""
    t = CATALOGUES[lang].gettext
    bot = await start_bot()
    base = 7900 if lang == "kk" else 7950
    anna = await psychologist(bot, fake_api, base + 1, "Анна", lang)
    await psychologist(bot, fake_api, base + 2, "Ольга", lang)
    ended = utcnow() - timedelta(hours=2)
    async with bot.app.sessions.begin() as session:
        ids = {n: (await users.by_telegram_id(session, base + n)).id for n in (1, 2)}
        teachers = [await users.create(session, base + 10 + n, lang) for n in range(3)]
        plan = [  # title, starts, facilitator, attended
            ("Күйзеліс", ended, ids[1], None),
            ("Шекаралар", ended, ids[1], 4),
            ("Алда", utcnow() + timedelta(hours=3), ids[1], None),
            ("Басқаның", ended, ids[2], None),
        ]
        made = {}
        for title, starts, facilitator, attended in plan:
            group = GroupSession(
                title_kk=title,
                title_ru=title,
                starts_at=starts,
                capacity=8,
                format="online",
                language=lang,
                facilitator_id=facilitator,
                attended=attended,
            )
            session.add(group)
            await session.flush()
            for teacher in teachers:
                await groups_repo.enroll(session, group.id, teacher.id, starts - timedelta(days=1))
            made[title] = group.id
    await anna.send_text("/menu")
    await anna.press_data(Practice(a=P.CASELOAD).pack())
    caseload = anna.last.message_id

    def on_screen():  # the sweeper's own "how many came?" notice may arrive below it meanwhile
        return next(m for m in anna.messages if m.message_id == caseload)

    waiting = [b for b in on_screen().buttons if b.startswith(t("practice-caseload-count").split("{")[0])]
    assert len(waiting) == 1 and "Күйзеліс" in waiting[0]
    assert t("practice-caseload-today").split("{uncounted}")[0].splitlines()[-1] in on_screen().text

    await anna.press(waiting[0], message_id=caseload)
    assert on_screen().buttons[:4] == ["0", "1", "2", "3"], "the question replaces the caseload"
    await anna.press(TEXTS[lang]["back"], message_id=caseload)
    assert waiting[0] in on_screen().buttons
    await anna.press(waiting[0], message_id=caseload)
    await anna.press("2", message_id=caseload)
    assert t("groups-attendance-thanks") in anna.alerts
    assert waiting[0] not in on_screen().buttons and t("practice-caseload-to-week") in on_screen().buttons
    # Another's session: refused, nothing told.
    await anna.press_data(Practice(a=P.COUNTED, id=made["Басқаның"], v="1").pack(), message_id=caseload)
    assert t("practice-not-yours") in anna.alerts
    async with bot.app.sessions() as session:
        told = {g.title_kk: g.attended for g in await session.scalars(select(GroupSession))}
    assert told == {"Күйзеліс": 2, "Шекаралар": 4, "Алда": None, "Басқаның": None}
