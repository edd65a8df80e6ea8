"""Staff administration through the fake Bot API: a coordinator lists the psychologists of their
region with their load, deactivates one (free slots hidden, bookings ahead released and their
teachers offered a new time, the psychologist told, the cabinet closed) and reactivates them;
every action in the audit log; forged buttons from others refused. In Kazakh and Russian."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.callbacks import Menu, Staff
from bot.i18n import compile_translations
from storage.models import AuditEntry, Booking
from storage.models.base import utcnow
from storage.repo import booking as booking_repo
from storage.repo import users
from tests.test_coordinator_stats import OTHER, REGION, agree, book, make_psychologist, make_user

TRANSLATIONS = compile_translations()
COORDINATOR, TEACHER, PSYCHOLOGIST, FAR_PSYCHOLOGIST = 7200, 7201, 7202, 7203


async def free_profiles(bot) -> set[int]:
    """Psychologists whose free video slots teachers are offered now."""
    async with bot.app.sessions() as session:
        slots = await booking_repo.free_slots(session, booking_repo.Filters("video"), bot.app.settings.booking, utcnow())
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
        booked = await book(session, near, await users.by_telegram_id(session, TEACHER), 48, "video", "booked")
        await book(session, near, await make_user(session, 730_000, REGION), 72, "video", "cancelled")
        await book(session, far, await make_user(session, 730_001, OTHER), 50, "video", "cancelled")
        near_id, far_id, booking_id, pseudonym = near.id, far.id, booked.id, me.pseudonym
        await session.commit()
    assert near_id in await free_profiles(bot)

    # The list: only this region's psychologist, with their load.
    await coordinator.send_text("/menu")
    await coordinator.press(t("menu-coord"))
    await coordinator.press(t("sa-open"))
    assert t("sa-list").format(region="Түркістан облысы" if lang == "kk" else "Туркестанская область", count=1).replace("<b>", "").replace("</b>", "") \
        == coordinator.last_text
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
        actions = (await session.execute(select(AuditEntry.actor, AuditEntry.action, AuditEntry.target_id))).all()
        assert (pseudonym, "psychologist_deactivated", near_id) in actions
    assert near_id not in await free_profiles(bot), "their free slots are hidden"
    notice = t("teacher-notice-cancelled_by_psy").split("{")[0].strip()
    assert notice in teacher.last_text and t("book-again") in teacher.last.buttons, "offered a new time"
    assert t("sa-you-off") in psychologist.last_text
    # The cabinet is closed to them now: an old button is refused.
    await psychologist.press_data(Menu(item="psy").pack())
    assert t("role-refused") in psychologist.alerts

    # Reactivate.
    await coordinator.press(t("sa-on"))
    assert t("sa-on-done") in coordinator.alerts and t("sa-status-on") in coordinator.last_text
    assert near_id in await free_profiles(bot)
    assert t("sa-you-on") in psychologist.last_text
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
