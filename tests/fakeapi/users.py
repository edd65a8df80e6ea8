"""Simulated Telegram users: they message the bot through the fake server and wait for its reaction."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from .limits import utf16_len
from .models import Call, StoredMessage

if TYPE_CHECKING:
    from .server import FakeBotAPI

_PHOTO = bytes.fromhex("ffd8ffe0") + b"fake jpeg"
_DOCUMENT = b"%PDF-1.4 fake document"
_VOICE = b"OggS fake voice"
_STICKER = b"RIFF fake webp"


def _opaque_id() -> str:
    """Telegram's ids are opaque numbers; ids that spelled the user id would leak it into the bot's logs."""
    return str(uuid.uuid4().int >> 65)


class SimulatedUser:
    """A user in a private chat with the bot (chat id == user id).

    Every action waits for the bot's reaction and returns the requests it made for this chat; the
    keyword arguments `quiet` (only for a bot that does not report handling), `timeout` and
    `expect_silence` go to FakeBotAPI.wait_reaction."""

    def __init__(
        self,
        api: FakeBotAPI,
        user_id: int,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> None:
        self.api = api
        self.id = user_id
        names = {"first_name": first_name, "last_name": last_name, "username": username}
        names = {k: v for k, v in names.items() if v is not None}
        self.as_user = {"id": user_id, "is_bot": False, **names}
        if language_code:
            self.as_user["language_code"] = language_code
        self.chat = {"id": user_id, "type": "private", **names}
        self._queries: list[str] = []
        self._chat_instance = _opaque_id()

    # --- acting ----------------------------------------------------------------------------------------------

    async def send_text(self, text: str, **wait: Any) -> list[Call]:
        """Send a text message; a leading /command gets its bot_command entity, as Telegram adds it."""
        entities = []
        if text.startswith("/"):
            entities.append(
                {"type": "bot_command", "offset": 0, "length": utf16_len(text.split(maxsplit=1)[0])}
            )
        return await self._send(wait, kind="text", text=text, entities=entities)

    async def send_photo(self, data: bytes = _PHOTO, caption: str | None = None, **wait: Any) -> list[Call]:
        return await self._send_file(wait, "photo", data, "photo.jpg", "image/jpeg", caption)

    async def send_document(
        self,
        data: bytes = _DOCUMENT,
        filename: str = "document.pdf",
        mime_type: str = "application/pdf",
        caption: str | None = None,
        **wait: Any,
    ) -> list[Call]:
        return await self._send_file(wait, "document", data, filename, mime_type, caption)

    async def send_voice(self, data: bytes = _VOICE, **wait: Any) -> list[Call]:
        return await self._send_file(wait, "voice", data, "voice.ogg", "audio/ogg")

    async def send_sticker(self, **wait: Any) -> list[Call]:
        return await self._send_file(wait, "sticker", _STICKER, "sticker.webp", "image/webp")

    async def press(self, text: str, *, message_id: int | None = None, **wait: Any) -> list[Call]:
        """Press the inline button whose text contains `text`, case-insensitively (an exact match wins),
        on the newest bot message with an inline keyboard or on `message_id`."""
        message = self._keyboard_message(message_id)
        buttons = [button for row in message.inline_keyboard for button in row]
        wanted = text.casefold()
        found = [b for b in buttons if b["text"].casefold() == wanted] or [
            b for b in buttons if wanted in b["text"].casefold()
        ]
        if not found:
            raise AssertionError(
                f"no button {text!r} on message {message.message_id} "
                f"{message.text or message.caption!r}; buttons: {message.button_rows}"
            )
        if "callback_data" not in found[0]:
            raise AssertionError(f"button {found[0]['text']!r} sends nothing to the bot: {found[0]}")
        return await self.press_data(found[0]["callback_data"], message_id=message.message_id, **wait)

    async def press_data(self, data: str, *, message_id: int | None = None, **wait: Any) -> list[Call]:
        """Send callback data, possibly forged, as if from a button on the message (see press)."""
        message = self._keyboard_message(message_id)
        query_id = _opaque_id()
        self._queries.append(query_id)
        update_id = self.api.feed(
            {
                "callback_query": {
                    "id": query_id,
                    "from": self.as_user,
                    "chat_instance": self._chat_instance,
                    "message": message.to_api(),
                    "data": data,
                }
            }
        )
        calls = await self.api.wait_reaction(update_id, self.id, **wait)
        # Without handling reports the answer may come a moment after the last message on a loaded
        # machine; Telegram waits about 15 s before the button stops spinning, we wait a few.
        if not await self.api.wait_callback_answer(
            query_id, timeout=5.0, update_id=update_id
        ):  # it keeps spinning
            self.api.violations.append(
                f"callback query not answered: {data!r} on message {message.message_id}"
            )
        return calls

    async def _send_file(
        self,
        wait: dict[str, Any],
        kind: str,
        data: bytes,
        filename: str,
        mime_type: str,
        caption: str | None = None,
    ) -> list[Call]:
        file = self.api.register_file(data, filename, mime_type, kind)
        return await self._send(wait, kind=kind, file=file, caption=caption)

    async def _send(self, wait: dict[str, Any], **content: Any) -> list[Call]:
        message = self.api.store_message(self.id, self.as_user, **content)
        update_id = self.api.feed({"message": message.to_api()})
        return await self.api.wait_reaction(update_id, self.id, **wait)

    def _keyboard_message(self, message_id: int | None) -> StoredMessage:
        if message_id is not None:
            message = next((m for m in self.messages if m.message_id == message_id), None)
            if message is None:
                raise AssertionError(f"no bot message {message_id} in chat {self.id}")
            return message
        message = next((m for m in reversed(self.messages) if m.inline_keyboard), None)
        if message is None:
            raise AssertionError(
                f"no bot message with an inline keyboard in chat {self.id}; "
                f"messages: {[m.text or m.caption for m in self.messages]}"
            )
        return message

    # --- what the user sees ----------------------------------------------------------------------------------

    @property
    def messages(self) -> list[StoredMessage]:
        """The bot's messages in this chat, oldest first, as they are now (edited, deleted ones gone)."""
        return [m for m in self.api.messages(self.id) if m.from_bot]

    @property
    def last(self) -> StoredMessage:
        messages = self.messages
        if not messages:
            raise AssertionError(f"the bot has no messages in chat {self.id}")
        return messages[-1]

    @property
    def last_text(self) -> str | None:
        """Text (or caption) of the newest bot message."""
        last = self.last
        return last.text if last.kind == "text" else last.caption

    @property
    def alerts(self) -> list[str]:
        """Texts of the bot's answers to this user's button presses (toasts and alerts)."""
        return [a["text"] for q in self._queries for a in self.api.callback_answers(q) if a.get("text")]

    @property
    def documents(self) -> list[StoredMessage]:
        return [m for m in self.messages if m.kind == "document"]
