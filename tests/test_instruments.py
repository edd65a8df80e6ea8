"""Instrument content and scoring: every expectation here is computed by hand
from the published scoring rules, never taken from the engine itself."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

from bot.content.instruments import (
    DEFAULT_DIR,
    AnswerError,
    Instrument,
    InstrumentError,
    L10n,
    Result,
    language,
    load_instrument,
    load_instruments,
)

KAZAKH_LETTERS = set("әғқңөұүһіӘҒҚҢӨҰҮҺІ")
PSS_REVERSED = ["pss10_4", "pss10_5", "pss10_7", "pss10_8"]
CBI_REVERSED = "cbi_work_leisure_energy"


@pytest.fixture(scope="module")
def instruments() -> dict[str, Instrument]:
    return load_instruments()


def uniform(inst: Instrument, value: int, **overrides: int) -> dict[str, int]:
    answers = {item.key: value for item in inst.items}
    answers.update(overrides)
    return answers


def by_position(inst: Instrument, values: list[int]) -> dict[str, int]:
    assert len(values) == len(inst.items)
    return {item.key: v for item, v in zip(inst.items, values, strict=True)}


def scores(result: Result) -> dict[str, int | float]:
    return {k: s.score for k, s in result.scales.items()}


def bands(result: Result) -> dict[str, str]:
    return {k: s.band for k, s in result.scales.items()}


# -- loading --------------------------------------------------------------------


def test_every_bundled_file_loads_in_display_order(instruments: dict[str, Instrument]) -> None:
    assert list(instruments) == ["who5", "cbi", "phq9", "gad7", "pss10"]
    files = sorted(p.stem for p in DEFAULT_DIR.glob("*.toml"))
    assert files == sorted(instruments)
    for path in DEFAULT_DIR.glob("*.toml"):
        assert load_instrument(path).key == path.stem
    assert {k: len(i.items) for k, i in instruments.items()} == {
        "who5": 5,
        "cbi": 19,
        "phq9": 9,
        "gad7": 7,
        "pss10": 10,
    }


def test_public_accessors(instruments: dict[str, Instrument]) -> None:
    phq = instruments["phq9"]
    assert phq.abbreviation == "PHQ-9"
    assert phq.name("ru") == "Депрессия: скрининг"
    assert phq.options_for("phq9_1") == phq.options_for(phq.items[0])
    assert phq.options_for("phq9_1")[3].label("ru") == "Почти каждый день"
    with pytest.raises(ValueError):
        phq.name("en")  # type: ignore[arg-type]
    assert [s.key for s in instruments["cbi"].scales_of(CBI_REVERSED)] == ["work"]
    assert instruments["phq9"].scale("total").thresholds("ru")[0] == (5, "Лёгкий уровень")


def test_cbi_structure_matches_the_published_inventory(instruments: dict[str, Instrument]) -> None:
    cbi = instruments["cbi"]
    keys = [i.key for i in cbi.items]
    assert [s.key for s in cbi.scales] == ["personal", "work", "students"]
    assert list(cbi.scale("personal").items) == keys[0:6]
    assert list(cbi.scale("work").items) == keys[6:13]
    assert list(cbi.scale("students").items) == keys[13:19]
    sets = [i.option_set for i in cbi.items]
    assert sets[0:6] == ["frequency"] * 6
    assert sets[6:13] == ["intensity"] * 3 + ["frequency"] * 4
    assert sets[13:19] == ["intensity"] * 4 + ["frequency"] * 2
    assert [i.key for i in cbi.items if i.reversed] == [CBI_REVERSED]
    assert all(s.method == "mean" for s in cbi.scales)


def test_only_pss_items_4_5_7_8_are_reversed(instruments: dict[str, Instrument]) -> None:
    assert [i.key for i in instruments["pss10"].items if i.reversed] == PSS_REVERSED
    for key in ("who5", "phq9", "gad7"):
        assert not any(i.reversed for i in instruments[key].items)


# -- published option order ----------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "option_set", "values", "first_ru", "last_ru"),
    [
        ("phq9", "frequency", [0, 1, 2, 3], "Ни разу", "Почти каждый день"),
        ("gad7", "frequency", [0, 1, 2, 3], "Ни разу", "Почти каждый день"),
        ("who5", "time", [5, 4, 3, 2, 1, 0], "Все время", "Никогда"),
        ("pss10", "frequency", [0, 1, 2, 3, 4], "Никогда", "Очень часто"),
        ("cbi", "frequency", [100, 75, 50, 25, 0], "Всегда", "Никогда или почти никогда"),
        ("cbi", "intensity", [100, 75, 50, 25, 0], "В очень высокой степени", "В очень низкой степени"),
    ],
)
def test_options_keep_the_published_order(
    instruments: dict[str, Instrument],
    key: str,
    option_set: str,
    values: list[int],
    first_ru: str,
    last_ru: str,
) -> None:
    inst = instruments[key]
    for item in inst.items:
        if item.option_set == option_set:
            options = inst.options_for(item)
            assert [o.value for o in options] == values
            assert options[0].label("ru") == first_ru
            assert options[-1].label("ru") == last_ru


# -- all-minimum, all-maximum, mixed -------------------------------------------------


def test_phq9_min_max_mixed(instruments: dict[str, Instrument]) -> None:
    phq = instruments["phq9"]
    r = phq.score(uniform(phq, 0))
    assert (r.scales["total"].score, r.scales["total"].band, r.safety) == (0, "minimal", False)
    r = phq.score(uniform(phq, 3))
    assert (r.scales["total"].score, r.scales["total"].band, r.safety) == (27, "severe", True)
    r = phq.score(by_position(phq, [1, 2, 0, 3, 1, 0, 2, 1, 0]))  # 1+2+0+3+1+0+2+1+0 = 10
    assert (r.scales["total"].score, r.scales["total"].band, r.safety) == (10, "moderate", False)
    assert isinstance(r.scales["total"].score, int)
    assert (r.scales["total"].min, r.scales["total"].max) == (0, 27)


def test_gad7_min_max_mixed(instruments: dict[str, Instrument]) -> None:
    gad = instruments["gad7"]
    assert (scores(gad.score(uniform(gad, 0))), bands(gad.score(uniform(gad, 0)))) == (
        {"total": 0},
        {"total": "minimal"},
    )
    assert (scores(gad.score(uniform(gad, 3))), bands(gad.score(uniform(gad, 3)))) == (
        {"total": 21},
        {"total": "severe"},
    )
    r = gad.score(by_position(gad, [2, 1, 3, 0, 1, 2, 1]))  # = 10
    assert (scores(r), bands(r), r.safety) == ({"total": 10}, {"total": "moderate"}, False)


def test_who5_min_max_mixed(instruments: dict[str, Instrument]) -> None:
    who = instruments["who5"]
    r = who.score(uniform(who, 0))
    assert (scores(r), bands(r)) == ({"wellbeing": 0}, {"wellbeing": "likely_depression"})
    assert (r.safety, r.safety_rules) == (True, ("low_wellbeing",))
    r = who.score(uniform(who, 5))  # raw 25 x 4
    assert (scores(r), bands(r), r.safety) == ({"wellbeing": 100}, {"wellbeing": "good"}, False)
    r = who.score(by_position(who, [3, 2, 4, 1, 3]))  # raw 13 x 4 = 52
    assert (scores(r), bands(r), r.safety) == ({"wellbeing": 52}, {"wellbeing": "good"}, False)


def test_pss10_min_max_mixed(instruments: dict[str, Instrument]) -> None:
    pss = instruments["pss10"]
    # Every answer "never": six plain items give 0, the four reversed give 4 each.
    assert scores(pss.score(uniform(pss, 0))) == {"total": 16}
    # Every answer "very often": 6 x 4 + 4 x 0.
    assert scores(pss.score(uniform(pss, 4))) == {"total": 24}
    lowest = uniform(pss, 0, **dict.fromkeys(PSS_REVERSED, 4))
    highest = uniform(pss, 4, **dict.fromkeys(PSS_REVERSED, 0))
    assert (scores(pss.score(lowest)), bands(pss.score(lowest))) == ({"total": 0}, {"total": "low"})
    assert (scores(pss.score(highest)), bands(pss.score(highest))) == ({"total": 40}, {"total": "high"})
    # Plain 3,2,4,_,_,3,_,_,2,3 = 17; reversed 4-1, 4-0, 4-2, 4-1 = 3+4+2+3 = 12; total 29.
    r = pss.score(by_position(pss, [3, 2, 4, 1, 0, 3, 2, 1, 2, 3]))
    assert (scores(r), bands(r)) == ({"total": 29}, {"total": "high"})


def test_cbi_min_max_mixed(instruments: dict[str, Instrument]) -> None:
    cbi = instruments["cbi"]
    # "Never"/"very low degree" everywhere: the reversed leisure item scores 100 -> 100/7.
    r = cbi.score(uniform(cbi, 0))
    assert scores(r) == {"personal": 0.0, "work": 14.3, "students": 0.0}
    assert bands(r) == {"personal": "low", "work": "low", "students": "low"}
    r = cbi.score(uniform(cbi, 100))  # work: 600/7 = 85.71
    assert scores(r) == {"personal": 100.0, "work": 85.7, "students": 100.0}
    assert bands(r) == {"personal": "severe", "work": "high", "students": "severe"}
    assert scores(cbi.score(uniform(cbi, 0, **{CBI_REVERSED: 100}))) == {
        "personal": 0,
        "work": 0,
        "students": 0,
    }
    r = cbi.score(uniform(cbi, 100, **{CBI_REVERSED: 0}))
    assert scores(r) == {"personal": 100, "work": 100, "students": 100}
    assert bands(r) == {"personal": "severe", "work": "severe", "students": "severe"}
    assert r.max_severity == 3 and r.recommendations == ("booking",)

    mixed = by_position(
        cbi,
        [75, 50, 100, 25, 50, 75]  # personal: 375 / 6 = 62.5
        + [100, 75, 50, 75, 25, 50, 25]  # work: leisure 25 -> 75; 450 / 7 = 64.29
        + [25, 0, 50, 75, 100, 25],  # students: 275 / 6 = 45.83
    )
    r = cbi.score(mixed)
    assert scores(r) == {"personal": 62.5, "work": 64.3, "students": 45.8}
    assert bands(r) == {"personal": "moderate", "work": "moderate", "students": "low"}
    assert all(isinstance(s, float) for s in scores(r).values())
    assert r.safety is False


# -- reversed items, one at a time ----------------------------------------------------


@pytest.mark.parametrize("item_key", PSS_REVERSED)
def test_each_pss_reversed_item(instruments: dict[str, Instrument], item_key: str) -> None:
    pss = instruments["pss10"]
    base = uniform(pss, 0, **dict.fromkeys(PSS_REVERSED, 4))  # total 0
    for value in range(5):
        assert pss.item_score(item_key, value) == 4 - value
        assert scores(pss.score({**base, item_key: value})) == {"total": 4 - value}
    # A plain item next to it is not reversed.
    assert scores(pss.score({**base, "pss10_3": 3})) == {"total": 3}


def test_cbi_reversed_item(instruments: dict[str, Instrument]) -> None:
    cbi = instruments["cbi"]
    base = uniform(cbi, 0)
    expected = {0: 14.3, 25: 10.7, 50: 7.1, 75: 3.6, 100: 0.0}  # (100 - v) / 7
    for value, work in expected.items():
        assert cbi.item_score(CBI_REVERSED, value) == 100 - value
        assert cbi.score({**base, CBI_REVERSED: value}).scales["work"].score == work
    # The other work items are not reversed.
    assert (
        cbi.score({**base, CBI_REVERSED: 100, "cbi_work_every_hour_tiring": 100}).scales["work"].score == 14.3
    )


def test_cbi_reversal_follows_the_key_not_the_position(instruments: dict[str, Instrument]) -> None:
    data = tomllib.loads((DEFAULT_DIR / "cbi.toml").read_text(encoding="utf-8"))
    data["items"].reverse()  # the leisure item is no longer the 13th
    moved = Instrument.model_validate(data)
    assert moved.items[6].key == CBI_REVERSED
    original = instruments["cbi"]
    pattern = by_position(
        original, [75, 50, 100, 25, 50, 75, 100, 75, 50, 75, 25, 50, 25, 25, 0, 50, 75, 100, 25]
    )
    assert scores(moved.score(pattern)) == scores(original.score(pattern))


# -- band boundaries --------------------------------------------------------------


def answers_for_total(inst: Instrument, total: int, *, skip: tuple[str, ...] = ()) -> dict[str, int]:
    """Answers whose item scores add up to `total` (plain 0..max items only)."""
    answers = uniform(inst, 0)
    for item in inst.items:
        if item.key in skip:
            continue
        top = max(o.value for o in inst.options_for(item))
        answers[item.key] = min(top, total)
        total -= answers[item.key]
    assert total == 0
    return answers


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "moderately_severe"),
        (19, "moderately_severe"),
        (20, "severe"),
        (24, "severe"),
    ],
)
def test_phq9_bands(instruments: dict[str, Instrument], total: int, band: str) -> None:
    phq = instruments["phq9"]
    r = phq.score(answers_for_total(phq, total, skip=("phq9_9",)))
    assert (r.scales["total"].score, r.scales["total"].band, r.safety) == (total, band, False)


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "severe"),
        (21, "severe"),
    ],
)
def test_gad7_bands(instruments: dict[str, Instrument], total: int, band: str) -> None:
    gad = instruments["gad7"]
    assert bands(gad.score(answers_for_total(gad, total))) == {"total": band}


@pytest.mark.parametrize(
    ("total", "band"),
    [(0, "low"), (13, "low"), (14, "moderate"), (26, "moderate"), (27, "high"), (40, "high")],
)
def test_pss10_bands(instruments: dict[str, Instrument], total: int, band: str) -> None:
    pss = instruments["pss10"]
    answers = answers_for_total(pss, total)
    answers.update({k: 4 - answers[k] for k in PSS_REVERSED})  # the wanted item scores, as answers
    r = pss.score(answers)
    assert (r.scales["total"].score, r.scales["total"].band) == (total, band)


@pytest.mark.parametrize(
    ("raw", "reported", "band", "safety"),
    [
        (0, 0, "likely_depression", True),
        (7, 28, "likely_depression", True),
        (8, 32, "poor", False),
        (12, 48, "poor", False),
        (13, 52, "good", False),
        (25, 100, "good", False),
    ],
)
def test_who5_bands_and_safety(
    instruments: dict[str, Instrument], raw: int, reported: int, band: str, safety: bool
) -> None:
    who = instruments["who5"]
    r = who.score(answers_for_total(who, raw))
    assert (r.scales["wellbeing"].score, r.scales["wellbeing"].band, r.safety) == (reported, band, safety)
    if safety:
        assert r.recommendations[0] == "booking"


@pytest.mark.parametrize(
    ("score", "band"),
    [
        (0, "low"),
        (49.9, "low"),
        (50, "moderate"),
        (74.9, "moderate"),
        (75, "high"),
        (99.9, "high"),
        (100, "severe"),
    ],
)
def test_cbi_band_boundaries_are_half_open(
    instruments: dict[str, Instrument], score: float, band: str
) -> None:
    for scale in instruments["cbi"].scales:
        assert scale.band_for(score).key == band


@pytest.mark.parametrize(
    ("quarters", "score", "band"),
    # work scale, 7 items: every "quarter" is one answer step of 25 points.
    [
        (13, 46.4, "low"),
        (14, 50.0, "moderate"),
        (20, 71.4, "moderate"),
        (21, 75.0, "high"),
        (27, 96.4, "high"),
        (28, 100.0, "severe"),
    ],
)
def test_cbi_work_boundaries_from_answers(
    instruments: dict[str, Instrument], quarters: int, score: float, band: str
) -> None:
    cbi = instruments["cbi"]
    work = list(cbi.scale("work").items)
    answers = uniform(cbi, 0, **{CBI_REVERSED: 100})
    for key in work:
        step = min(4, quarters)
        quarters -= step
        answers[key] = 25 * step if key != CBI_REVERSED else 100 - 25 * step
    r = cbi.score(answers).scales["work"]
    assert (r.score, r.band) == (score, band)


@pytest.mark.parametrize(
    ("total", "score", "band"),
    # personal scale, 6 items: sum of the answers / 6.
    [(275, 45.8, "low"), (300, 50.0, "moderate"), (450, 75.0, "high"), (575, 95.8, "high")],
)
def test_cbi_personal_boundaries_from_answers(
    instruments: dict[str, Instrument], total: int, score: float, band: str
) -> None:
    cbi = instruments["cbi"]
    answers = uniform(cbi, 0)
    for key in cbi.scale("personal").items:
        answers[key] = min(100, total)
        total -= answers[key]
    r = cbi.score(answers).scales["personal"]
    assert (r.score, r.band) == (score, band)


# -- safety --------------------------------------------------------------------------


def test_phq9_item9_triggers_safety_whatever_the_total(instruments: dict[str, Instrument]) -> None:
    phq = instruments["phq9"]
    assert phq.safety_triggered_by("phq9_9", 0) is False
    for value in (1, 2, 3):
        assert phq.safety_triggered_by("phq9_9", value) is True
        r = phq.score(uniform(phq, 0, phq9_9=value))  # total 1..3: "minimal"
        assert (r.scales["total"].band, r.safety, r.safety_rules) == (
            "minimal",
            True,
            ("self_harm_thoughts",),
        )
        assert r.recommendations[0] == "booking"
    for item in phq.items[:8]:
        assert not any(phq.safety_triggered_by(item.key, v) for v in range(4))
    # A severe total without item 9 is not a safety event by itself.
    r = phq.score(uniform(phq, 3, phq9_9=0))
    assert (r.scales["total"].score, r.scales["total"].band, r.safety) == (24, "severe", False)


def test_scale_rules_never_fire_while_answering(instruments: dict[str, Instrument]) -> None:
    who = instruments["who5"]
    assert not any(who.safety_triggered_by(i.key, 0) for i in who.items)
    for key in ("cbi", "gad7", "pss10"):
        inst = instruments[key]
        assert not inst.safety
        assert (
            inst.score(uniform(inst, max(o.value for o in inst.options_for(inst.items[0])))).safety is False
        )


def test_safety_check_rejects_bad_input(instruments: dict[str, Instrument]) -> None:
    phq = instruments["phq9"]
    with pytest.raises(AnswerError):
        phq.safety_triggered_by("phq9_10", 1)
    with pytest.raises(AnswerError):
        phq.safety_triggered_by("phq9_9", 4)


# -- answer errors and serialisation -------------------------------------------------------


def test_score_rejects_incomplete_unknown_and_invalid_answers(instruments: dict[str, Instrument]) -> None:
    phq, cbi = instruments["phq9"], instruments["cbi"]
    answers = uniform(phq, 0)
    del answers["phq9_4"]
    with pytest.raises(AnswerError, match="phq9_4"):
        phq.score(answers)
    with pytest.raises(AnswerError, match="phq9_10"):
        phq.score(uniform(phq, 0, phq9_10=0))
    with pytest.raises(AnswerError, match="phq9_2"):
        phq.score(uniform(phq, 0, phq9_2=4))
    with pytest.raises(AnswerError):
        phq.score(uniform(phq, 0, phq9_2=True))  # a bool is not an answer value
    with pytest.raises(AnswerError):
        cbi.score(uniform(cbi, 30))  # not an offered value


def test_result_round_trips_through_json(instruments: dict[str, Instrument]) -> None:
    for inst in instruments.values():
        result = inst.score(uniform(inst, inst.options_for(inst.items[0])[1].value))
        data = json.loads(json.dumps(result.to_dict()))
        back = Result.from_dict(data)
        assert back == result
        for key, scale in back.scales.items():
            assert type(scale.score) is type(result.scales[key].score)
            assert scale.band_label("kk") and scale.band_meaning("ru") and scale.name("kk")
    r = instruments["cbi"].score(uniform(instruments["cbi"], 50))
    assert r.to_dict()["scales"]["work"]["score"] == 50.0
    assert r.to_dict()["scales"]["work"]["band_label"] == {"kk": "Орташа", "ru": "Умеренный"}


# -- broken files -----------------------------------------------------------------------------


def _break(tmp_path: Path, name: str, old: str, new: str) -> Path:
    text = (DEFAULT_DIR / name).read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} must occur exactly once in {name}"
    path = tmp_path / name
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


BROKEN = [
    pytest.param(
        "phq9.toml",
        'text.kk = "Ұйықтай алмау, ұйқының жиі бөлінуі немесе тым көп ұйықтау"\n',
        "",
        ["phq9.toml: items[2].text.kk:", "Field required"],
        id="missing-kk-text",
    ),
    pytest.param(
        "who5.toml",
        'label.ru = "Некоторое время"',
        'label.ru = "  "',
        ["who5.toml: option_sets.time.options[4].label.ru:", "empty text"],
        id="blank-ru-label",
    ),
    pytest.param(
        "cbi.toml",
        'key = "cbi_work_emotionally_exhausting"\noption_set = "intensity"',
        'key = "cbi_work_emotionally_exhausting"\noption_set = "freq2"',
        ["cbi.toml: items[6].option_set: unknown option set 'freq2'"],
        id="unknown-option-set",
    ),
    pytest.param(
        "gad7.toml",
        "min = 10\nmax = 14",
        "min = 11\nmax = 14",
        ["gad7.toml: scales[0].bands[2].min:", "gap"],
        id="gap-in-bands",
    ),
    pytest.param(
        "gad7.toml",
        "min = 10\nmax = 14",
        "min = 9\nmax = 14",
        ["gad7.toml: scales[0].bands[2].min:", "overlap"],
        id="overlap-in-bands",
    ),
    pytest.param(
        "who5.toml",
        "multiplier = 4 ",
        "multiplier = 5 ",
        ["who5.toml: scales[0].max: declared 100 but the items give 125"],
        id="declared-range-wrong",
    ),
    pytest.param(
        "pss10.toml",
        'key = "pss10_2"',
        'key = "pss10_1"',
        ["pss10.toml: items[1].key:", "duplicate item key 'pss10_1'"],
        id="duplicate-item-key",
    ),
    pytest.param(
        "phq9.toml",
        '"phq9_8", "phq9_9"]',
        '"phq9_8", "phq9_9", "phq9_99"]',
        ["phq9.toml: scales[0].items[9]:", "unknown item 'phq9_99'"],
        id="scale-unknown-item",
    ),
    pytest.param(
        "phq9.toml",
        "value = 3\nlabel.kk",
        "value = 4\nlabel.kk",
        ["phq9.toml: option_sets.frequency.options[3].value:", "outside declared range 0..3"],
        id="option-value-out-of-range",
    ),
    pytest.param(
        "who5.toml",
        "value = 1\nlabel.kk",
        "value = 2\nlabel.kk",
        ["who5.toml: option_sets.time.options[4].value:", "duplicate option value 2"],
        id="duplicate-option-value",
    ),
    pytest.param(
        "pss10.toml",
        'value = 4\nlabel.kk = "Өте жиі"',
        'value = 5\nlabel.kk = "Өте жиі"',
        ["pss10.toml: option_sets.frequency.options[4].value:", "outside declared range"],
        id="value-above-max",
    ),
    pytest.param(
        "pss10.toml",
        "[option_sets.frequency]\nmin = 0\nmax = 4",
        "[option_sets.frequency]\nmin = 0\nmax = 5",
        ["pss10.toml: items[3].reversed:", "cannot reverse"],
        id="reversed-on-asymmetric-set",
    ),
    pytest.param(
        "cbi.toml",
        "reversed = true",
        "reverse = true",
        ["cbi.toml: items[12].reverse:", "Extra inputs are not permitted"],
        id="typo-in-field-name",
    ),
    pytest.param(
        "gad7.toml",
        "severity = 3",
        "severity = 4",
        ["gad7.toml: scales[0].bands[3].severity:"],
        id="severity-out-of-range",
    ),
    pytest.param(
        "phq9.toml",
        'item = "phq9_9"',
        'item = "phq9_0"',
        ["phq9.toml: safety[0].item:", "unknown item 'phq9_0'"],
        id="safety-unknown-item",
    ),
    pytest.param(
        "phq9.toml",
        'op = ">"\nvalue = 0',
        'op = ">"\nvalue = 3',
        ["phq9.toml: safety[0].value:", "fires for []"],
        id="safety-rule-never-fires",
    ),
    pytest.param(
        "who5.toml",
        'recommend = ["exercise:evening"]',
        'recommend = ["therapy"]',
        ["who5.toml: scales[0].bands[2].recommend[0]:"],
        id="unknown-recommendation",
    ),
    pytest.param(
        "gad7.toml", "order = 40", "order = 40 40", ["gad7.toml:", "invalid TOML"], id="invalid-toml"
    ),
]


@pytest.mark.parametrize(("name", "old", "new", "expected"), BROKEN)
def test_broken_files_name_the_file_and_field(
    tmp_path: Path, name: str, old: str, new: str, expected: list[str]
) -> None:
    path = _break(tmp_path, name, old, new)
    with pytest.raises(InstrumentError) as err:
        load_instrument(path)
    for fragment in expected:
        assert fragment in str(err.value)
    assert err.value.file == name


def test_key_must_match_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "anxiety.toml"
    path.write_text((DEFAULT_DIR / "gad7.toml").read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(
        InstrumentError, match=r"anxiety\.toml: key: key 'gad7' must match the file name 'anxiety'"
    ):
        load_instrument(path)


def test_load_instruments_reports_the_broken_file(tmp_path: Path) -> None:
    for path in DEFAULT_DIR.glob("*.toml"):
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    seventh = 'key = "cbi_work_emotionally_exhausting"\noption_set = '
    _break(tmp_path, "cbi.toml", seventh + '"intensity"', seventh + '"freq2"')
    with pytest.raises(
        InstrumentError, match=re.escape("cbi.toml: items[6].option_set: unknown option set 'freq2'")
    ):
        load_instruments(tmp_path)
    with pytest.raises(InstrumentError, match="no instrument files"):
        load_instruments(tmp_path / "empty")


GAD2 = """
key = "gad2"
order = 5
abbreviation = "GAD-2"
source = "Kroenke K. et al. Ann Intern Med. 2007;146(5):317-325."
name.kk = "Мазасыздық: қысқа тексеру"
name.ru = "Тревога: короткий скрининг"
intro.kk = "Екі сұрақ."
intro.ru = "Два вопроса."
translation.kk = "Ресми емес аударма."
translation.ru = "Неофициальный перевод."

