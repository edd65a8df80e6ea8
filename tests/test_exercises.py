from __future__ import annotations

import itertools
import math
from datetime import date, timedelta
from pathlib import Path

import pytest

from bot.content.exercises import CATEGORIES, ROTATED, ContentError, load_exercises

KAZAKH_LETTERS = set("әғқңөұүһіӘҒҚҢӨҰҮҺІ")
REQUIRED = {
    "box",
    "478",
    "belly",
    "pmr",
    "grounding",
    "bodyscan",
    "stop",
    "pause",
    "voice",
    "drawing",
    "evening",
    "resource",
    "safeplace",
    "boundary",
    "mandala",
}


@pytest.fixture(scope="module")
def catalogue():
    return load_exercises()


def texts(exercise, lang):
    yield exercise.title[lang]
    yield exercise.why[lang]
    if exercise.note:
        yield exercise.note[lang]
    for step in (*exercise.intro, *exercise.steps, *exercise.outro):
        yield step.text[lang]


# ── catalogue ────────────────────────────────────────────────────────────────


def test_catalogue_loads_in_order_with_lookup(catalogue):
    assert len(catalogue) >= 10
    assert {exercise.id for exercise in catalogue} >= REQUIRED
    first = next(iter(catalogue))
    assert catalogue[first.id] is first and catalogue.get("nope") is None
    assert all(exercise.category in CATEGORIES for exercise in catalogue)
    assert {e.id for e in catalogue.by_category("breathing")} >= {"box", "478", "belly"}


def test_every_text_in_both_languages(catalogue):
    for exercise in catalogue:
        for lang in ("kk", "ru"):
            assert all(text.strip() for text in texts(exercise, lang)), exercise.id
        for kk in texts(exercise, "kk"):
            assert KAZAKH_LETTERS & set(kk), f"{exercise.id}: no Kazakh letters in {kk!r}"
        for ru in texts(exercise, "ru"):
            assert not KAZAKH_LETTERS & set(ru), f"{exercise.id}: Kazakh letters in Russian {ru!r}"


def test_journal_flags(catalogue):
    art = ["drawing", "resource", "safeplace", "boundary", "mandala"]  # drawings for the private journal
    assert [e.id for e in catalogue if e.accepts_photo] == art
    # The bot never interprets a drawing, and each art-therapy prompt says so on its card.
    assert all(catalogue[key].note is not None for key in art[1:])
    assert [e.id for e in catalogue if e.accepts_text] == ["evening"]
    assert catalogue["478"].note is not None  # the dizziness caution


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_frames_never_repeat_consecutively(catalogue, lang):
    for exercise in catalogue:
        frames = exercise.frames(lang)
        assert frames and all(frame.seconds >= 1 for frame in frames), exercise.id
        for before, after in itertools.pairwise(frames):
            assert before.text != after.text, (exercise.id, before.text)
        assert all(frame.text.startswith(exercise.title[lang]) for frame in frames)


def test_breathing_frames_count_down_and_show_progress(catalogue):
    frames = catalogue["box"].frames("ru")
    inhale = [frame.text for frame in frames if "Вдох носом" in frame.text][:4]
    assert [text.split("\n")[3] for text in inhale] == ["4", "4 3", "4 3 2", "4 3 2 1"]
    assert "▰▱▱▱ 1/4 · круг 1/4" in inhale[0]
    assert "▰▰▰▰ 4/4 · круг 4/4" in frames[-2].text
    assert sum(frame.seconds for frame in frames if "4/4 · круг 4/4" in frame.text) == 4


def test_declared_minutes_match_guided_length(catalogue):
    for exercise in catalogue:
        seconds = sum(frame.seconds for frame in exercise.frames("kk"))
        assert exercise.minutes == math.ceil(seconds / 60), (exercise.id, seconds)


