"""The cabinet's programme end to end, in Kazakh and Russian: a coordinator creates a group session of
each kind (consultation group, training, art-therapy group, relaxation session), each kind with its
description, and teachers find them by kind."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.telegram.i18n import compile_translations
from storage.models import GroupSession
from storage.models.base import utcnow
from storage.models.groups import GROUP_KINDS
from tests.test_groups_e2e import agree, plain, set_role

CATALOGUES = compile_translations()
TITLES = {"consult": "Сөйлесу", "training": "Тренинг-1", "art": "Сурет", "relax": "Тыныштық"}


def texts(lang: str):
    return lambda key: CATALOGUES[lang].gettext(key)


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_a_coordinator_creates_each_kind_and_teachers_find_them_by_kind(fake_api, start_bot, lang):
    t = texts(lang)
    bot = await start_bot()
    coordinator = fake_api.user(user_id=9101, language_code=lang)
    await agree(coordinator, lang)
    await set_role(bot, 9101, "coordinator")
    today = utcnow().astimezone(bot.settings.tz)

    for number, kind in enumerate(GROUP_KINDS):
        await coordinator.send_text("/menu")
        await coordinator.press(t("menu-coord"))
        await coordinator.press(t("co-gnew"))
        # Every kind is described before the coordinator picks one.
        for each in GROUP_KINDS:
            assert plain(t("groups-kind-" + each + "-about")) in coordinator.last_text
        await coordinator.press(t("groups-kind-" + kind))
        await coordinator.send_text(TITLES[kind] + "\nСипаттама")
        await coordinator.send_text(TITLES[kind] + "\nОписание")
        starts = today + timedelta(days=3 + number)
        await coordinator.send_text(starts.strftime("%d.%m.%Y") + " 15:00")
        await coordinator.press(t("co-g-minutes").format(minutes=60))
        await coordinator.send_text("8")
        await coordinator.press(t("groups-format-online"))
        await coordinator.press(t("groups-language-" + lang))
        await coordinator.press(t("co-g-fac-none"))
        assert plain(t("co-g-created")) in coordinator.last_text
        assert plain(t("groups-kind-" + kind + "-about")) in coordinator.last_text

    async with bot.app.sessions() as session:
        made = {group.title_kk: group.kind for group in await session.scalars(select(GroupSession))}
    assert made == {title: kind for kind, title in TITLES.items()}

    teacher = fake_api.user(user_id=9102, language_code=lang)
    await agree(teacher, lang)
    await teacher.send_text("/menu")
    await teacher.press(t("menu-groups"))

    def shown() -> set[str]:
        return {title for title in TITLES.values() if any(title in button for button in teacher.last.buttons)}

    assert shown() == set(TITLES.values())
    value = t("groups-any")
    for kind in GROUP_KINDS:  # the kind filter steps through every kind, then back to any
        await teacher.press(t("groups-filter-kind").format(value=value))
        assert shown() == {TITLES[kind]}
        assert plain(t("groups-kind-" + kind + "-about")) in teacher.last_text
        value = t("groups-kind-" + kind)
    await teacher.press(TITLES["relax"])
    assert t("groups-kind-relax") in teacher.last_text
    await teacher.press(t("nav-back"))  # Back keeps the kind chosen
    assert shown() == {TITLES["relax"]}
    await teacher.press(t("groups-filter-kind").format(value=value))
    assert shown() == set(TITLES.values())
