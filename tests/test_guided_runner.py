"""GuidedRunner (bot.workers.guided): sessions play their frames in order, pause, resume, stop
and shut down without leaving a task behind."""

from __future__ import annotations

import asyncio
import gc
import logging

import pytest

from bot.content.exercises import Frame, load_exercises
from bot.telegram import followups
from bot.workers.guided import GuidedRunner


@pytest.fixture(scope="module")
def catalogue():
    return load_exercises()


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
    with caplog.at_level(logging.WARNING, logger="bot.workers.guided"):
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
