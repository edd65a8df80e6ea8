"""Records shared by the fake Bot API server and the simulated users."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Fields Telegram requires on each media object besides file_id/file_unique_id,
# filled with plausible values so aiogram can parse what the fake returns.
MEDIA_DEFAULTS: dict[str, dict[str, Any]] = {
    "document": {},
    "photo": {"width": 1280, "height": 720},
    "voice": {"duration": 1, "mime_type": "audio/ogg"},
    "audio": {"duration": 1},
    "video": {"width": 1280, "height": 720, "duration": 1},
    "animation": {"width": 320, "height": 240, "duration": 1},
    "video_note": {"length": 240, "duration": 1},
    "sticker": {"type": "regular", "width": 512, "height": 512, "is_animated": False, "is_video": False},
}


class ApiError(Exception):
    """An error answer of the Bot API; `violation` marks the bot's fault (not an injected fault)."""

    def __init__(
        self,
        description: str,
        *more: str,
        status: int = 400,
        violation: bool = True,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(description)
        self.description = description
        self.status = status
        self.retry_after = retry_after
        self.violations = [description, *more] if violation else []

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    filename: str | None
    content_type: str | None
    data: bytes


@dataclass(frozen=True)
class StoredFile:
    """A file known to the server: uploaded by the bot, sent by a user or given by URL (data None)."""

    file_id: str
    file_unique_id: str
    path: str
    data: bytes | None
    filename: str | None
    mime_type: str | None

    def to_api(self, kind: str) -> Any:
        obj: dict[str, Any] = {"file_id": self.file_id, "file_unique_id": self.file_unique_id}
        if self.data is not None:
            obj["file_size"] = len(self.data)
        if kind == "document":
            obj.update(file_name=self.filename, mime_type=self.mime_type)
        obj.update(MEDIA_DEFAULTS[kind])
        obj = {k: v for k, v in obj.items() if v is not None}
        return [obj] if kind == "photo" else obj  # Telegram sends a photo as a list of sizes


@dataclass
class Call:
    """One request the bot made. `time`/`finished` are event-loop (monotonic) seconds."""

    method: str
    params: dict[str, Any]
    files: dict[str, Upload]
    chat_id: int | None
    time: float
    response: dict[str, Any] | None = None
    status: int | None = None
    finished: float | None = None

    @property
    def ok(self) -> bool:
        return bool(self.response and self.response["ok"])

    @property
    def description(self) -> str | None:
        return self.response.get("description") if self.response else None

    def __repr__(self) -> str:
        shown = {k: v for k, v in self.params.items() if k != "chat_id"}
        return f"<{self.method} chat={self.chat_id} {shown} -> {self.status}>"


@dataclass
class StoredMessage:
    """A message in a chat as Telegram would hold it; `text`/`caption` are what the user sees."""

    chat: dict[str, Any]
    message_id: int
    date: int
    sender: dict[str, Any]
    kind: str = "text"
    text: str | None = None
    caption: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    source: str | None = None  # text or caption exactly as sent (e.g. HTML)
    parse_mode: str | None = None
    reply_markup: dict[str, Any] | None = None
    file: StoredFile | None = None
    edit_date: int | None = None
    protected: bool = False  # sent with protect_content; an edit keeps it, as in Telegram

    @property
    def chat_id(self) -> int:
        return self.chat["id"]

    @property
    def from_bot(self) -> bool:
        return self.sender["is_bot"]

    @property
    def inline_keyboard(self) -> list[list[dict[str, Any]]]:
        return (self.reply_markup or {}).get("inline_keyboard", [])

    @property
    def button_rows(self) -> list[list[str]]:
        return [[button["text"] for button in row] for row in self.inline_keyboard]

    @property
    def buttons(self) -> list[str]:
        return [text for row in self.button_rows for text in row]

    @property
    def callback_data(self) -> list[str]:
        return [b["callback_data"] for row in self.inline_keyboard for b in row if "callback_data" in b]

    @property
    def document(self) -> bytes | None:
        """Bytes of the attached file (document, photo, voice...), None when unknown or absent."""
        return self.file.data if self.file else None

    @property
    def filename(self) -> str | None:
        return self.file.filename if self.file else None

    def to_api(self) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "message_id": self.message_id,
            "date": self.date,
            "chat": self.chat,
            "from": self.sender,
        }
        if self.kind == "text":
            msg["text"] = self.text
        elif self.file:
            msg[self.kind] = self.file.to_api(self.kind)
        if self.caption is not None:
            msg["caption"] = self.caption
        if self.entities:
            msg["entities" if self.kind == "text" else "caption_entities"] = self.entities
        if self.inline_keyboard:  # Telegram echoes only inline keyboards
            msg["reply_markup"] = self.reply_markup
        if self.edit_date:
            msg["edit_date"] = self.edit_date
        if self.protected:
            msg["has_protected_content"] = True
        return msg
