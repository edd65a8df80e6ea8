from __future__ import annotations

import asyncio
import gc
import itertools
import logging
import math
from datetime import date, timedelta
from pathlib import Path

import pytest

from bot.content.exercises import CATEGORIES, ContentError, Frame, GuidedRunner, load_exercises
from bot.telegram import followups

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
    assert [e.id for e in catalogue if e.accepts_photo] == ["drawing"]
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
    days = [catalogue.exercise_of_the_day(start + timedelta(days=n)) for n in range(len(catalogue))]
    assert {e.id for e in days} == {e.id for e in catalogue}  # each once per period
    assert load_exercises().exercise_of_the_day(start).id == days[0].id
    assert catalogue.exercise_of_the_day(start + timedelta(days=len(catalogue))).id == days[0].id
    week = [catalogue.exercise_of_the_day(start + timedelta(days=n)) for n in range(3 * len(catalogue))]
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


# ── guided runner ────────────────────────────────────────────────────────────


def frames_of(n: int, seconds: float = 1.0) -> list[Frame]:
    return [Frame(f"frame {i}", seconds) for i in range(n)]


class Recorder:
    def __init__(self, fail_at: int | None = None) -> None:
        self.fail_at = fail_at
        self.renders: list[tuple[int, bool]] = []
        self.reasons: list[str] = []

    async def render(self, index: int, frame: Frame, *, paused: bool) -> None:
        assert frame.text == f"frame {index}"
        self.renders.append((index, paused))
        if index == self.fail_at:
            raise RuntimeError("Forbidden: bot was blocked by the user")

    async def on_finish(self, reason: str) -> None:
        self.reasons.append(reason)


async def eventually(condition, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.001)


def no_other_tasks() -> bool:
    return asyncio.all_tasks() == {asyncio.current_task()}


async def test_session_runs_every_frame_in_order_then_finishes():
    runner, rec = GuidedRunner(speed=0.001), Recorder()
    await runner.start("u1", frames_of(6), rec.render, rec.on_finish)
    assert runner.active("u1") and len(runner) == runner.active_count() == 1
    await eventually(lambda: rec.reasons)
    assert rec.renders == [(i, False) for i in range(6)]
    assert rec.reasons == ["finished"]
    assert len(runner) == 0 and not runner.active("u1")
    await eventually(no_other_tasks)


async def test_stop_midway_reports_stopped_and_renders_nothing_more():
    runner, rec = GuidedRunner(speed=0.01), Recorder()
    await runner.start("u1", frames_of(50), rec.render, rec.on_finish)
    await eventually(lambda: len(rec.renders) >= 3)
    assert await runner.stop("u1") is True
    rendered = len(rec.renders)
    assert rec.reasons == ["stopped"] and len(runner) == 0 and no_other_tasks()
    await asyncio.sleep(0.05)
    assert len(rec.renders) == rendered < 50
    assert await runner.stop("u1") is False
    assert runner.pause("u1") is False and runner.resume("u1") is False


async def test_stop_right_after_start_still_reports_once():
    runner, rec = GuidedRunner(), Recorder()
    await runner.start("u1", frames_of(3), rec.render, rec.on_finish)
    assert await runner.stop("u1") is True
    assert rec.reasons == ["stopped"] and rec.renders == [] and no_other_tasks()


async def test_pause_holds_the_frame_and_resume_continues_with_time_left():
    loop = asyncio.get_running_loop()
    runner, rec = GuidedRunner(speed=0.4), Recorder()  # the first frame lasts 400 ms
    await runner.start("u1", [Frame("frame 0", 1), Frame("frame 1", 0.1)], rec.render, rec.on_finish)
    await eventually(lambda: rec.renders)
    shown = loop.time()
    await asyncio.sleep(0.2)
    assert runner.pause("u1") is True and runner.pause("u1") is False
    paused_at = loop.time()
    await eventually(lambda: rec.renders[-1] == (0, True))
    await asyncio.sleep(0.5)  # longer than the frame: nothing may move while paused
    assert rec.renders == [(0, False), (0, True)] and runner.active("u1")
    assert runner.resume("u1") is True and runner.resume("u1") is False
    resumed = loop.time()
    await eventually(lambda: len(rec.renders) == 4)
    left = loop.time() - resumed
    assert rec.renders[2:] == [(0, False), (1, False)]
    assert 0.4 - (paused_at - shown) - 0.1 < left < 0.35  # the rest, not a fresh 400 ms
    await eventually(lambda: rec.reasons)
    assert rec.reasons == ["finished"] and len(runner) == 0


async def test_stop_while_paused():
    runner, rec = GuidedRunner(speed=0.01), Recorder()
    await runner.start("u1", frames_of(5), rec.render, rec.on_finish)
    runner.pause("u1")
    await eventually(lambda: (0, True) in rec.renders)
    assert await runner.stop("u1") and rec.reasons == ["stopped"] and no_other_tasks()


async def test_pause_and_resume_are_followed_up_until_their_redraw_is_shown():
    """Whoever awaits an update's follow-ups (the end-to-end tests) sees a Pause press done once
    the paused frame is drawn, and a Resume once the running one is."""
    runner, rec = GuidedRunner(speed=1), Recorder()
    await runner.start("u1", frames_of(3), rec.render, rec.on_finish)
    await eventually(lambda: rec.renders)

    async def press(action):
        return action("u1")

    assert await followups.settled(press(runner.pause)) is True
    assert rec.renders == [(0, False), (0, True)]
    assert await followups.settled(press(runner.resume)) is True
    assert rec.renders == [(0, False), (0, True), (0, False)]
    assert runner.pause("u1") is True  # nobody collects follow-ups here: nothing waits
    assert await runner.stop("u1") is True


