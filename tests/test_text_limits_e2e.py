"""Text limits counted as Telegram counts them (UTF-16 code units: an emoji is two), checked where
the text is typed, end to end through the fake Bot API (which refuses any message over 4096 units).

In every text state an emoji text one emoji over the limit (within the limit in code points, so a
count of characters would let it through) is refused and the state stays; the same text one emoji
shorter is taken, and every screen that shows it afterwards still fits: ten emoji journal entries,
the booking's confirm screen, the profile, a broadcast's preview, a group session's card. A teacher
in Kazakh, staff in Russian."""

from __future__ import annotations

from datetime import timedelta

from bot.services.profiles import TEXT_LIMITS
from bot.telegram.callbacks import Book, Coord, Mine, Mood, Psy, Relax, Safe
from bot.telegram.i18n import compile_translations
from handlers.coordinator.broadcasts import TEXT_MAX
from handlers.teacher.relax import JOURNAL_SHOWN, catalogue
from storage.models.base import utcnow
from storage.models.booking import COMMENT_LIMIT, NOTE_LIMIT, REASON_LIMIT
from storage.models.groups import DESCRIPTION_LIMIT
from storage.models.relax import JOURNAL_TEXT_LIMIT, MOOD_NOTE_LIMIT
from storage.models.safety import STEP_LIMIT
from storage.repo import booking as booking_repo
from tests.test_coordinator_stats import REGION, book, make_psychologist, make_user

TRANSLATIONS = compile_translations()
EMOJI = "😀"  # two UTF-16 code units, one code point


def over(limit: int) -> str:
    return EMOJI * (limit // 2 + 1)


def within(limit: int) -> str:
    return EMOJI * (limit // 2)


async def refused_then_taken(user, t, limit: int, prefix: str = "") -> None:
    """The text over the limit is refused in the state; the one within it is taken."""
    await user.send_text(prefix + over(limit))
    assert user.last_text == t("text-too-long").format(limit=limit)
    await user.send_text(prefix + within(limit))
    assert user.last_text != t("text-too-long").format(limit=limit)


async def test_a_teacher_s_texts_are_limited_where_typed(fake_api, start_bot):
    t = TRANSLATIONS["kk"].gettext
    bot = await start_bot()
    async with bot.app.sessions() as session:
        teacher = await make_user(session, 7501, REGION, language="kk")
        profile = await make_psychologist(session, 7502, "Сауле")
        profile.video_link = "https://meet.example.org/saule"
        slot = await booking_repo.add_slot(session, profile, utcnow() + timedelta(days=2), 50, "video")
        attended = await book(session, profile, teacher, -3, "video", "attended")
        slot_id, attended_id = slot.id, attended.id
        await session.commit()
    user = fake_api.user(user_id=7501, language_code="kk")
    await user.send_text("/menu")

    # Ten reflections as long as they may be: the journal still shows them in one message.
    reflection = next(e for e in catalogue() if e.accepts_text and not e.accepts_photo)
    for n in range(JOURNAL_SHOWN):
        await user.press_data(Relax(action="keep", value=reflection.id).pack())
        if n == 0:
            await refused_then_taken(user, t, JOURNAL_TEXT_LIMIT)
        else:
            await user.send_text(within(JOURNAL_TEXT_LIMIT))
        assert user.last_text == t("relax-journal-saved")
    await user.press_data(Relax(action="journal").pack())
    assert user.last_text.count(EMOJI) > JOURNAL_SHOWN * 100 and user.last_text.count("…") == JOURNAL_SHOWN

    await user.press_data(Mood(action="score", value=3).pack())
    await refused_then_taken(user, t, MOOD_NOTE_LIMIT)
    assert user.last_text == t("mood-note-saved")

    await user.press_data(Safe(a="st", n=1).pack())
    await refused_then_taken(user, t, STEP_LIMIT)
    assert within(STEP_LIMIT) in user.last_text, "the plan shows the step"

    await user.press_data(Book(a="note", f="video", s=slot_id).pack())
    await refused_then_taken(user, t, NOTE_LIMIT)
    assert within(NOTE_LIMIT) in user.last_text, "the confirm screen shows the note"

    await user.press_data(Mine(a="rate", id=attended_id, stars=5).pack())
    await refused_then_taken(user, t, COMMENT_LIMIT)
    assert user.last_text == t("rate-comment-saved")


async def test_staff_texts_are_limited_where_typed(fake_api, start_bot):
    t = TRANSLATIONS["ru"].gettext
    bot = await start_bot()
    async with bot.app.sessions() as session:
        await make_user(session, 7601, REGION, "coordinator")
        teacher = await make_user(session, 7603, REGION)
        profile = await make_psychologist(session, 7602, "Сауле")
        upcoming = await book(session, profile, teacher, 48, "video", "booked")
        upcoming_id = upcoming.id
        await session.commit()
    psychologist = fake_api.user(user_id=7602, language_code="ru")
    coordinator = fake_api.user(user_id=7601, language_code="ru")
    await psychologist.send_text("/menu")
    await coordinator.send_text("/menu")

    for field in ("bio_kk", "bio_ru", "address", "name"):
        await psychologist.press_data(Psy(a="edit", v=field).pack())
        await refused_then_taken(psychologist, t, TEXT_LIMITS[field])
    assert within(TEXT_LIMITS["bio_ru"]) in psychologist.last_text, "the whole profile in one message"

    await psychologist.press_data(Psy(a="bcx", id=upcoming_id).pack())
    await refused_then_taken(psychologist, t, REASON_LIMIT)
    assert t("psy-cancelled") in psychologist.last_text

    # A broadcast as long as it may be, in both languages: its previews fit with the footer.
    await coordinator.press_data(Coord(a="new").pack())
    await refused_then_taken(coordinator, t, TEXT_MAX)
    await refused_then_taken(coordinator, t, TEXT_MAX)
    await coordinator.press(t("co-aud-all"))
    await coordinator.press(t("co-btn-none"))
    previews = [m for m in coordinator.messages if (m.text or "").startswith(within(TEXT_MAX))]
    assert len(previews) == 2

    # A group session with the longest description: its card fits when it is created.
    await coordinator.press_data(Coord(a="gnew").pack())
    await coordinator.press(t("groups-kind-consult"))
    await refused_then_taken(coordinator, t, DESCRIPTION_LIMIT, "Группа\n")
    await refused_then_taken(coordinator, t, DESCRIPTION_LIMIT, "Группа\n")
    starts = (utcnow() + timedelta(days=3)).astimezone(bot.settings.tz)
    await coordinator.send_text(starts.strftime("%d.%m.%Y") + " 15:00")
    await coordinator.press(t("co-g-minutes").format(minutes=60))
    await coordinator.send_text("2")
    await coordinator.press(t("groups-format-online"))
    await coordinator.press(t("groups-language-ru"))
    await coordinator.press(t("co-g-fac-none"))
    assert t("co-g-created").split("{")[0].strip() in coordinator.last_text
    assert within(DESCRIPTION_LIMIT) in coordinator.last_text
