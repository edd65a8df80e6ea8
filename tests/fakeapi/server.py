"""A fake Telegram Bot API server on loopback that the real bot talks to through aiogram's aiohttp session."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import json
import math
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from aiohttp import web

from . import limits
from .models import MEDIA_DEFAULTS, ApiError, Call, StoredFile, StoredMessage, Upload
from .spec import Spec, load_spec
from .users import SimulatedUser

BOT_ID = 123456789
TOKEN = f"{BOT_ID}:TEST-fake-token_abcdefghijklmnopqrs"
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
BLOCKED = "Forbidden: bot was blocked by the user"
_FAULT_TEXT = {
    400: "Bad Request",
    403: BLOCKED,
    429: "Too Many Requests: retry after {retry_after}",
    500: "Internal Server Error",
    502: "Bad Gateway",
}
# sendDocument -> "document", sendVideoNote -> "video_note", ...
_MEDIA_METHODS = {"send" + kind.title().replace("_", ""): kind for kind in MEDIA_DEFAULTS}


def _writes_to_chat(method: str) -> bool:
    return method.startswith(("send", "edit", "copy", "forward"))


def _creates_message(method: str) -> bool:
    """Methods Telegram's flood limits count: each one posts a new message."""
    return method.startswith(("send", "copy", "forward")) and method != "sendChatAction"


def _markup(markup: dict[str, Any] | None) -> dict[str, Any] | None:
    """Telegram treats an empty inline keyboard as no keyboard."""
    return markup if markup and markup != {"inline_keyboard": []} else None


def _shown(message: StoredMessage) -> tuple[Any, ...]:
    """What an edit must change, or Telegram answers "message is not modified"."""
    return message.text, message.caption, message.entities, message.reply_markup


# A ceiling, not a measure: a bot that reports handling ends the wait the moment it is done, so the
# ceiling only matters when something is wrong, or when a shared two-core machine is slow to start it.
REACTION_CEILING = 20.0


def _gone(request: web.Request) -> bool:
    return request.transport is None or request.transport.is_closing()


def _update_kind(update: dict[str, Any]) -> str:
    return next(key for key in update if key != "update_id")


async def _read_params(request: web.Request) -> dict[str, Any]:
    """Parameters from the query string and a multipart, urlencoded or JSON body; file parts become Uploads."""
    params: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        body = await request.json()
        if not isinstance(body, dict):
            raise ValueError("a JSON body must be an object")
        return params | body
    for name, value in (await request.post()).items():
        params[name] = (
            Upload(value.filename, value.content_type, value.file.read())
            if isinstance(value, web.FileField)
            else value
        )
    return params


@dataclass
class _Fault:
    method: str | None
    chat_id: int | None
    status: int
    retry_after: int
    times: int
    description: str | None

    def matches(self, call: Call) -> bool:
        # Without a method, skip getUpdates: the background poll would swallow faults meant for the bot's requests.
        method_ok = call.method != "getUpdates" if self.method is None else self.method == call.method.lower()
        return method_ok and self.chat_id in (None, call.chat_id)

    def error(self) -> ApiError:
        text = self.description or _FAULT_TEXT.get(self.status, "Error").format(retry_after=self.retry_after)
        return ApiError(
            text,
            status=self.status,
            violation=False,
            retry_after=self.retry_after if self.status == 429 else None,
        )


@dataclass
class _CallbackQuery:
    user_id: int
    answers: list[dict[str, Any]] = field(default_factory=list)