[option_sets.f]
min = 0
max = 3
options = [
  { value = 0, label = { kk = "Мүлдем болған жоқ", ru = "Ни разу" } },
  { value = 1, label = { kk = "Бірнеше күн", ru = "Несколько дней" } },
  { value = 2, label = { kk = "Жартысынан көбі", ru = "Более недели" } },
  { value = 3, label = { kk = "Күн сайын дерлік", ru = "Почти каждый день" } },
]

[[items]]
key = "gad2_1"
option_set = "f"
text = { kk = "Қобалжу", ru = "Нервозность" }

[[items]]
key = "gad2_2"
option_set = "f"
text = { kk = "Уайымды тоқтата алмау", ru = "Неспособность остановить беспокойство" }

[[scales]]
key = "total"
name = { kk = "Жалпы", ru = "Сумма" }
items = ["gad2_1", "gad2_2"]
method = "sum"
min = 0
max = 6
band_source = "Kroenke et al. (2007): 3 or more is positive."

[[scales.bands]]
min = 0
max = 2
key = "negative"
severity = 0
label = { kk = "Теріс", ru = "Отрицательный" }
meaning = { kk = "Белгі аз.", ru = "Признаков мало." }

[[scales.bands]]
min = 3
max = 6
key = "positive"
severity = 2
label = { kk = "Оң", ru = "Положительный" }
meaning = { kk = "Толық тест.", ru = "Пройдите полный тест." }
recommend = ["booking"]
"""


def test_a_new_instrument_is_just_a_new_file(tmp_path: Path) -> None:
    for path in DEFAULT_DIR.glob("*.toml"):
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "gad2.toml").write_text(GAD2, encoding="utf-8")
    loaded = load_instruments(tmp_path)
    assert list(loaded) == ["gad2", "who5", "cbi", "phq9", "gad7", "pss10"]
    r = loaded["gad2"].score({"gad2_1": 1, "gad2_2": 2})
    assert (r.scales["total"].score, r.scales["total"].band, r.recommendations) == (
        3,
        "positive",
        ("booking",),
    )
    # A scale that silently lost an item no longer matches its declared range.
    one_item = GAD2.replace('items = ["gad2_1", "gad2_2"]', 'items = ["gad2_1"]')
    (tmp_path / "gad2.toml").write_text(one_item, encoding="utf-8")
    with pytest.raises(
        InstrumentError, match=r"gad2\.toml: scales\[0\]\.max: declared 6 but the items give 3"
    ):
        load_instruments(tmp_path)


# -- texts --------------------------------------------------------------------------------------


def _texts(node: object, path: str = "") -> Iterator[tuple[str, L10n]]:
    if isinstance(node, L10n):
        yield path, node
    elif isinstance(node, BaseModel):
        for name in type(node).model_fields:
            yield from _texts(getattr(node, name), f"{path}.{name}" if path else name)
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from _texts(v, f"{path}.{k}")
    elif isinstance(node, tuple | list):
        for i, v in enumerate(node):
            yield from _texts(v, f"{path}[{i}]")


def test_every_text_has_kazakh_and_russian(instruments: dict[str, Instrument]) -> None:
    for key, inst in instruments.items():
        texts = list(_texts(inst))
        assert len(texts) > 20, key
        for path, text in texts:
            assert text.kk.strip() and text.ru.strip(), f"{key}: {path}"
            assert text.kk != text.ru, f"{key}: {path}: kk and ru identical"
            # Swapped languages would put Kazakh letters into the Russian text.
            assert not KAZAKH_LETTERS & set(text.ru), f"{key}: {path}: Kazakh letters in ru"


def test_kazakh_texts_use_kazakh_letters(instruments: dict[str, Instrument]) -> None:
    for key, inst in instruments.items():
        sentences = [inst.name, inst.intro, inst.translation]
        sentences += [i.text for i in inst.items]
        sentences += [s.name for s in inst.scales]
        sentences += [b.meaning for s in inst.scales for b in s.bands]
        for text in sentences:
            assert KAZAKH_LETTERS & set(text.kk), f"{key}: no Kazakh letters in {text.kk!r}"
        # Short labels ("Кейде") may not need one, but a whole set of them does.
        for name, option_set in inst.option_sets.items():
            assert KAZAKH_LETTERS & set("".join(o.label.kk for o in option_set.options)), f"{key}: {name}"
        for scale in inst.scales:
            assert KAZAKH_LETTERS & set("".join(b.label.kk for b in scale.bands)), f"{key}: {scale.key}"


def test_option_labels_fit_a_phone_button(instruments: dict[str, Instrument]) -> None:
    for key, inst in instruments.items():
        for option_set in inst.option_sets.values():
            for option in option_set.options:
                for lang in ("kk", "ru"):
                    assert len(option.label(lang)) <= 30, f"{key}: {option.label(lang)!r}"


def test_translation_notes_are_honest(instruments: dict[str, Instrument]) -> None:
    for inst in instruments.values():
        assert "ресми емес" in inst.translation.kk and "валидацияланбаған" in inst.translation.kk
    for key in ("cbi", "pss10"):
        assert "Неофициальный перевод" in instruments[key].translation.ru
        assert "не валидирован" in instruments[key].translation.ru
    for key in ("phq9", "gad7", "who5"):
        assert "Официальный русский перевод" in instruments[key].translation.ru


def test_recommended_exercises_exist(instruments: dict[str, Instrument]) -> None:
    exercises = pytest.importorskip("bot.content.exercises")
    catalogue = exercises.load_exercises()
    for key, inst in instruments.items():
        keys = [k for s in inst.scales for b in s.bands for k in b.recommend]
        keys += [k for r in inst.safety for k in r.recommend]
        assert "booking" in keys, key
        for ref in keys:
            if ref.startswith("exercise:"):
                assert catalogue.get(ref.removeprefix("exercise:")) is not None, f"{key}: unknown {ref!r}"


def test_language_accepts_only_the_languages_texts_are_written_in() -> None:
    assert [language(code) for code in ("kk", "ru")] == ["kk", "ru"]
    with pytest.raises(ValueError, match="unsupported language 'en'"):
        language("en")
