"""The cabinet's programme end to end, in Kazakh and Russian: a coordinator creates a group session of
each kind (consultation group, training, art-therapy group, relaxation session), each kind with its
description, and teachers find them by kind; the self-help library opens from a self-check result
("what may help now") and pages a reading in one message; the art-therapy prompts say the bot never
interprets a drawing, and a journal drawing reaches the booked psychologist only with consent; the
programme of the month shows this month's and the next month's sessions by kind, each opening its card
and its calendar file."""

import io
import re
from datetime import datetime, timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from bot.content.exercises import catalogue
from bot.content.library import library
from bot.telegram.callbacks import Drawing
from bot.telegram.i18n import compile_translations
from bot.views import dates
from handlers.teacher import groups as teacher_groups
from storage.models import GroupSession
from storage.models.base import utcnow
from storage.models.groups import GROUP_KINDS
from storage.repo import groups as groups_repo
from storage.repo import relax as relax_repo
from storage.repo import users
from tests import test_selfcheck_e2e as selfcheck_e2e
from tests.ics_reader import event_of
from tests.test_groups_e2e import agree, plain, set_role
from tests.test_sessions_e2e import shown as screen
from tests.waiting import wait_for

CATALOGUES = compile_translations()
TITLES = {"consult": "Сөйлесу", "training": "Тренинг-1", "art": "Сурет", "relax": "Тыныштық"}


def texts(lang: str):
    return lambda key: CATALOGUES[lang].gettext(key)


