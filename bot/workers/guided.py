"""Guided sessions: GuidedRunner plays an exercise's frames (bot.content.exercises) as asyncio
tasks, and GuidedSessions shows each session on one Telegram message it edits.

Timers are the runner's tasks, never sleeps in handlers, so hundreds of sessions cost the
bot nothing between frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramRetryAfter
from aiogram.types import InlineKeyboardMarkup, MaybeInaccessibleMessageUnion, Message
from aiogram.utils.i18n import I18n

from bot.content.exercises import Frame
from bot.telegram import followups

log = logging.getLogger(__name__)

Reason = Literal["finished", "stopped", "failed"]
OnFinish = Callable[[Reason], Awaitable[None]]


class Render(Protocol):
    """Edits the session's message to show `frame`.

    `paused=True` comes once when a pause takes effect, `paused=False` on every frame
    and again after a resume: the handler shows the state (e.g. a Resume instead of a
    Pause button), which also keeps the edit different from the previous one. Raising
    ends the session with "failed"; a "message is not modified" error is best ignored
    inside render.
    """

    def __call__(self, index: int, frame: Frame, *, paused: bool) -> Awaitable[None]: ...


@dataclass(slots=True, eq=False)
class _Session:
    frames: Sequence[Frame]
    render: Render
    on_finish: OnFinish
    paused: bool = False
    wake: asyncio.Event = field(default_factory=asyncio.Event)  # set on pause and resume
    # Pause and resume presses whose redraw is not on screen yet: the press's follow-ups.
    unshown: list[asyncio.Future[None]] = field(default_factory=list)
    task: asyncio.Task[None] = field(init=False)


class GuidedRunner:
    """Plays guided sessions, one per key (e.g. per user), each as its own task.

    on_finish(reason) is awaited exactly once per session: "finished" after the last
    frame's time, "failed" when render raised, "stopped" from stop(), from a start() with
    the same key, or from shutdown(). Its own errors are logged, never propagated.
    `speed` multiplies every frame's seconds (tests use 0.001).
    """

    def __init__(self, speed: float = 1.0) -> None:
        if speed < 0:
            raise ValueError("speed must not be negative")
        self.speed = speed
        self._sessions: dict[Hashable, _Session] = {}
        self._tasks: set[asyncio.Task[None]] = set()  # includes sessions still in on_finish

    def __len__(self) -> int:
        return len(self._sessions)

    active_count = __len__

    def active(self, key: Hashable) -> bool:
        return key in self._sessions

    async def start(
        self, key: Hashable, frames: Sequence[Frame], render: Render, on_finish: OnFinish
    ) -> None:
        if not frames:
            raise ValueError("a guided session needs frames")
        # A loop, not an if: another start() for this key may slip in while we await.
        while key in self._sessions:
            await self.stop(key)
        session = _Session(frames, render, on_finish)
        self._sessions[key] = session
        # No key in the task name: it may be a Telegram id, which logs must not carry.
        session.task = asyncio.create_task(self._run(key, session), name="guided-session")
        self._tasks.add(session.task)
        session.task.add_done_callback(self._tasks.discard)

    def pause(self, key: Hashable) -> bool:
        """Hold the current frame; False when there is no session or it is already paused."""
        return self._set_paused(key, True)

    def resume(self, key: Hashable) -> bool:
        """Go on from the current frame with the time it had left."""
        return self._set_paused(key, False)

    async def stop(self, key: Hashable) -> bool:
        """Cancel the session, wait for its task, report "stopped"; False if none ran.

        Not for use inside render or on_finish (the task would wait for itself).
        """
        session = self._sessions.pop(key, None)
        if session is None:
            return False
        session.task.cancel()
        await asyncio.wait({session.task})
        self._shown(session.unshown)  # a task cancelled before it ran never reached its own cleanup
        await self._finish(session, "stopped")
        return True

    async def shutdown(self) -> None:
        """Stop every session and wait for all tasks, so none outlives the bot."""
        await asyncio.gather(*(self.stop(key) for key in list(self._sessions)))
        if self._tasks:
            await asyncio.wait(self._tasks)

    def _set_paused(self, key: Hashable, paused: bool) -> bool:
        session = self._sessions.get(key)
        if session is None or session.paused == paused:
            return False
        session.paused = paused
        session.wake.set()
        # The session task redraws the message once the press is handled (see bot.telegram.followups).
        shown = asyncio.get_running_loop().create_future()
        session.unshown.append(shown)
        followups.add(shown)
        return True

    async def _run(self, key: Hashable, session: _Session) -> None:
        reason: Reason = "finished"
        try:
            for index, frame in enumerate(session.frames):
                await self._play(session, index, frame)
        except Exception:
            reason = "failed"
            log.warning("guided session ended: render failed", exc_info=True)
        finally:  # an ended session shows no more pauses
            self._shown(session.unshown)
        if self._sessions.get(key) is not session:
            return  # stop() took the session over and reports it
        del self._sessions[key]
        await self._finish(session, reason)

    async def _play(self, session: _Session, index: int, frame: Frame) -> None:
        loop = asyncio.get_running_loop()
        # Hold time counts from the start of the edit: slow round-trips don't stretch it.
        deadline = loop.time() + frame.seconds * self.speed
        await self._render(session, index, frame, paused=False)
        while True:
            if session.paused:
                left = deadline - loop.time()
                await self._render(session, index, frame, paused=True)
                while session.paused:
                    session.wake.clear()
                    await session.wake.wait()
                deadline = loop.time() + left
                await self._render(session, index, frame, paused=False)
                continue  # paused again during that render?
            session.wake.clear()
            try:
                # Always awaits, even past the deadline, so each frame yields to the loop.
                async with asyncio.timeout_at(deadline):
                    await session.wake.wait()
            except TimeoutError:
                return

    async def _render(self, session: _Session, index: int, frame: Frame, *, paused: bool) -> None:
        """A render shows every pause and resume that came before it started."""
        shows, session.unshown = session.unshown, []
        try:
            await session.render(index, frame, paused=paused)
        finally:
            self._shown(shows)

    @staticmethod
    def _shown(presses: list[asyncio.Future[None]]) -> None:
        for shown in presses:
            if not shown.done():
                shown.set_result(None)
        presses.clear()

    @staticmethod
    async def _finish(session: _Session, reason: Reason) -> None:
        try:
            await session.on_finish(reason)
        except Exception:
            log.warning("guided session on_finish(%s) failed", reason, exc_info=True)


# ── on a Telegram message ───────────────────────────────────────────────────

Screen = tuple[str, InlineKeyboardMarkup]
# Timer edits in flight at once. Sessions started together tick together; without a cap a burst
# of hundreds of edits would take every HTTP connection and queue a person's tap behind them.
EDITS_IN_FLIGHT = 32
# People first: a timer edit waits while updates are being handled, but never longer than this,
# so a tick may come a little late under load and a tap never waits behind a burst of ticks.
MAX_DEFER_SECONDS = 0.3


@dataclass(frozen=True, slots=True)
class GuidedView:
    """What a session shows; both are called inside the user's locale.

    frame(frame, paused) -> the screen of a step; final(reason) -> the screen left behind
    when the session ends ("finished" or "stopped"), or None to leave the message as it is.
    """

    frame: Callable[[Frame, bool], Screen]
    final: Callable[[Reason], Screen | None]


@dataclass(eq=False, slots=True)
class _Live:
    chat_id: int
    message_id: int
    shown: Screen | None  # what the message shows now: an identical edit is never sent
    silent: bool = False  # the next handler redraws this very message: no final screen


@dataclass(eq=False)
class GuidedSessions:
    """Each user's session (keyed by user id) on the message it edits, one per dispatcher."""

    runner: GuidedRunner
    _live: dict[int, _Live] = field(default_factory=dict)
    _closing: bool = False
    _edits: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(EDITS_IN_FLIGHT))
    _handling: int = 0  # updates being handled now
    _idle: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self._idle.set()

    @contextlib.contextmanager
    def handling_update(self) -> Iterator[None]:
        self._handling += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._handling -= 1
            if not self._handling:
                self._idle.set()

    def on_message(self, key: int, message: MaybeInaccessibleMessageUnion | None) -> bool:
        """Whether `key`'s running session is shown on `message`."""
        live = self._live.get(key)
        return (
            live is not None
            and isinstance(message, Message)
            and live.message_id == message.message_id
            and self.runner.active(key)
        )

    async def start(
        self,
        key: int,
        bot: Bot,
        message: Message,
        frames: tuple[Frame, ...],
        view: GuidedView,
        i18n: I18n,
        language: str,
        shown: Screen | None = None,
    ) -> None:
        """Play `frames` on `message` (showing `shown` already); any earlier session of `key` stops first."""
        live = _Live(message.chat.id, message.message_id, shown)

        def screen(make: Callable[[], Screen | None]) -> Screen | None:
            # Timer tasks and shutdown run outside the update that set the user's language.
            with i18n.context(), i18n.use_locale(language):
                return make()

        async def render(index: int, frame: Frame, *, paused: bool) -> None:
            await self._edit(bot, live, screen(lambda: view.frame(frame, paused)))

        async def on_finish(reason: Reason) -> None:
            if self._live.get(key) is live:
                del self._live[key]
            if self._closing or live.silent or reason == "failed":
                return  # on shutdown the buttons stay: after a restart they lead back to the card
            final = screen(lambda: view.final(reason))
            if final is not None:
                await self._edit(bot, live, final, answering=True)

        await self.runner.start(key, frames, render, on_finish)
        self._live[key] = live

    def pause(self, key: int) -> bool:
        return self.runner.pause(key)

    def resume(self, key: int) -> bool:
        return self.runner.resume(key)

    async def stop(self, key: int, *, silent: bool = False) -> bool:
        live = self._live.get(key)
        if live is not None:
            live.silent = silent
        return await self.runner.stop(key)

    async def shutdown(self) -> None:
        self._closing = True
        await self.runner.shutdown()
        self._live.clear()

    async def _edit(self, bot: Bot, live: _Live, screen: Screen | None, *, answering: bool = False) -> None:
        """`answering`: the edit is the reply to the user's own press (Stop, leaving), so it
        does not step aside for other updates, one of which is that very press."""
        if screen is None or screen == live.shown:
            return
        text, markup = screen
        if not answering and not self._idle.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(MAX_DEFER_SECONDS):
                    await self._idle.wait()
        for attempt in range(2):
            try:
                async with self._edits:
                    await bot.edit_message_text(
                        text=text, chat_id=live.chat_id, message_id=live.message_id, reply_markup=markup
                    )
                break
            except TelegramRetryAfter as error:  # flood control: wait once, as Telegram asks
                if attempt:
                    raise
                await asyncio.sleep(error.retry_after)
            except TelegramBadRequest as error:
                if "not modified" not in error.message:
                    raise
                break
        live.shown = screen