def test_exercise_of_the_day_rotates_deterministically(catalogue):
    start = date(2025, 9, 1)
    rotated = [e for e in catalogue if e.category in ROTATED]  # not the art-therapy prompts
    days = [catalogue.exercise_of_the_day(start + timedelta(days=n)) for n in range(len(rotated))]
    assert {e.id for e in days} == {e.id for e in rotated}  # each once per period
    assert load_exercises().exercise_of_the_day(start).id == days[0].id
    assert catalogue.exercise_of_the_day(start + timedelta(days=len(rotated))).id == days[0].id
    week = [catalogue.exercise_of_the_day(start + timedelta(days=n)) for n in range(3 * len(rotated))]
    assert all(a.category != b.category for a, b in itertools.pairwise(week))


# ── validation ───────────────────────────────────────────────────────────────

VALID = """
[labels]
cycle.kk = "қайталау {n}/{total}"
cycle.ru = "круг {n}/{total}"

[[exercise]]
id = "a"
category = "breathing"
minutes = 1
cycles = 2
title.kk = "Тыныс"
title.ru = "Дыхание"
why.kk = "Себебі"
why.ru = "Потому что"

[[exercise.step]]
count = 3
kk = "Дем алыңыз"
ru = "Вдох"

[[exercise.step]]
seconds = 2
kk = "Дем шығарыңыз"
ru = "Выдох"
"""
STEP = '\n[[exercise.{part}]]\nseconds = 3\nkk = "Бір"\nru = "Один"\n'


def test_valid_sample_loads(tmp_path: Path):
    path = tmp_path / "ok.toml"
    path.write_text(VALID, encoding="utf-8")
    assert [len(load_exercises(path)["a"].frames(lang)) for lang in ("kk", "ru")] == [8, 8]


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ('title.ru = "Дыхание"\n', "", "exercise[a].title.ru"),
        ('ru = "Выдох"', 'ru = "  "', "exercise[a].step[2].ru"),
        ('why.kk = "Себебі"\nwhy.ru = "Потому что"', "", "exercise[a].why"),
        ("seconds = 2", "seconds = 0", "exercise[a].step[2].seconds"),
        ("seconds = 2", "seconds = -1.5", "exercise[a].step[2].seconds"),
        ("count = 3", "count = 0", "exercise[a].step[1].count"),
        ("count = 3", "count = 3\nseconds = 1", "exercise[a].step[1].count"),
        ("minutes = 1", "minutes = 0", "exercise[a].minutes"),
        ("cycles = 2", "cycles = true", "exercise[a].cycles"),
        ('category = "breathing"', 'category = "sleep"', "exercise[a].category"),
        ('id = "a"', 'id = "Жаттығу"', "exercise[#1].id"),
        ("minutes = 1", "minutes = 1\nminuts = 2", "exercise[a]"),
        ('cycle.ru = "круг {n}/{total}"', 'cycle.ru = "круг {x}"', "labels.cycle.ru"),
        ('id = "a"', "id = 7", "exercise[#1].id"),
        ("cycles = 2", "cycles = 2\naccepts_photo = 1", "exercise[a].accepts_photo"),
        ('ru = "Выдох"', 'ru = "Выдох"' + STEP.format(part="outro") * 2, "exercise[a] (kk)"),
        ("minutes = 1", "minutes = 1 =", "file"),
    ],
)
def test_content_errors_name_file_and_field(tmp_path: Path, old: str, new: str, where: str):
    assert old in VALID
    path = tmp_path / "bad.toml"
    path.write_text(VALID.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ContentError) as caught:
        load_exercises(path)
    assert caught.value.where == where
    assert str(caught.value).startswith(f"{path}: {where}: ")


def test_no_steps_and_duplicate_id(tmp_path: Path):
    path = tmp_path / "bad.toml"
    path.write_text(VALID.split("[[exercise.step]]")[0], encoding="utf-8")
    with pytest.raises(ContentError, match=r"exercise\[a\]\.step: no steps"):
        load_exercises(path)
    path.write_text(VALID + VALID.split("[labels]")[1].split("\n", 3)[3], encoding="utf-8")
    with pytest.raises(ContentError, match=r"exercise\[a\]\.id: duplicate id"):
        load_exercises(path)


def test_missing_file_is_a_content_error(tmp_path: Path):
    with pytest.raises(ContentError, match=r"missing\.toml: file: cannot read"):
        load_exercises(tmp_path / "missing.toml")