async def create_session(coordinator, lang: str, kind: str, title: str, starts: datetime) -> None:
    """The coordinator's form, an online session of `kind` in `lang` starting at `starts` (local)."""
    t = texts(lang)
    await coordinator.send_text("/menu")
    await coordinator.press(t("menu-coord"))
    await coordinator.press(t("co-gnew"))
    # Every kind is described before the coordinator picks one.
    for each in GROUP_KINDS:
        assert plain(t("groups-kind-" + each + "-about")) in coordinator.last_text
    await coordinator.press(t("groups-kind-" + kind))
    await coordinator.send_text(title + "\nСипаттама")
    await coordinator.send_text(title + "\nОписание")
    await coordinator.send_text(starts.strftime("%d.%m.%Y %H:%M"))
    await coordinator.press(t("co-g-minutes").format(minutes=60))
    await coordinator.send_text("8")
    await coordinator.press(t("groups-format-online"))
    await coordinator.press(t("groups-language-" + lang))
    await coordinator.press(t("co-g-fac-none"))
    assert plain(t("co-g-created")) in coordinator.last_text
    assert plain(t("groups-kind-" + kind + "-about")) in coordinator.last_text


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_a_coordinator_creates_each_kind_and_teachers_find_them_by_kind(fake_api, start_bot, lang):
    t = texts(lang)
    bot = await start_bot()
    coordinator = fake_api.user(user_id=9101, language_code=lang)
    await agree(coordinator, lang)
    await set_role(bot, 9101, "coordinator")
    today = utcnow().astimezone(bot.settings.tz)

    for number, kind in enumerate(GROUP_KINDS):
        starts = (today + timedelta(days=3 + number)).replace(hour=15, minute=0)
        await create_session(coordinator, lang, kind, TITLES[kind], starts)

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
    for kind in GROUP_KINDS:  # the kind's picker: any kind in one tap, the current one marked
        await teacher.press(t("groups-filter-kind").format(value=value))
        assert teacher.last_text == t("groups-pick-kind")
        assert t("groups-pick-current").format(value=value) in teacher.last.buttons
        await teacher.press(t("groups-kind-" + kind))
        assert shown() == {TITLES[kind]}
        assert plain(t("groups-kind-" + kind + "-about")) in teacher.last_text
        value = t("groups-kind-" + kind)
    await teacher.press(TITLES["relax"])
    assert t("groups-kind-relax") in teacher.last_text
    await teacher.press(t("nav-back"))  # Back keeps the kind chosen
    assert shown() == {TITLES["relax"]}
    await teacher.press(t("groups-filter-kind").format(value=value))
    await teacher.press(t("groups-any"))
    assert shown() == set(TITLES.values())


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_the_library_opens_from_a_self_check_result_and_pages_in_one_message(fake_api, start_bot, lang):
    t = texts(lang)
    await start_bot()
    teacher = fake_api.user(user_id=9201, language_code=lang)
    await selfcheck_e2e.agree(teacher, lang)
    await selfcheck_e2e.open_instrument(teacher, "pss10", lang)
    await teacher.press(selfcheck_e2e.TEXTS[lang]["begin"])
    await selfcheck_e2e.answer(teacher, "pss10", selfcheck_e2e.CASES["pss10"][0], lang)
    result = teacher.last
    assert "29 / 40" in result.text

    # What may help now: the readings on the questionnaire's topics, in the result's own message.
    await teacher.press(t("library-may-help"))
    assert (
        plain(t("library-help-title")) in teacher.last_text and teacher.last.message_id == result.message_id
    )
    offered = [reading for reading in library() if any(reading.name(lang) in b for b in teacher.last.buttons)]
    assert offered == library().for_instrument("pss10") and len(offered) >= 2
    burnout = library().get("burnout")
    await teacher.press(burnout.name(lang))
    pages = len(burnout.page)
    for number in range(pages):  # paged in place: one message, Next until the end, sources on the last
        assert teacher.last.message_id == result.message_id
        assert t("library-page").format(n=number + 1, total=pages) in teacher.last_text
        assert burnout.text(number, lang)[:40] in teacher.last_text
        if number < pages - 1:
            assert plain(t("library-sources")) not in teacher.last_text
            await teacher.press(t("library-next"))
    assert t("library-next") not in teacher.last.buttons
    assert plain(t("library-sources")) in teacher.last_text
    assert all(source.title[:30] in teacher.last_text for source in burnout.source)
    await teacher.press(t("library-prev"))
    assert t("library-page").format(n=pages - 1, total=pages) in teacher.last_text
    assert any(t("nav-main") in b for b in teacher.last.buttons)
    # Back leads to what may help now, then to the result itself.
    await teacher.press(t("nav-back"))
    assert plain(t("library-help-title")) in teacher.last_text
    await teacher.press(t("nav-back"))
    assert "29 / 40" in teacher.last_text and t("library-may-help") in teacher.last.buttons

    # The whole library is in Relaxation too.
    await teacher.press(t("nav-main"))
    await teacher.press(t("menu-relax"))
    await teacher.press(t("library-open"))
    assert all(any(reading.name(lang) in b for b in teacher.last.buttons) for reading in library())
    await teacher.press(library().get("grief").name(lang))
    await teacher.press(t("nav-back"))
    assert plain(t("library-title")) in teacher.last_text

    # Art therapy: the drawing prompts, each card saying the bot never interprets a drawing.
    await teacher.press(t("nav-main"))
    await teacher.press(t("menu-relax"))
    await teacher.press(t("relax-cat-art"))
    prompts = [e for e in catalogue() if e.category == "art"]
    assert len(prompts) >= 4 and all(any(e.title[lang] in b for b in teacher.last.buttons) for e in prompts)
    await teacher.press(catalogue()["mandala"].title[lang])
    assert catalogue()["mandala"].note[lang] in teacher.last_text
    await teacher.press(t("relax-template"))  # the mandala's rings to print, a PDF
    template = teacher.documents[-1]
    assert template.filename.endswith(".pdf") and not template.protected
    text = " ".join(PdfReader(io.BytesIO(template.file.data)).pages[0].extract_text().split())
    assert catalogue()["mandala"].title[lang] in text


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_a_drawing_reaches_the_booked_psychologist_only_with_consent(fake_api, start_bot, lang):
    t = texts(lang)
    bot = await start_bot()
    teacher = fake_api.user(user_id=9301, first_name="Гульнара", language_code=lang)
    psychologist = fake_api.user(user_id=9302, language_code="ru")
    code = await agree(teacher, lang)
    drawing = fake_api.register_file(b"\xff\xd8\xff drawing", "drawing.jpg", "image/jpeg", "photo")
    async with bot.app.sessions.begin() as session:
        owner = await users.by_telegram_id(session, teacher.id)
        await relax_repo.add_journal_entry(session, owner.id, "mandala", "photo", drawing.file_id)

    async def open_drawing() -> None:
        await teacher.send_text("/menu")
        await teacher.press(t("menu-relax"))
        await teacher.press(t("relax-journal"))
        await teacher.press(catalogue()["mandala"].title[lang])
        assert teacher.last.kind == "photo"

    # No consultation yet: nobody to show it to.
    await open_drawing()
    await teacher.press(t("drawing-share"))
    assert t("drawing-none") in teacher.last_text

    await selfcheck_e2e.booked_with_anna(bot, teacher.id, psychologist.id, "ru")
    # The booking's notice reaches the psychologist (the outbox); nothing else may before consent.
    await wait_for(lambda: len(psychologist.messages) == 1)
    told = len(psychologist.messages)

    # Pick the consultation, read what the psychologist will see; only Send sends.
    await open_drawing()
    await teacher.press(t("drawing-share"))
    assert plain(t("drawing-pick")) in teacher.last_text
    await teacher.press("Анна")
    assert code in teacher.last_text and "Анна" in teacher.last_text
    assert len(psychologist.messages) == told, "nothing leaves before the teacher consents"
    consent = teacher.last.message_id
    send = next(
        b["callback_data"]
        for row in teacher.last.inline_keyboard
        for b in row
        if b["text"] == t("drawing-send")
    )
    await teacher.press(t("drawing-send"))
    assert t("drawing-sent").format(name="Анна") in teacher.last_text
    received = [m for m in psychologist.messages if m.kind == "photo"]
    assert len(received) == 1 and received[0].file.file_id == drawing.file_id
    assert code in received[0].caption and "Гульнара" not in received[0].caption
    assert plain(CATALOGUES["ru"].gettext("drawing-for-psy").split("}", 1)[1]) in received[0].caption

    # The same Send again (a double tap, an old message) sends nothing more.
    assert Drawing.unpack(send).a == "send"
    await teacher.press_data(send, message_id=consent)
    assert plain(t("drawing-not-sent")) in teacher.last_text
    assert len([m for m in psychologist.messages if m.kind == "photo"]) == 1