async def test_a_pause_never_drawn_is_settled_when_the_session_stops():
    rendering = asyncio.Event()

    async def hung_render(index: int, frame: Frame, *, paused: bool) -> None:
        rendering.set()
        await asyncio.sleep(10)

    async def on_finish(reason: str) -> None:
        pass

    runner = GuidedRunner()
    await runner.start("u1", frames_of(3), hung_render, on_finish)
    await rendering.wait()

    async def press():
        return runner.pause("u1")

    handled = asyncio.ensure_future(followups.settled(press()))
    await asyncio.sleep(0.05)
    assert not handled.done(), "the press waits for its redraw"
    assert await runner.stop("u1") is True
    async with asyncio.timeout(1):
        assert await handled is True
    assert no_other_tasks()


async def test_render_that_swallows_cancellation_still_reports_stopped_once():
    reasons: list[str] = []
    rendering = asyncio.Event()

    async def render(index: int, frame: Frame, *, paused: bool) -> None:
        rendering.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:  # some clients turn cancellation into their own error
            raise ConnectionError("aborted") from None

    async def on_finish(reason: str) -> None:
        reasons.append(reason)

    runner = GuidedRunner()
    await runner.start("u1", frames_of(3), render, on_finish)
    await rendering.wait()
    assert await runner.stop("u1") is True
    assert reasons == ["stopped"] and len(runner) == 0 and no_other_tasks()


async def test_failing_render_fails_only_its_session(caplog: pytest.LogCaptureFixture):
    runner, broken, fine = GuidedRunner(speed=0.001), Recorder(fail_at=1), Recorder()
    await runner.start("broken", frames_of(5), broken.render, broken.on_finish)
    await runner.start("fine", frames_of(5), fine.render, fine.on_finish)
    await eventually(lambda: broken.reasons and fine.reasons)
    assert broken.reasons == ["failed"] and broken.renders == [(0, False), (1, False)]
    assert fine.reasons == ["finished"] and len(fine.renders) == 5
    assert len(runner) == 0
    await eventually(no_other_tasks)
    gc.collect()
    assert "never retrieved" not in caplog.text


async def test_on_finish_errors_are_logged_not_raised(caplog: pytest.LogCaptureFixture):
    async def on_finish(reason: str) -> None:
        raise ValueError(reason)

    runner, rec = GuidedRunner(speed=0.001), Recorder()
    with caplog.at_level(logging.WARNING, logger="bot.content.exercises"):
        await runner.start("a", frames_of(2), rec.render, on_finish)
        await runner.start("b", frames_of(50), rec.render, on_finish)
        await eventually(lambda: not runner.active("a"))
        assert await runner.stop("b") is True
    assert "on_finish(finished) failed" in caplog.text and "on_finish(stopped) failed" in caplog.text
    await eventually(no_other_tasks)


async def test_starting_again_with_the_same_key_replaces_the_session():
    runner, old, new = GuidedRunner(speed=0.001), Recorder(), Recorder()
    await runner.start("u1", frames_of(100, seconds=10), old.render, old.on_finish)
    await eventually(lambda: old.renders)
    await runner.start("u1", frames_of(3), new.render, new.on_finish)
    assert old.reasons == ["stopped"] and len(runner) == 1
    await eventually(lambda: new.reasons)
    assert new.reasons == ["finished"] and len(new.renders) == 3 and len(runner) == 0


async def test_500_concurrent_sessions_all_finish(catalogue):
    runner = GuidedRunner(speed=0.001)
    frames = catalogue["box"].frames("kk")
    counts = [0] * 500
    reasons: list[str] = []

    def session(n: int):
        async def render(index: int, frame: Frame, *, paused: bool) -> None:
            assert index == counts[n]
            counts[n] += 1

        async def on_finish(reason: str) -> None:
            reasons.append(reason)

        return render, on_finish

    for n in range(500):
        await runner.start(("chat", n), frames, *session(n))
    assert len(runner) == 500
    await eventually(lambda: len(reasons) == 500, timeout=30)
    assert reasons == ["finished"] * 500 and counts == [len(frames)] * 500
    assert len(runner) == 0
    await eventually(no_other_tasks)


async def test_shutdown_stops_everything_and_leaves_no_task():
    runner = GuidedRunner()
    recorders = [Recorder() for _ in range(50)]
    for n, rec in enumerate(recorders):
        await runner.start(n, frames_of(10, seconds=60), rec.render, rec.on_finish)
    runner.pause(0)

    slow_finish_started = asyncio.Event()

    async def slow_on_finish(reason: str) -> None:  # a session busy reporting "finished"
        slow_finish_started.set()
        await asyncio.sleep(0.05)
        recorders[0].reasons.append("slow " + reason)

    await runner.start("slow", frames_of(1, seconds=0), Recorder().render, slow_on_finish)
    await slow_finish_started.wait()
    await eventually(lambda: all(rec.renders for rec in recorders))
    await runner.shutdown()
    assert [rec.reasons[-1] for rec in recorders[1:]] == ["stopped"] * 49
    assert sorted(recorders[0].reasons) == ["slow finished", "stopped"]
    assert len(runner) == 0
    assert no_other_tasks()
    await runner.shutdown()  # idempotent