class FakeBotAPI:
    """`async with FakeBotAPI() as api:` serves the Bot API at `api.base_url` for the bot with `api.token`."""

    def __init__(self, spec: Spec | None = None) -> None:
        self.spec = spec or load_spec()
        self.token = TOKEN
        self.bot_user = {"id": BOT_ID, "is_bot": True, "first_name": "Demeu", "username": "demeu_test_bot"}
        self.base_url = ""
        self.calls: list[Call] = []
        self.violations: list[str] = []
        self.not_modified: list[Call] = []  # edits answered "message is not modified"
        self.rate_limited: list[Call] = []  # requests answered 429 by rate_limit()
        self.updates: list[dict[str, Any]] = []  # every update ever queued
        self.users: dict[int, SimulatedUser] = {}
        self.webhook_url = ""
        self.webhook_secret: str | None = None
        # Where pushed updates go instead of webhook_url, round robin: a load balancer before replicas.
        self.webhook_targets: list[str] = []
        self.webhook_statuses: list[int] = []  # HTTP status of every push, in order
        self.check_violations = True  # read by the fake_api fixture
        self._getme_flags = {
            f["name"]: f["name"] == "can_join_groups"
            for f in self.spec.types["User"]["fields"]
            if "Returned only in getMe" in f["description"]
        }
        self._queue: list[dict[str, Any]] = []  # updates not yet confirmed by an offset
        self._last_update_id = 0
        self._delivered: dict[
            int, tuple[int, float]
        ] = {}  # update_id -> (len(calls), time) when first fetched
        # True once the bot reports the end of each update's handling (see reporting.py): reactions are
        # then known when the update is handled; without reports, when the bot has been quiet a while.
        self.reports_handled = False
        self._handled: dict[int, int] = {}  # update_id -> len(calls) when the bot reported it handled
        self._dropped: dict[int, str] = {}  # update_id -> update type the bot does not receive
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0
        self._messages: defaultdict[int, dict[int, StoredMessage]] = defaultdict(dict)
        self._message_ids: defaultdict[int, itertools.count[int]] = defaultdict(lambda: itertools.count(1))
        self._files: dict[str, StoredFile] = {}
        self._callbacks: dict[str, _CallbackQuery] = {}
        self._blocked: set[int] = set()
        self._faults: list[_Fault] = []
        self._holds: dict[tuple[str, int | None], asyncio.Event] = {}
        self._rates: tuple[int | None, int | None] = (None, None)
        self._sent: deque[float] = deque()
        self._sent_per_chat: defaultdict[int, deque[float]] = defaultdict(deque)
        self._changed = asyncio.Event()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._pushes: set[asyncio.Task[None]] = set()
        self._push_count = 0
        # What the bot set about itself, per (scope, language_code) and per language_code, as Telegram keeps it.
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.descriptions: dict[str, str] = {}
        self.short_descriptions: dict[str, str] = {}
        self._handlers: dict[str, Callable[[Call], Any]] = {
            "getMe": lambda call: {**self.bot_user, **self._getme_flags},
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": lambda call: {
                "url": self.webhook_url,
                "has_custom_certificate": False,
                "pending_update_count": len(self._queue),
            },
            "sendMessage": self._send_message,
            **dict.fromkeys(_MEDIA_METHODS, self._send_media),
            "editMessageText": self._edit_text,
            "editMessageCaption": self._edit_caption,
            "editMessageReplyMarkup": lambda call: self._edit(call, self._editable(call.params), {}),
            "deleteMessage": self._delete_message,
            "deleteMessages": self._delete_messages,
            "copyMessage": self._duplicate,
            "forwardMessage": self._duplicate,
            "answerCallbackQuery": self._answer_callback,
            "getFile": self._get_file,
            "setMyCommands": self._set_commands,
            "getMyCommands": lambda call: self.commands.get(self._commands_key(call.params), []),
            "deleteMyCommands": self._delete_commands,
            "setMyDescription": lambda call: self._set_text(self.descriptions, call.params, "description"),
            "getMyDescription": lambda call: {
                "description": self.descriptions.get(call.params.get("language_code") or "", "")
            },
            "setMyShortDescription": lambda call: self._set_text(
                self.short_descriptions, call.params, "short_description"
            ),
            "getMyShortDescription": lambda call: {
                "short_description": self.short_descriptions.get(call.params.get("language_code") or "", "")
            },
            "getChat": lambda call: {
                **self.spec.minimal("ChatFullInfo"),
                **self._chat(self._chat_id(call.params)),
            },
        }

    # --- lifecycle -------------------------------------------------------------------------------------------

    async def __aenter__(self) -> FakeBotAPI:
        app = web.Application(client_max_size=64 * 2**20)  # room for document uploads
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        app.router.add_post(
            "/test/handled/{update_id}", self._report_handled
        )  # not Telegram's: see reporting.py
        # Cancel a handler when its client goes away, so a stopped poller's getUpdates takes no updates.
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._closing = True
        self._notify()  # ends pending long polls at once
        for task in self._pushes:
            task.cancel()
        await asyncio.gather(*self._pushes, return_exceptions=True)
        if self._runner:
            await self._runner.cleanup()

    # --- test controls ---------------------------------------------------------------------------------------

    def user(
        self,
        user_id: int = 1001,
        first_name: str = "Айгүл",
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "kk",
    ) -> SimulatedUser:
        """A simulated user; their private chat with the bot has the user's id."""
        self.users[user_id] = SimulatedUser(self, user_id, first_name, last_name, username, language_code)
        return self.users[user_id]

    def block(self, user_id: int) -> None:
        self._blocked.add(user_id)

    def unblock(self, user_id: int) -> None:
        self._blocked.discard(user_id)

    def inject(
        self,
        method: str | None = None,
        chat_id: int | None = None,
        status: int = 429,
        retry_after: int = 1,
        times: int = 1,
        description: str | None = None,
    ) -> None:
        """Answer the next `times` matching requests with an error (not counted as violations).

        method=None matches every method except getUpdates (name it explicitly to fail polling)."""
        self._faults.append(
            _Fault(method and method.lower(), chat_id, status, retry_after, times, description)
        )

    def hold(self, method: str, chat_id: int | None = None) -> asyncio.Event:
        """Keep the answers to `method` (to `chat_id`, or any chat) until the event returned is set:
        a slow Telegram, for what a bot does while it waits."""
        released = self._holds[(method.lower(), chat_id)] = asyncio.Event()
        return released

    def rate_limit(self, global_per_second: int | None = 30, per_chat_per_second: int | None = 1) -> None:
        """Enforce Telegram's flood limits on message-creating methods over a sliding one-second window."""
        self._rates = (global_per_second, per_chat_per_second)

    def expect_violations(self) -> list[str]:
        """Take the violations recorded so far; the fake_api fixture will not fail this test on violations."""
        found = list(self.violations)
        self.violations.clear()
        self.check_violations = False
        return found

    def feed(self, update: dict[str, Any]) -> int:
        """Queue a raw update (update_id assigned if missing); return its update_id."""
        update = dict(update)
        update_id = update.setdefault("update_id", self._last_update_id + 1)
        self._last_update_id = max(self._last_update_id, update_id)
        if query := update.get("callback_query"):
            self._callbacks[query["id"]] = _CallbackQuery(query["from"]["id"])
        self.updates.append(update)
        if self.webhook_url:
            task = asyncio.get_running_loop().create_task(self._push(update))
            self._pushes.add(task)
            task.add_done_callback(self._pushes.discard)
            return update_id
        self._queue.append(update)
        self._notify()
        return update_id

    async def _push(self, update: dict[str, Any]) -> None:
        """Deliver an update to the webhook as Telegram does: a JSON POST with the secret header,
        retried while the answer is not 2xx."""
        import aiohttp  # only webhook tests need a client

        targets = self.webhook_targets or [self.webhook_url]
        headers = {"X-Telegram-Bot-Api-Secret-Token": self.webhook_secret} if self.webhook_secret else {}
        self._delivered.setdefault(update["update_id"], (len(self.calls), self._now()))
        async with aiohttp.ClientSession() as client:
            for attempt in range(5):
                url = targets[self._push_count % len(targets)]
                self._push_count += 1
                try:
                    async with client.post(url, json=update, headers=headers) as response:
                        self.webhook_statuses.append(response.status)
                        if response.status < 300:
                            break
                except aiohttp.ClientError:
                    self.webhook_statuses.append(0)
                await asyncio.sleep(0.05 * 2**attempt)
        self._notify()

    def handled(self, update_id: int) -> None:
        """The bot finished handling the update (every request its handlers awaited is answered)."""
        self._handled.setdefault(update_id, len(self.calls))
        self._notify()

    def register_file(
        self, data: bytes | None, filename: str | None, mime_type: str | None, kind: str = "document"
    ) -> StoredFile:
        """Make a file known to the server, as if uploaded; getFile and downloads will serve it."""
        n = len(self._files) + 1
        suffix = PurePosixPath(filename or "").suffix
        file = StoredFile(
            f"fake-file-{n}", f"fake-unique-{n}", f"{kind}s/file_{n}{suffix}", data, filename, mime_type
        )
        self._files[file.file_id] = file
        return file

    def store_message(self, chat_id: int, sender: dict[str, Any], **fields: Any) -> StoredMessage:
        message = StoredMessage(
            chat=self._chat(chat_id),
            message_id=next(self._message_ids[chat_id]),
            date=int(time.time()),
            sender=sender,
            **fields,
        )
        self._messages[chat_id][message.message_id] = message
        return message

    def messages(self, chat_id: int) -> list[StoredMessage]:
        """Current messages of a chat, both sides, oldest first; deleted ones are gone."""
        return list(self._messages[chat_id].values())

    def callback_answers(self, query_id: str) -> list[dict[str, Any]]:
        query = self._callbacks.get(query_id)
        return query.answers if query else []

    # --- waiting for the bot ---------------------------------------------------------------------------------

    async def wait_reaction(
        self,
        update_id: int,
        chat_id: int,
        *,
        quiet: float = 0.25,
        timeout: float = REACTION_CEILING,
        expect_silence: bool = False,
    ) -> list[Call]:
        """Wait for the bot's reaction to the update; return its requests for `chat_id`.

        A bot that reports handling (reports_handled, see reporting.py) has reacted when it reported the
        update handled and those requests are answered; `quiet` plays no part. A bot that does not report
        has reacted when it made requests for the chat and then none for `quiet` seconds (a fallback: it
        costs `quiet` per reaction and can end early or late for a bot that pauses or works in background).

        Raises AssertionError if there were no such requests ("bot was silent": once the update is handled,
        or after `timeout` without reports), or, with expect_silence=True, if there were any (without
        reports: within `quiet` seconds of the fetch); or if the bot is still busy `timeout` after that."""
        deadline = self._now() + timeout
        what = self._describe(update_id)
        while update_id not in self._delivered:
            if update_id in self._dropped:
                raise AssertionError(
                    f"the bot never receives {what}: {self._dropped[update_id]} updates "
                    f"are not in its allowed_updates {self._allowed_updates}"
                )
            if self._now() >= deadline:
                raise AssertionError(f"the bot did not fetch {what} within {timeout}s: is it polling?")
            await self._wait_change(deadline - self._now())
        if self.reports_handled:
            return await self._reaction_when_handled(
                update_id, what, chat_id, deadline + timeout, expect_silence
            )
        start, fetched_at = self._delivered[update_id]
        while True:
            now = self._now()
            calls = [c for c in self.calls[start:] if c.chat_id == chat_id]
            if calls and expect_silence:
                raise AssertionError(f"expected no reaction to {what}, but the bot made {calls}")
            if not calls:
                if expect_silence and now >= fetched_at + quiet:
                    return []
                if now >= deadline:
                    raise AssertionError(
                        f"bot was silent: no request for chat {chat_id} within {timeout}s after {what}"
                    )
                await self._wait_change((fetched_at + quiet if expect_silence else deadline) - now)
                continue
            last = max(c.finished or math.inf for c in calls)
            if now >= last + quiet:
                return calls
            if now >= deadline + timeout:  # still talking a whole timeout after the deadline: a loop
                raise AssertionError(f"the bot is still busy with chat {chat_id} long after {what}: {calls}")
            await self._wait_change(min(last + quiet, deadline + timeout) - now)

    async def _reaction_when_handled(
        self, update_id: int, what: str, chat_id: int, give_up: float, expect_silence: bool
    ) -> list[Call]:
        while update_id not in self._handled:
            if self._now() >= give_up:
                raise AssertionError(f"the bot is still handling {what}: no report that it is done")
            await self._wait_change(give_up - self._now())
        start, end = self._delivered[update_id][0], self._handled[update_id]
        calls = [c for c in self.calls[start:end] if c.chat_id == chat_id]
        if calls and expect_silence:
            raise AssertionError(f"expected no reaction to {what}, but the bot made {calls}")
        if not calls and not expect_silence:
            raise AssertionError(f"bot was silent: no request for chat {chat_id} while it handled {what}")
        # The handlers' own requests are answered by now; a background worker's for this chat may not be.
        while any(c.finished is None for c in calls):
            if self._now() >= give_up:
                raise AssertionError(f"the bot is still busy with chat {chat_id} long after {what}: {calls}")
            await self._wait_change(give_up - self._now())
        return calls

    async def wait_callback_answer(self, query_id: str, timeout: float, update_id: int | None = None) -> bool:
        """True once the bot answered the callback query, False if it did not within `timeout`, or (for a
        bot that reports handling) by the time it handled `update_id`, the update that carried the query."""
        deadline = self._now() + timeout
        while not self.callback_answers(query_id):
            if self._now() >= deadline or (self.reports_handled and update_id in self._handled):
                return False
            await self._wait_change(deadline - self._now())
        return True

    async def wait_idle(self, quiet: float = 0.25, timeout: float = 5.0) -> None:
        """Wait until every queued update was fetched (and handled, for a bot that reports it) and the bot
        made no request for `quiet` seconds. The quiet period stays: it stands for background work
        (timers, workers) that no update's handling covers."""
        deadline = self._now() + timeout
        while True:
            now = self._now()
            pending = [u["update_id"] for u in self._queue if u["update_id"] not in self._delivered]
            if self.reports_handled:
                pending += [u for u in self._delivered if u not in self._handled]
            last = max((c.finished or math.inf for c in self.calls if c.method != "getUpdates"), default=0.0)
            if not pending and now >= last + quiet:
                return
            if now >= deadline:
                raise AssertionError(f"the bot is not idle after {timeout}s: unhandled updates {pending}")
            await self._wait_change(min(deadline, last + quiet) - now)

    def _describe(self, update_id: int) -> str:
        update = next((u for u in self.updates if u["update_id"] == update_id), {"?": None})
        body = update.get("message") or update.get("callback_query") or {}
        shown = body.get("text") or body.get("data") or ""
        return f"update {update_id} ({_update_kind(update)} {shown!r})"

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_change(self, timeout: float) -> None:
        """Sleep until the next request, response or update, or `timeout` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), max(timeout, 0))

    # --- HTTP ------------------------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        name = request.match_info["method"]
        method = self.spec.method_name(name)
        try:
            raw = await _read_params(request)
        except ValueError:  # an unreadable body counts as no parameters: the missing ones are reported
            raw = {}
        params, problems = self.spec.check(method, raw) if method else (raw, [])
        call = Call(
            method or name,
            params,
            {k: v for k, v in raw.items() if isinstance(v, Upload)},
            self._chat_of(method, params),
            self._now(),
        )
        self.calls.append(call)
        self._notify()
        held = self._holds.get((call.method.lower(), call.chat_id)) or self._holds.get(
            (call.method.lower(), None)
        )
        if held is not None:
            await held.wait()
        try:
            if method is None:
                raise ApiError("Not Found", status=404)
            problems = problems or limits.check(method, params)
            if problems:
                raise ApiError(*problems)
            self._check_faults(call)
            if method == "getUpdates":
                result = await self._get_updates(call, lambda: not _gone(request))
            else:
                result = self._handlers.get(method, self._without_behaviour)(call)
            call.response, call.status = {"ok": True, "result": result}, 200
        except ApiError as error:
            self.violations.extend(f"{call.method}: {v}" for v in error.violations)
            call.response, call.status = error.payload(), error.status
        finally:  # also when the client went away and the handler was cancelled
            call.finished = self._now()
            self._notify()
        return web.json_response(call.response, status=call.status)

    async def _report_handled(self, request: web.Request) -> web.Response:
        self.handled(int(request.match_info["update_id"]))
        return web.Response(status=204)

    async def _download(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        file = next((f for f in self._files.values() if f.path == path), None)
        if request.match_info["token"] != self.token or file is None or file.data is None:
            raise web.HTTPNotFound()
        return web.Response(body=file.data, content_type=file.mime_type or "application/octet-stream")

    def _chat_of(self, method: str | None, params: dict[str, Any]) -> int | None:
        if method == "answerCallbackQuery":
            query = self._callbacks.get(str(params.get("callback_query_id")))
            return query.user_id if query else None
        chat_id = params.get("chat_id")
        return chat_id if isinstance(chat_id, int) else None

    def _check_faults(self, call: Call) -> None:
        """Injected faults, blocked users and flood limits: Telegram's doing, not the bot's violations."""
        fault = next((f for f in self._faults if f.matches(call)), None)
        if fault:
            fault.times -= 1
            if fault.times <= 0:
                self._faults.remove(fault)
            raise fault.error()
        if call.chat_id in self._blocked and _writes_to_chat(call.method):
            raise ApiError(BLOCKED, status=403, violation=False)
        if _creates_message(call.method) and (retry_after := self._flood_wait(call.chat_id)):
            self.rate_limited.append(call)
            raise ApiError(
                f"Too Many Requests: retry after {retry_after}",
                status=429,
                violation=False,
                retry_after=retry_after,
            )

    def _flood_wait(self, chat_id: int | None) -> int | None:
        """Seconds to wait if one more message would exceed a limit; otherwise count it and return None."""
        now = self._now()
        global_limit, chat_limit = self._rates
        windows = [(self._sent, global_limit)]
        if chat_id is not None:
            windows.append((self._sent_per_chat[chat_id], chat_limit))
        for window, limit in windows:
            while window and window[0] <= now - 1:
                window.popleft()
            if limit is not None and len(window) >= limit:
                return max(1, math.ceil(window[0] + 1 - now))
        for window, _ in windows:
            window.append(now)
        return None

    # --- methods ---------------------------------------------------------------------------------------------

    async def _get_updates(self, call: Call, connected: Callable[[], bool]) -> list[dict[str, Any]]:
        if self.webhook_url:
            raise ApiError(
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
                status=409,
            )
        params = call.params
        if offset := params.get("offset"):  # confirms every update below it; -N keeps only the last N
            kept = (
                self._queue[offset:] if offset < 0 else [u for u in self._queue if u["update_id"] >= offset]
            )
            self._queue = kept
        if "allowed_updates" in params:  # kept until the next call that names them, as Telegram does
            self._allowed_updates = params["allowed_updates"] or None
        self._poll_generation += 1
        generation = self._poll_generation
        deadline = call.time + params.get("timeout", 0)
        while not (batch := self._deliverable(params.get("limit", 100))):
            if generation != self._poll_generation:
                if not connected():  # a poll its bot abandoned (stopped, restarted): nobody to answer
                    break
                raise ApiError(
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                    status=409,
                )
            if self._closing or self._now() >= deadline:
                break
            await self._wait_change(deadline - self._now())
        for update in batch:
            self._delivered.setdefault(update["update_id"], (len(self.calls), self._now()))
        return batch

    def _deliverable(self, limit: int) -> list[dict[str, Any]]:
        if self._allowed_updates:
            for update in [u for u in self._queue if _update_kind(u) not in self._allowed_updates]:
                self._dropped[update["update_id"]] = _update_kind(update)
                self._queue.remove(update)
        return self._queue[: max(1, min(limit, 100))]

    def _set_webhook(self, call: Call) -> bool:
        self.webhook_url = call.params["url"]
        self.webhook_secret = call.params.get("secret_token")
        return True

    def _delete_webhook(self, call: Call) -> bool:
        self.webhook_url = ""
        self.webhook_secret = None
        if call.params.get("drop_pending_updates"):
            self._dropped.update((u["update_id"], _update_kind(u)) for u in self._queue)
            self._queue.clear()
        return True

    def _commands_key(self, params: dict[str, Any]) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        # A chat's own scope needs a chat that exists: a private chat is a user who wrote to the bot.
        if "chat_id" in scope and self._chat_id(scope) not in self.users:
            raise ApiError("Bad Request: chat not found")
        return json.dumps(scope, sort_keys=True), params.get("language_code") or ""

    def chat_commands(self, chat_id: int, language_code: str = "") -> list[str] | None:
        """The commands set for one chat's own scope (BotCommandScopeChat), None if none are."""
        key = json.dumps({"type": "chat", "chat_id": chat_id}, sort_keys=True), language_code
        return [c["command"] for c in self.commands[key]] if key in self.commands else None

    def _set_commands(self, call: Call) -> bool:
        # An empty list deletes the commands of that scope and language, as deleteMyCommands does.
        commands = [
            {"command": c["command"], "description": c["description"]} for c in call.params["commands"]
        ]
        if not commands:
            return self._delete_commands(call)
        self.commands[self._commands_key(call.params)] = commands
        return True

    def _delete_commands(self, call: Call) -> bool:
        self.commands.pop(self._commands_key(call.params), None)
        return True

    @staticmethod
    def _set_text(store: dict[str, str], params: dict[str, Any], field: str) -> bool:
        store[params.get("language_code") or ""] = params.get(field) or ""  # empty removes it
        return True

    def _chat(self, chat_id: int) -> dict[str, Any]:
        user = self.users.get(chat_id)
        return user.chat if user else {"id": chat_id, "type": "private", "first_name": f"User {chat_id}"}

    @staticmethod
    def _chat_id(params: dict[str, Any], key: str = "chat_id") -> int:
        chat_id = params.get(key)
        if not isinstance(chat_id, int):  # @usernames name channels, which this fake does not have
            raise ApiError("Bad Request: chat not found")
        return chat_id

    @staticmethod
    def _render(params: dict[str, Any], key: str) -> dict[str, Any]:
        """The message fields for `key` ("text" or "caption"): visible text and entities, and their source."""
        if params.get(key) is None:
            return {key: None, "entities": [], "source": None, "parse_mode": None}
        entities = params.get("entities" if key == "text" else "caption_entities")
        text, entities = limits.render(
            params[key], params.get("parse_mode"), entities, caption=key == "caption"
        )
        return {
            key: text,
            "entities": entities,
            "source": params[key],
            "parse_mode": params.get("parse_mode"),
        }

    def _bot_message(self, params: dict[str, Any], **content: Any) -> StoredMessage:
        chat_id = self._chat_id(params)
        reply = params.get("reply_parameters")
        if (
            reply
            and not reply.get("allow_sending_without_reply")
            and reply["message_id"] not in self._messages[reply.get("chat_id", chat_id)]
        ):
            raise ApiError("Bad Request: message to be replied not found")
        return self.store_message(
            chat_id,
            self.bot_user,
            reply_markup=_markup(params.get("reply_markup")),
            protected=bool(params.get("protect_content")),
            **content,
        )

    def _without_behaviour(self, call: Call) -> Any:
        return self.spec.result_for(call.method)

    def _send_message(self, call: Call) -> dict[str, Any]:
        return self._bot_message(call.params, kind="text", **self._render(call.params, "text")).to_api()

    def _send_media(self, call: Call) -> dict[str, Any]:
        kind = _MEDIA_METHODS[call.method]
        value = call.params[kind]
        if isinstance(value, Upload):
            file = self.register_file(value.data, value.filename, value.content_type, kind)
        elif value in self._files:
            file = self._files[value]
        elif value.startswith(("http://", "https://")):
            file = self.register_file(None, value.rsplit("/", 1)[-1], None, kind)
        else:
            raise ApiError("Bad Request: wrong file identifier/HTTP URL specified")
        return self._bot_message(
            call.params, kind=kind, file=file, **self._render(call.params, "caption")
        ).to_api()

    def _editable(self, params: dict[str, Any]) -> StoredMessage:
        message = self._messages[self._chat_id(params)].get(params.get("message_id"))
        if message is None:
            raise ApiError("Bad Request: message to edit not found")
        if not message.from_bot:
            raise ApiError("Bad Request: message can't be edited")
        return message

    def _edit_text(self, call: Call) -> dict[str, Any]:
        message = self._editable(call.params)
        if message.kind != "text":
            raise ApiError("Bad Request: there is no text in the message to edit")
        if "text" not in call.params:
            raise ApiError("Bad Request: message text is empty")
        return self._edit(call, message, self._render(call.params, "text"))

    def _edit_caption(self, call: Call) -> dict[str, Any]:
        message = self._editable(call.params)
        if message.kind == "text":
            raise ApiError("Bad Request: there is no caption in the message to edit")
        return self._edit(call, message, self._render(call.params, "caption"))

    def _edit(self, call: Call, message: StoredMessage, content: dict[str, Any]) -> dict[str, Any]:
        # An edit without reply_markup removes the inline keyboard, as in Telegram.
        edited = dataclasses.replace(
            message, **content, reply_markup=_markup(call.params.get("reply_markup"))
        )
        if _shown(edited) == _shown(message):
            self.not_modified.append(call)
            raise ApiError(NOT_MODIFIED, violation=False)
        edited.edit_date = int(time.time())
        self._messages[message.chat_id][message.message_id] = edited
        return edited.to_api()

    def _delete_message(self, call: Call) -> bool:
        if self._messages[self._chat_id(call.params)].pop(call.params["message_id"], None) is None:
            raise ApiError("Bad Request: message to delete not found")
        return True

    def _delete_messages(self, call: Call) -> bool:
        chat = self._messages[self._chat_id(call.params)]
        for message_id in call.params["message_ids"]:
            chat.pop(message_id, None)  # "messages that can't be found are skipped"
        return True

    def _duplicate(self, call: Call) -> dict[str, Any]:
        """copyMessage and forwardMessage: the source message's content as a new bot message in chat_id."""
        params = call.params
        copy = call.method == "copyMessage"
        source = self._messages[self._chat_id(params, "from_chat_id")].get(params["message_id"])
        if source is None:
            raise ApiError(f"Bad Request: message to {'copy' if copy else 'forward'} not found")
        content = {
            k: getattr(source, k)
            for k in ("kind", "text", "caption", "entities", "source", "parse_mode", "file")
        }
        if copy and "caption" in params:
            content.update(self._render(params, "caption"))
        message = self._bot_message(params, **content)
        return {"message_id": message.message_id} if copy else message.to_api()

    def _answer_callback(self, call: Call) -> bool:
        query = self._callbacks.get(call.params["callback_query_id"])
        if query is None or query.answers:
            raise ApiError(
                "Bad Request: query is too old and response timeout expired or query ID is invalid"
            )
        query.answers.append(call.params)
        return True

    def _get_file(self, call: Call) -> dict[str, Any]:
        file = self._files.get(call.params["file_id"])
        if file is None:
            raise ApiError("Bad Request: invalid file_id")
        result = {"file_id": file.file_id, "file_unique_id": file.file_unique_id, "file_path": file.path}
        return result | ({"file_size": len(file.data)} if file.data is not None else {})