NEXT_TITLES = {"consult": "Әңгіме", "training": "Тренинг-2", "art": "Бояу", "relax": "Демалыс"}


def this_month_moment(now: datetime) -> datetime:
    """A moment still ahead in now's month: tomorrow at 15:00, or in a few minutes on its last day."""
    tomorrow = (now + timedelta(days=1)).replace(hour=15, minute=0, second=0, microsecond=0)
    if tomorrow.month == now.month:
        return tomorrow
    return (now + timedelta(minutes=3)).replace(second=0, microsecond=0)


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_the_programme_of_the_month_by_kind_then_the_next_month_and_a_sessions_calendar_file(
    fake_api, start_bot, lang, monkeypatch
):
    t = texts(lang)
    monkeypatch.setattr(teacher_groups, "PROGRAMME_PAGE", 3)  # four sessions this month: two pages
    bot = await start_bot()
    tz = bot.settings.tz
    # Two coordinators, one month each (one user typing the eight forms would meet the per-second throttle).
    coordinators = [fake_api.user(user_id=9401 + n, language_code=lang) for n in range(2)]
    for coordinator in coordinators:
        await agree(coordinator, lang)
        await set_role(bot, coordinator.id, "coordinator")
    now = utcnow().astimezone(tz)
    soon = this_month_moment(now)
    following = (now.replace(day=1) + timedelta(days=32)).replace(
        day=10, hour=15, minute=0, second=0, microsecond=0
    )
    # Created in the reverse order of kinds: the programme puts them in the kinds' order.
    for kind in reversed(GROUP_KINDS):
        await create_session(coordinators[0], lang, kind, TITLES[kind], soon)
        await create_session(coordinators[1], lang, kind, NEXT_TITLES[kind], following)
    async with bot.app.sessions.begin() as session:  # what the teacher may not join is not shown
        hidden = {"elsewhere": "KZ-11", "gone": None}
        for title, region in hidden.items():
            group = await groups_repo.create_session(
                session,
                title_kk=title,
                title_ru=title,
                starts_at=soon,
                capacity=5,
                format="offline" if region else "online",
                kind="art",
                region=region,
                language=lang,
            )
            group.status = "open" if region else "cancelled"

    teacher = fake_api.user(user_id=9403, language_code=lang)
    await agree(teacher, lang)
    await set_role(bot, 9403, "teacher", region="KZ-10")
    await teacher.send_text("/menu")
    await teacher.press(t("menu-groups"))
    await teacher.press(t("groups-programme"))

    def heading(first: datetime) -> str:
        return re.sub(r"<[^>]+>", "", t("groups-programme-title").format(month=dates.month(first, lang)))

    def titles(shown: dict[str, str]) -> list[str]:
        return [title for title in shown.values() if any(title in b for b in teacher.last.buttons)]

    # This month, by kind in the kinds' order, three to a page: each kind with what it is, each
    # session with its day and time.
    pages = [teacher.last_text]
    assert heading(soon) in pages[0] and t("groups-programme-page").format(n=1, total=2) in pages[0]
    assert titles(TITLES) == [TITLES[kind] for kind in GROUP_KINDS[:3]] and not titles(NEXT_TITLES)
    await teacher.press(t("groups-programme-more"))
    pages.append(teacher.last_text)
    assert titles(TITLES) == [TITLES[GROUP_KINDS[3]]]
    assert t("groups-programme-page").format(n=2, total=2) in pages[1]
    text = "\n".join(pages)
    assert not any(title in text or any(title in b for b in teacher.last.buttons) for title in hidden)
    about = [text.index(plain(t("groups-kind-" + kind + "-about"))) for kind in GROUP_KINDS]
    shown_at = [text.index(dates.moment(soon, tz, lang) + " · " + TITLES[kind]) for kind in GROUP_KINDS]
    assert about == sorted(about) and all(a < s for a, s in zip(about, shown_at, strict=True))
    assert all(s < a for s, a in zip(shown_at, about[1:], strict=False))
    await teacher.press(t("groups-programme-prev"))
    assert titles(TITLES) == [TITLES[kind] for kind in GROUP_KINDS[:3]]

    # The next month, then one of its sessions: joined from its card, with its calendar file.
    await teacher.press(t("groups-programme-next").format(month=dates.month(following, lang)))
    assert heading(following) in teacher.last_text
    assert titles(NEXT_TITLES) == [NEXT_TITLES[kind] for kind in GROUP_KINDS[:3]] and not titles(TITLES)
    await teacher.press(NEXT_TITLES["training"])
    assert NEXT_TITLES["training"] in teacher.last_text and t("groups-kind-training") in teacher.last_text
    await teacher.press(t("groups-join"))
    assert plain(t("groups-you-enrolled")) in teacher.last_text
    await teacher.press(t("sess-ics-button"))
    document = teacher.documents[-1]
    assert document.filename.endswith(".ics") and not document.protected
    _calendar, event = event_of(document.file.data)
    assert event.one("DTSTART").value == following.strftime("%Y%m%dT%H%M%S")

    # Back from the card is the programme it was opened from; from there, this month and the list.
    await teacher.press(t("nav-back"))
    assert heading(following) in screen(teacher).text
    await teacher.press(t("groups-programme-this").format(month=dates.month(soon, lang)))
    assert heading(soon) in screen(teacher).text
    await teacher.press(t("nav-back"))
    assert (
        plain(t("groups-title")) in screen(teacher).text and t("groups-programme") in screen(teacher).buttons
    )
