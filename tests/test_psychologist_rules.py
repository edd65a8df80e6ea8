"""The rules behind the psychologist's cabinet, anonymous questions and the check-in (bot/services),
and the callback data their buttons carry."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from aiogram.filters.callback_data import CallbackData

from bot.config import BookingConfig
from bot.services import availability, profiles, questions
from bot.services.checkin import checkin_time
from bot.services.safety import About, Kind, Signal
from bot.telegram import callbacks as cb
from storage.models import AnonQuestion, PsychologistProfile, User

ALMATY = ZoneInfo("Asia/Almaty")
NOW = datetime(2030, 3, 4, 4, 0, tzinfo=UTC)  # Monday 09:00 in Almaty


def profile(**fields: object) -> PsychologistProfile:
    defaults: dict[str, object] = {"display_name": "", "languages": "", "formats": "", "regions": ""}
    return PsychologistProfile(**(defaults | fields))


def test_a_text_field_is_cut_to_its_limit_and_an_empty_one_cleared() -> None:
    psy = profile(address="old")
    assert profiles.set_text(psy, "bio_ru", "  " + "я" * 700 + "  ")
    assert psy.bio_ru == "я" * 600
    assert profiles.set_text(psy, "address", "   ")
    assert psy.address is None
    assert profiles.set_text(psy, "name", "")
    assert psy.display_name == ""


def test_a_link_must_be_https() -> None:
    psy = profile(video_link="https://meet.example/a")
    assert not profiles.set_text(psy, "link", "http://meet.example/b")
    assert psy.video_link == "https://meet.example/a"
    assert profiles.set_text(psy, "link", "https://meet.example/b")
    assert psy.video_link == "https://meet.example/b"


@pytest.mark.parametrize(
    "link",
    [
        "https://meet.example/a b",
        "https://meet.example/a\nhttps://other.example",
        "https://meet",
        "https:///path",
        "meet.example/room",
        "https://meet.example/" + "x" * 200,
    ],
)
def test_a_link_is_one_https_address_refused_not_cut(link: str) -> None:
    psy = profile(video_link="https://meet.example/a")
    assert not profiles.set_text(psy, "link", link)
    assert psy.video_link == "https://meet.example/a"


def test_text_limits_count_utf16_units_as_telegram_does() -> None:
    psy = profile()
    assert profiles.set_text(psy, "name", "🙂" * 40)  # 80 units: over the 64 allowed
    assert psy.display_name == "🙂" * 32


def test_toggling_keeps_the_offered_order_and_publishes_a_complete_profile() -> None:
    psy = profile(display_name="Айгүл", languages="ru")
    profiles.toggle(psy, "languages", "kk", ["kk", "ru"])
    assert psy.languages == "kk,ru"
    assert not psy.published  # no format yet
    profiles.toggle(psy, "formats", "video", ["video", "chat", "office"])
    assert psy.published
    profiles.toggle(psy, "languages", "ru", ["kk", "ru"])
    profiles.toggle(psy, "languages", "en", ["kk", "ru"])  # not offered: nothing changes
    assert psy.languages == "kk"


def test_slot_and_template_choices_are_those_the_buttons_offer() -> None:
    rules = BookingConfig(default_duration_min=55)
    assert availability.durations(rules) == [30, 45, 50, 55, 60, 90]
    assert availability.slot_valid("video", 55, rules)
    assert not availability.slot_valid("video", 40, rules)
    assert not availability.slot_valid("phone", 50, rules)
    assert availability.template_valid(6, "office", 12)
    assert not availability.template_valid(7, "office", 4)
    assert not availability.template_valid(0, "office", 13)


def test_a_template_stops_at_the_booking_horizon() -> None:
    rules = BookingConfig(horizon_days=10, default_duration_min=50, default_break_min=10)
    starts = availability.template_starts(1, time(15), time(18), 4, rules, ALMATY, NOW)  # Tuesdays 15-18
    assert len(starts) == 6  # three a day, two Tuesdays within ten days
    assert all(NOW < start < NOW + timedelta(days=10) for start in starts)


@pytest.mark.parametrize(
    ("kind", "urgent"), [(Kind.CRISIS, True), (Kind.CONCERN, True), (Kind.DISTRESS, False), (None, False)]
)
def test_crises_and_worries_for_someone_are_urgent(kind: Kind | None, urgent: bool) -> None:
    signal = Signal(kind, About.SELF, "rule") if kind is not None else None
    assert questions.is_urgent(signal) is urgent


def test_the_teacher_may_reply_to_an_answer_until_the_reply_time_is_over() -> None:
    teacher, other = User(id=1), User(id=2)
    question = AnonQuestion(
        teacher_id=1, psychologist_id=3, status="answered", reply_until=NOW + timedelta(hours=1)
    )
    assert questions.can_reply(question, teacher, NOW)
    assert not questions.can_reply(question, other, NOW)
    assert not questions.can_reply(question, teacher, NOW + timedelta(hours=2))
    question.status = "taken"
    assert not questions.can_reply(question, teacher, NOW)


def test_a_checkin_falls_on_a_full_hour_unless_the_period_is_short() -> None:
    moment = datetime(2030, 3, 4, 4, 17, 33, tzinfo=UTC)
    assert checkin_time(24, moment) == datetime(2030, 3, 5, 5, 0, tzinfo=UTC)
    assert checkin_time(0.01, moment) == moment + timedelta(hours=0.01)


@pytest.mark.parametrize(
    ("data", "packed"),
    [
        (
            cb.Psy(a=cb.PsyAction.TEMPLATE_APPLY, v="1", t="0900", e="1200", f="video", n=12),
            "ps:twgo:1:0900:1200:video:12:0",
        ),
        (cb.Psy(a=cb.PsyAction.CANCEL_NO_REASON, id=123456789), "ps:bcxn:::::0:123456789"),
        (cb.Ask(action=cb.AskAction.TAKE, id=42), "aq:take:42"),
        (cb.Chat(action=cb.ChatAction.RATE, id=7, value="1"), "ch:rate:7:1"),
        (cb.Relax(action=cb.RelaxAction.CARD, value="box", o=cb.RelaxFrom.MENU), "rx:card:box:m"),
        (
            cb.Admin(action=cb.AdminAction.MAKE, role="psychologist", region="KZ-75"),
            "ad:make:psychologist:KZ-75",
        ),
    ],
)
def test_callback_data_packs_as_before_and_fits_telegrams_64_bytes(data: CallbackData, packed: str) -> None:
    assert data.pack() == packed
    assert len(packed.encode()) <= 64
    assert type(data).unpack(packed) == data


def test_a_relaxation_button_sent_before_its_origin_still_opens_its_card() -> None:
    """Nudges and safety screens already in chats carry no origin: their card goes back to its category."""
    old = cb.Relax.unpack("rx:card:grounding")
    assert old == cb.Relax(action=cb.RelaxAction.CARD, value="grounding", o=cb.RelaxFrom.CATEGORY)
    assert cb.Relax.unpack("rx:journal:") == cb.Relax(action=cb.RelaxAction.JOURNAL)
