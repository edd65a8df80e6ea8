"""Self-help exercises: the catalogue (content/exercises.toml), loaded and checked once.

A guided session shows an exercise as a sequence of frames by editing one message; the frames
are built and checked here at load, and played by bot.workers.guided.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from bot.config import LANGUAGES

CATALOGUE_PATH = Path(__file__).parent / "exercises.toml"
CATEGORIES = ("breathing", "body", "mind", "creative", "art")
# The exercise of the day comes from these: an art-therapy prompt asks for paper and ten quiet minutes.
ROTATED = ("breathing", "body", "mind", "creative")
# Telegram throttles edits of a message; a faster countdown would meet flood errors.
MIN_TICK_SECONDS = 1.0
_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,15}")  # short: it travels in callback data
_EXERCISE_KEYS = {
    "id",
    "category",
    "minutes",
    "cycles",
    "title",
    "why",
    "note",
    "accepts_photo",
    "accepts_text",
    "template",
    "intro",
    "step",
    "outro",
}
_STEP_KEYS = {*LANGUAGES, "seconds", "count"}


class ContentError(Exception):
    """The catalogue file is wrong; the message names the file and the field."""

    def __init__(self, path: Path, where: str, problem: str) -> None:
        super().__init__(f"{path}: {where}: {problem}")
        self.path, self.where, self.problem = path, where, problem


@dataclass(frozen=True, slots=True)
class Text:
    kk: str
    ru: str

    def __getitem__(self, lang: str) -> str:
        if lang not in LANGUAGES:
            raise KeyError(lang)
        return getattr(self, lang)


@dataclass(frozen=True, slots=True)
class Step:
    text: Text
    seconds: float
    count: int | None = None  # numbers counted down live over `seconds`


@dataclass(frozen=True, slots=True)
class Frame:
    text: str  # the whole message: title, step, countdown, progress
    seconds: float  # how long it stays before the next frame (at speed 1)


@dataclass(frozen=True, slots=True)
class Exercise:
    id: str
    category: str
    minutes: int
    title: Text
    why: Text
    steps: tuple[Step, ...]
    intro: tuple[Step, ...] = ()
    outro: tuple[Step, ...] = ()
    cycles: int = 1
    note: Text | None = None
    accepts_photo: bool = False
    accepts_text: bool = False
    template: bool = False  # a printable template to draw on (a mandala's rings), sent as a PDF
    _frames: dict[str, tuple[Frame, ...]] = field(default_factory=dict, repr=False, compare=False)

    def frames(self, lang: str) -> tuple[Frame, ...]:
        """The guided sequence, built once at load (shared: immutable)."""
        return self._frames[lang]


class Catalogue:
    """Exercises in file order (the menu order), looked up by id."""

    def __init__(self, exercises: Sequence[Exercise]) -> None:
        self._by_id = {exercise.id: exercise for exercise in exercises}
        # Round-robin over categories so consecutive days bring a different kind of exercise.
        queues = [[e for e in exercises if e.category == c] for c in ROTATED]
        self._rotation = [queue.pop(0) for _ in range(len(exercises)) for queue in queues if queue]

    def __iter__(self) -> Iterator[Exercise]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def __getitem__(self, exercise_id: str) -> Exercise:
        return self._by_id[exercise_id]

    def get(self, exercise_id: str) -> Exercise | None:
        return self._by_id.get(exercise_id)

    def by_category(self, category: str) -> list[Exercise]:
        return [exercise for exercise in self if exercise.category == category]

    def exercise_of_the_day(self, day: date) -> Exercise:
        return self._rotation[day.toordinal() % len(self._rotation)]


@functools.cache
def catalogue() -> Catalogue:
    """The shipped catalogue, loaded once."""
    return load_exercises()


def load_exercises(path: Path | None = None) -> Catalogue:
    path = path or CATALOGUE_PATH
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ContentError(path, "file", f"cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ContentError(path, "file", f"not valid TOML: {exc}") from None
    labels = raw.get("labels")
    cycle_label = _text(path, "labels.cycle", labels.get("cycle") if isinstance(labels, dict) else None)
    for lang in LANGUAGES:
        try:
            cycle_label[lang].format(n=1, total=2)
        except (KeyError, IndexError, ValueError):
            raise ContentError(path, f"labels.cycle.{lang}", "may use only {n} and {total}") from None
    items = raw.get("exercise")
    if not isinstance(items, list) or not items:
        raise ContentError(path, "exercise", "no [[exercise]] entries")
    exercises: list[Exercise] = []
    for number, item in enumerate(items, 1):
        exercise = _exercise(path, number, item, cycle_label)
        if any(other.id == exercise.id for other in exercises):
            raise ContentError(path, f"exercise[{exercise.id}].id", "duplicate id")
        exercises.append(exercise)
    return Catalogue(exercises)


def _exercise(path: Path, number: int, raw: Any, cycle_label: Text) -> Exercise:
    exercise_id = raw.get("id") if isinstance(raw, dict) else None
    if not isinstance(exercise_id, str) or not _ID.fullmatch(exercise_id):
        raise ContentError(path, f"exercise[#{number}].id", "need a short id of a-z, 0-9, _ or -")
    where = f"exercise[{exercise_id}]"
    if unknown := raw.keys() - _EXERCISE_KEYS:
        raise ContentError(path, where, f"unknown keys {sorted(unknown)}")
    if raw.get("category") not in CATEGORIES:
        raise ContentError(path, f"{where}.category", f"must be one of {', '.join(CATEGORIES)}")
    for flag in ("accepts_photo", "accepts_text", "template"):
        if not isinstance(raw.get(flag, False), bool):
            raise ContentError(path, f"{where}.{flag}", "must be true or false")
    steps = _steps(path, f"{where}.step", raw.get("step"))
    if not steps:
        raise ContentError(path, f"{where}.step", "no steps")
    exercise = Exercise(
        id=exercise_id,
        category=raw["category"],
        minutes=_positive(path, f"{where}.minutes", raw.get("minutes"), int),
        title=_text(path, f"{where}.title", raw.get("title")),
        why=_text(path, f"{where}.why", raw.get("why")),
        steps=steps,
        intro=_steps(path, f"{where}.intro", raw.get("intro", [])),
        outro=_steps(path, f"{where}.outro", raw.get("outro", [])),
        cycles=_positive(path, f"{where}.cycles", raw.get("cycles", 1), int),
        note=_text(path, f"{where}.note", raw["note"]) if "note" in raw else None,
        accepts_photo=raw.get("accepts_photo", False),
        accepts_text=raw.get("accepts_text", False),
        template=raw.get("template", False),
    )
    for lang in LANGUAGES:
        frames = _build_frames(exercise, lang, cycle_label)
        for index, (before, after) in enumerate(itertools.pairwise(frames), 1):
            if before.text == after.text:  # Telegram rejects an edit that changes nothing
                raise ContentError(path, f"{where} ({lang})", f"frames {index} and {index + 1} are identical")
        exercise._frames[lang] = frames
    return exercise


def _steps(path: Path, where: str, raw: Any) -> tuple[Step, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ContentError(path, where, "expected [[...]] tables")
    steps = []
    for number, item in enumerate(raw, 1):
        here = f"{where}[{number}]"
        if not isinstance(item, dict):
            raise ContentError(path, here, "expected a table")
        if unknown := item.keys() - _STEP_KEYS:
            raise ContentError(path, here, f"unknown keys {sorted(unknown)}")
        count = _positive(path, f"{here}.count", item["count"], int) if "count" in item else None
        seconds = _positive(path, f"{here}.seconds", item.get("seconds", count), (int, float))
        if count and seconds / count < MIN_TICK_SECONDS:
            raise ContentError(path, f"{here}.count", f"at most one number per {MIN_TICK_SECONDS:g} s")
        steps.append(Step(_text(path, here, item), seconds, count))
    return tuple(steps)


def _text(path: Path, where: str, raw: Any) -> Text:
    if not isinstance(raw, dict):
        raise ContentError(path, where, "missing (need kk and ru texts)")
    for lang in LANGUAGES:
        if not isinstance(raw.get(lang), str) or not raw[lang].strip():
            raise ContentError(path, f"{where}.{lang}", "missing text")
    return Text(**{lang: raw[lang].strip() for lang in LANGUAGES})


def _positive(path: Path, where: str, value: Any, kind: type[int] | tuple[type[int], type[float]]) -> Any:
    if isinstance(value, bool) or not isinstance(value, kind) or value <= 0:
        raise ContentError(path, where, "must be a positive " + ("whole number" if kind is int else "number"))
    return value


def _build_frames(exercise: Exercise, lang: str, cycle_label: Text) -> tuple[Frame, ...]:
    title = exercise.title[lang]
    frames = [Frame(f"{title}\n\n{step.text[lang]}", step.seconds) for step in exercise.intro]
    total = len(exercise.steps)
    for cycle in range(1, exercise.cycles + 1):
        for number, step in enumerate(exercise.steps, 1):
            # Position in the cycle (and the cycle) makes every step's screen distinct.
            progress = f"{_bar(number, total)} {number}/{total}"
            if exercise.cycles > 1:
                progress += " · " + cycle_label[lang].format(n=cycle, total=exercise.cycles)
            if step.count is None:
                frames.append(Frame(f"{title}\n\n{step.text[lang]}\n\n{progress}", step.seconds))
                continue
            numbers = [str(n) for n in range(step.count, 0, -1)]
            for shown in range(1, step.count + 1):
                countdown = " ".join(numbers[:shown])
                frames.append(
                    Frame(
                        f"{title}\n\n{step.text[lang]}\n{countdown}\n\n{progress}", step.seconds / step.count
                    )
                )
    frames += [Frame(f"{title}\n\n{step.text[lang]}", step.seconds) for step in exercise.outro]
    return tuple(frames)


def _bar(done: int, total: int) -> str:
    cells = min(total, 10)
    filled = math.ceil(done * cells / total)
    return "▰" * filled + "▱" * (cells - filled)
