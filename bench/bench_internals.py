"""What each speed-up built on a library's internals saves on a teacher's press: one that
stays must show its gain here (and a guard test must prove it active on the pinned versions).

    python -m bench.bench_internals [--rounds 40] [--per-round 15]

For each speed-up, two apps in this process, each on a fresh SQLite file with the same 200
teachers: the app as shipped, and the same app with that one speed-up off. Both are fed the same
kinds of presses (a menu step, a questionnaire answer) through `NullSession`, taking turns round by
round, the one going first alternating; per round each side's CPU time of this process (the event
loop and aiosqlite's thread) and wall time per press. Printed per press: the medians over the
rounds on each side, and the median per-round gain (the share of a press's cost without the
speed-up that it saves), so the load of this shared machine weighs on both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from aiogram.types import Update

from bench.bench_stack import FIRST_USER, answer_updates, make_teachers, menu_updates
from bench.stack import NullSession, bench_settings, temp_dir
from bot.app import App
from storage.cache import RowCaches

TEACHERS = 200
Patch = Callable[[], contextlib.AbstractContextManager[Any]]


def nothing() -> contextlib.AbstractContextManager[None]:
    return contextlib.nullcontext()


@dataclass(frozen=True)
class SpeedUp:
    name: str
    turned_off: Patch = nothing  # active while the app without it is created


SPEED_UPS = (
    SpeedUp("control: nothing off, so the gain is the noise of this method"),
    SpeedUp(
        "row caches (storage/cache.py)",
        turned_off=lambda: mock.patch.object(RowCaches, "for_database", classmethod(lambda cls, url: cls(0))),
    ),
)


@dataclass
class Side:
    app: App
    cpu: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)

    async def run(self, updates: list[Update]) -> None:
        cpu, wall = time.process_time(), time.perf_counter()
        for update in updates:
            await self.app.dispatcher.feed_update(self.app.bot, update)
        self.cpu.append((time.process_time() - cpu) / len(updates))
        self.wall.append((time.perf_counter() - wall) / len(updates))


def gain(on: list[float], off: list[float]) -> float:
    return statistics.median(1 - ours / theirs for ours, theirs in zip(on, off, strict=True))


async def prepared(turned_off: Patch, count: int) -> tuple[App, dict[str, list[Update]]]:
    """An app with its teachers warmed up, and `count` presses of each kind for it."""
    with turned_off():
        app = await App.create(bench_settings(None, temp_dir()))
    app.bot.session = NullSession()
    teachers = await make_teachers(app, FIRST_USER, TEACHERS)
    await Side(app).run(menu_updates(teachers, TEACHERS, app.bot))
    return app, {
        "menu step": menu_updates(teachers, count, app.bot),
        "questionnaire answer": await answer_updates(app, teachers, count, app.bot),
    }


async def compare(speed_up: SpeedUp, rounds: int, per_round: int) -> None:
    (with_app, with_presses), (without_app, without_presses) = [
        await prepared(turned_off, rounds * per_round) for turned_off in (nothing, speed_up.turned_off)
    ]
    gc.collect()
    gc.freeze()  # as `python -m bot` does after start: no full-heap collection lands on one side
    print(f"{speed_up.name}:", flush=True)
    try:
        for kind in with_presses:
            on, off = Side(with_app), Side(without_app)
            for number, start in enumerate(range(0, rounds * per_round, per_round)):
                turns = [(on, with_presses), (off, without_presses)]
                for side, presses in turns if number % 2 == 0 else reversed(turns):
                    await side.run(presses[kind][start : start + per_round])
            print(
                f"  {kind}: CPU {statistics.median(on.cpu) * 1e3:.2f} ms with, "
                f"{statistics.median(off.cpu) * 1e3:.2f} ms without, gain {gain(on.cpu, off.cpu):+.0%}; "
                f"wall {statistics.median(on.wall) * 1e3:.2f} ms with, "
                f"{statistics.median(off.wall) * 1e3:.2f} ms without, gain {gain(on.wall, off.wall):+.0%}",
                flush=True,
            )
    finally:
        await with_app.close()
        await without_app.close()


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=40, help="rounds per kind of press, each side")
    parser.add_argument("--per-round", type=int, default=15, help="presses per round")
    args = parser.parse_args()
    for speed_up in SPEED_UPS:
        await compare(speed_up, args.rounds, args.per_round)


if __name__ == "__main__":
    asyncio.run(main())
