"""Limits the Bot API documents only in prose, and Telegram's HTML parse mode, with Telegram's error wording."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, NoReturn

from .models import ApiError

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_ANSWER_LIMIT = 200
CALLBACK_DATA_BYTES = 64
# setMyCommands, setMyDescription, setMyShortDescription ("0-512 characters", "0-120 characters").
COMMAND = re.compile(r"[a-z0-9_]{1,32}")
COMMAND_DESCRIPTION_LIMIT = 256
DESCRIPTION_LIMITS = {
    "setMyDescription": ("description", 512),
    "setMyShortDescription": ("short_description", 120),
}
# InlineKeyboardButton: "exactly one of the fields other than text, icon_custom_emoji_id, and style must be used".
BUTTON_DECORATION = {"text", "icon_custom_emoji_id", "style"}

_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY = re.compile(r"&(?:#x([0-9a-fA-F]+)|#([0-9]+)|([a-zA-Z]+));?")
_SPACES = " \t\n\r\v\f"


def utf16_len(text: str) -> int:
    """Telegram measures text in UTF-16 code units: characters outside the BMP (most emoji) count twice."""
    return len(text.encode("utf-16-le")) // 2


def render(
    source: str,
    parse_mode: str | None,
    entities: list[dict[str, Any]] | None = None,
    *,
    caption: bool = False,
) -> tuple[str, list[dict[str, Any]]]:
    """The visible text and entities Telegram makes of a text or caption, or ApiError as Telegram answers.

    Markdown modes are not parsed: their source is kept and measured as is."""
    mode = (parse_mode or "").lower()
    if mode == "html":
        text, entities = parse_html(source)
    elif mode in ("", "markdown", "markdownv2"):
        text, entities = source, list(entities or [])
    else:
        raise ApiError("Bad Request: unsupported parse_mode")
    if not caption and not text.strip():
        raise ApiError("Bad Request: message text is empty")
    if utf16_len(text) > (CAPTION_LIMIT if caption else TEXT_LIMIT):
        raise ApiError(
            "Bad Request: message caption is too long" if caption else "Bad Request: message is too long"
        )
    return text, entities


def check(method: str, params: dict[str, Any]) -> list[str]:
    """Prose limits that do not depend on rendering a message: inline keyboards, callback answers."""
    problems = []
    if method == "answerCallbackQuery" and utf16_len(params.get("text") or "") > CALLBACK_ANSWER_LIMIT:
        problems.append("Bad Request: MESSAGE_TOO_LONG")
    problems += _profile_problems(method, params)
    markup = params.get("reply_markup")
    for row in markup.get("inline_keyboard", []) if isinstance(markup, dict) else []:
        for button in row:
            actions = set(button) - BUTTON_DECORATION
            if not actions:
                problems.append(
                    "Bad Request: can't parse inline keyboard button: "
                    "Text buttons are unallowed in the inline keyboard"
                )
            elif len(actions) > 1:
                problems.append(
                    "Bad Request: can't parse inline keyboard button: exactly one of "
                    f"{', '.join(sorted(actions))} must be used"
                )
            data = button.get("callback_data")
            if isinstance(data, str) and not 1 <= len(data.encode()) <= CALLBACK_DATA_BYTES:
                problems.append("Bad Request: BUTTON_DATA_INVALID")
    return problems


def _profile_problems(method: str, params: dict[str, Any]) -> list[str]:
    if method in DESCRIPTION_LIMITS:
        field, limit = DESCRIPTION_LIMITS[method]
        return ["Bad Request: description is too long"] if len(params.get(field) or "") > limit else []
    if method != "setMyCommands":
        return []
    problems = []
    for command in params.get("commands") or []:
        if not COMMAND.fullmatch(str(command.get("command"))):
            problems.append("Bad Request: BOT_COMMAND_INVALID")
        if not 1 <= len(str(command.get("description") or "")) <= COMMAND_DESCRIPTION_LIMIT:
            problems.append("Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
    return problems


@dataclass
class _OpenTag:
    name: str
    offset: int  # UTF-16 offset of the tag's content in the visible text
    attributes: dict[str, str]
    language: str | None = None  # set on <pre> by a nested <code class="language-x">


def parse_html(html: str) -> tuple[str, list[dict[str, Any]]]:
    """Telegram's HTML parse mode: the visible text and its entities, or ApiError with Telegram's message.

    Follows TDLib's parser and its error messages, but is stricter in one respect on purpose: a bare
    ">" or an "&" that starts no supported entity is refused (Telegram shows them literally), because
    either one means a value was put into HTML without html.escape()."""
    return _HtmlParser(html).parse()


class _HtmlParser:
    def __init__(self, html: str) -> None:
        self.html = html
        self.pos = 0
        self.text: list[str] = []
        self.offset = 0
        self.stack: list[_OpenTag] = []
        self.entities: list[dict[str, Any]] = []

    def fail(self, message: str, at: int | None = None) -> NoReturn:
        where = "" if at is None else f" at byte offset {len(self.html[:at].encode())}"
        raise ApiError(f"Bad Request: can't parse entities: {message}{where}")

    def parse(self) -> tuple[str, list[dict[str, Any]]]:
        html = self.html
        while self.pos < len(html):
            char = html[self.pos]
            if html.startswith("</", self.pos):
                self.end_tag()
            elif char == "<":
                self.start_tag()
            elif char == ">":
                self.fail('Unescaped ">"', self.pos)
            elif char == "&":
                decoded, self.pos = self.entity(self.pos)
                if decoded is None:
                    self.fail('Unsupported HTML entity or unescaped "&"', self.pos)
                self.emit(decoded)
            else:
                self.emit(char)
                self.pos += 1
        if self.stack:
            self.fail(f'Can\'t find end tag corresponding to start tag "{self.stack[-1].name}"')
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.text), self.entities

    def emit(self, chars: str) -> None:
        self.text.append(chars)
        self.offset += utf16_len(chars)

    def entity(self, at: int) -> tuple[str | None, int]:
        """Decode &lt; &gt; &amp; &quot; &#N; &#xN; (the ';' is optional, as in TDLib)."""
        match = _ENTITY.match(self.html, at)
        if not match:
            return None, at
        hex_code, dec_code, name = match.groups()
        if name:
            decoded = _NAMED_ENTITIES.get(name)
        else:
            code = int(hex_code, 16) if hex_code else int(dec_code)
            decoded = chr(code) if 0 < code < 0x10FFFF and not 0xD800 <= code <= 0xDFFF else None
        return (decoded, match.end()) if decoded else (None, at)

    def skip_spaces(self) -> None:
        while self.pos < len(self.html) and self.html[self.pos] in _SPACES:
            self.pos += 1

    def scan(self, stop: str) -> str:
        """Advance to the next space, end of text or character of `stop`; return what was passed."""
        start = self.pos
        while self.pos < len(self.html) and self.html[self.pos] not in _SPACES + stop:
            self.pos += 1
        return self.html[start : self.pos]

    def start_tag(self) -> None:
        begin = self.pos
        self.pos += 1
        name = self.scan(">").lower()
        if self.pos == len(self.html):
            self.fail("Unclosed start tag", begin)
        if name not in _TAGS:
            self.fail(f'Unsupported start tag "{name}"', begin)
        attributes = self.attributes(name, begin)
        if name == "span" and attributes.get("class") != "tg-spoiler":
            self.fail('Tag "span" must have class "tg-spoiler"', begin)
        if name == "tg-emoji" and not attributes.get("emoji-id", "").isdigit():
            self.fail("Invalid custom emoji identifier specified")
        self.stack.append(_OpenTag(name, self.offset, attributes))

    def attributes(self, tag: str, begin: int) -> dict[str, str]:
        html, attributes = self.html, {}
        while True:
            self.skip_spaces()
            if self.pos == len(html):
                self.fail("Unclosed start tag", begin)
            if html[self.pos] == ">":
                self.pos += 1
                return attributes
            name = self.scan("=>").lower()
            if not name:
                self.fail(f'Empty attribute name in the tag "{tag}"', begin)
            self.skip_spaces()
            if self.pos == len(html) or html[self.pos] != "=":
                attributes[name] = ""  # a bare attribute such as <blockquote expandable>
                continue
            self.pos += 1
            self.skip_spaces()
            if self.pos >= len(html):
                self.fail(f'Unclosed start tag "{tag}"', begin)
            attributes[name] = self.attribute_value(begin)

    def attribute_value(self, begin: int) -> str:
        html = self.html
        quote = html[self.pos]
        if quote not in "\"'":  # an unquoted name token: letters, digits, '.', '-'
            start = self.pos
            while self.pos < len(html) and (
                (html[self.pos].isascii() and html[self.pos].isalnum()) or html[self.pos] in ".-"
            ):
                self.pos += 1
            if self.pos == len(html) or html[self.pos] not in _SPACES + ">":
                self.fail("Unexpected end of name token", start)
            return html[start : self.pos].lower()
        self.pos += 1
        value = []
        while self.pos < len(html) and html[self.pos] != quote:
            decoded, end = self.entity(self.pos) if html[self.pos] == "&" else (None, self.pos)
            value.append(decoded or html[self.pos])
            self.pos = end if decoded else self.pos + 1
        if self.pos == len(html):
            self.fail("Unclosed start tag", begin)
        self.pos += 1
        return "".join(value)

    def end_tag(self) -> None:
        begin = self.pos
        if not self.stack:
            self.fail("Unexpected end tag", begin)
        self.pos += 2
        name = self.scan(">").lower()
        self.skip_spaces()
        if self.pos == len(self.html) or self.html[self.pos] != ">":
            self.fail("Unclosed end tag", begin)
        self.pos += 1
        tag = self.stack.pop()
        if name and name != tag.name:  # "</>" closes whatever is open
            self.fail(
                f"Unmatched end tag at byte offset {len(self.html[:begin].encode())}, "
                f'expected "</{tag.name}>", found "</{name}>"'
            )
        self.close(tag)

    def close(self, tag: _OpenTag) -> None:
        attributes = tag.attributes
        if tag.name == "code" and self.stack and self.stack[-1].name == "pre":
            # <pre><code class="language-x"> is one pre entity with a language
            language = re.fullmatch(r"language-(.+)", attributes.get("class", ""))
            self.stack[-1].language = language[1] if language else None
            return
        if self.offset == tag.offset:
            return  # Telegram drops empty entities
        entity: dict[str, Any] = {
            "type": _TAGS[tag.name],
            "offset": tag.offset,
            "length": self.offset - tag.offset,
        }
        if tag.name == "a":
            if not attributes.get("href"):
                return
            entity["url"] = attributes["href"]
        elif tag.name == "pre" and tag.language:
            entity["language"] = tag.language
        elif tag.name == "blockquote" and "expandable" in attributes:
            entity["type"] = "expandable_blockquote"
        elif tag.name == "tg-emoji":
            entity["custom_emoji_id"] = attributes["emoji-id"]
        self.entities.append(entity)
