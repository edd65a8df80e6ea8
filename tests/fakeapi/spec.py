"""The machine-readable Bot API specification: which methods and fields exist, and what values fit them."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
from pathlib import Path
from typing import Any

from .models import Upload

SCALARS = {"Integer", "Float", "Boolean", "String"}
_EMPTY = {"Integer": 0, "Float": 0.0, "String": "", "Boolean": False}
_INTEGER = re.compile(r"-?\d+")
# Discriminator fields are documented as 'Type of the media, must be photo' or 'always "user"'.
_DISCRIMINATOR = re.compile(r'(?:must be|always) "?(\w+)"?$')
# Telegram's wording for a missing required field where it differs from "<field> is empty".
_MISSING = {"text": "message text is empty"}
# Fields Bot API 7.0 replaced; Telegram still takes them, the spec no longer has them. aiogram sends
# disable_web_page_preview for DefaultBotProperties(link_preview_is_disabled=...): use link_preview=.
_REPLACED = {
    "disable_web_page_preview": "link_preview_options",
    "reply_to_message_id": "reply_parameters",
    "allow_sending_without_reply": "reply_parameters",
}


def spec_path() -> Path:
    """DEMEU_BOT_API_SPEC if set; else the workplace's shared/ beside the checkout; else the copy
    kept in the repository (MIT, see spec_data/bot-api.LICENSE), so a clone anywhere can test."""
    override = os.environ.get("DEMEU_BOT_API_SPEC")
    if override:
        return Path(override)
    shared = Path(__file__).resolve().parents[2].parent / "shared/telegram/bot-api.json"
    return shared if shared.exists() else Path(__file__).with_name("spec_data") / "bot-api.json"


def load_spec(path: Path | None = None) -> Spec:
    return _load(path or spec_path())


@functools.cache
def _load(path: Path) -> Spec:  # parsed once per file: it is large and never changes during a run
    return Spec(json.loads(path.read_text(encoding="utf-8")))


class _Mismatch(Exception):
    """A value that does not fit a type; `owner` is the object type it sits in, `depth` how deep it was found."""

    def __init__(self, detail: str, owner: str | None = None, depth: int = 0) -> None:
        super().__init__(detail)
        self.detail, self.owner, self.depth = detail, owner, depth


def _unknown_field(name: str) -> str:
    hint = f" (deprecated: use {_REPLACED[name]})" if name in _REPLACED else ""
    return f'Bad Request: unknown field "{name}"{hint}'


def _human(type_name: str) -> str:
    """InlineKeyboardButton -> 'inline keyboard button', as Telegram names objects in its errors."""
    return re.sub(r"(?<!^)(?=[A-Z])", " ", type_name).lower()


def _scalar(value: Any, type_name: str) -> Any:
    """Form bodies carry every scalar as a string; JSON bodies carry native values. Accept both."""
    if type_name == "String" and isinstance(value, str):
        return value
    if type_name == "Boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
    if type_name in ("Integer", "Float") and not isinstance(value, bool):
        if isinstance(value, int) or (type_name == "Float" and isinstance(value, float)):
            return value
        if isinstance(value, str) and _INTEGER.fullmatch(value):
            return int(value)
        if type_name == "Float" and isinstance(value, str):
            with contextlib.suppress(ValueError):
                return float(value)
    raise _Mismatch(f"{type_name} expected")


class Spec:
    def __init__(self, data: dict[str, Any]) -> None:
        self.version: str = data.get("version", "?")
        self.methods: dict[str, Any] = data["methods"]
        self.types: dict[str, Any] = data["types"]
        self._names = {name.lower(): name for name in self.methods}

    def method_name(self, name: str) -> str | None:
        """The canonical name of a method (Telegram matches them case-insensitively), None if there is none."""
        return self._names.get(name.lower())

    def fields(self, owner: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {f["name"]: f for f in owner.get("fields", [])}

    def check(self, method: str, raw: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """Decode a call's parameters by their declared types; return them with Telegram-worded problems.

        Values that do not fit stay raw in the result, so a call record still shows what was sent."""
        fields = self.fields(self.methods[method])
        uploads = {k: v for k, v in raw.items() if isinstance(v, Upload)}
        # Upload parts under other names are attachments referenced as "attach://<name>".
        params = {k: v for k, v in raw.items() if k in fields or not isinstance(v, Upload)}
        problems = [_unknown_field(name) for name in params if name not in fields]
        for name, field in fields.items():
            types = field["types"]
            if name not in raw:
                if field["required"]:
                    problems.append(self._missing(name, types))
                continue
            value = raw[name]
            if isinstance(value, str) and not set(types) & (SCALARS | {"InputFile"}):
                try:  # objects and arrays travel as JSON text in form bodies
                    value = json.loads(value)
                except ValueError:
                    problems.append(f"Bad Request: can't parse {name} JSON object")
                    continue
            try:
                params[name] = self._convert(value, types, uploads, 0)
            except _Mismatch as e:
                problems.append(
                    f"Bad Request: can't parse {_human(e.owner)}: {e.detail}"
                    if e.owner
                    else f'Bad Request: field "{name}" must be of type {" or ".join(types)}'
                )
        return params, problems

    @staticmethod
    def _missing(name: str, types: list[str]) -> str:
        if "InputFile" in types:
            return f"Bad Request: there is no {name} in the request"
        return f"Bad Request: {_MISSING.get(name, name + ' is empty')}"

    def _convert(self, value: Any, types: list[str], uploads: dict[str, Upload], depth: int) -> Any:
        failures = []
        for type_name in types:
            try:
                return self._as(value, type_name, uploads, depth)
            except _Mismatch as e:
                failures.append(e)
        # The alternative that matched deepest explains the problem best (an inline keyboard
        # with a broken button should not be reported as "not a ReplyKeyboardRemove").
        raise max(failures, key=lambda e: e.depth)

    def _as(self, value: Any, type_name: str, uploads: dict[str, Upload], depth: int) -> Any:
        if type_name.startswith("Array of "):
            if not isinstance(value, list):
                raise _Mismatch(f"{type_name} expected", depth=depth)
            item_type = type_name.removeprefix("Array of ")
            return [self._as(item, item_type, uploads, depth) for item in value]
        if type_name == "InputFile":
            if isinstance(value, str) and value.startswith("attach://"):
                value = uploads.get(value.removeprefix("attach://"))
            if isinstance(value, Upload):
                return value
            raise _Mismatch("InputFile expected", depth=depth)
        if type_name in SCALARS:
            return _scalar(value, type_name)
        obj = self.types[type_name]
        if not isinstance(value, dict):
            raise _Mismatch(f"{type_name} expected", depth=depth)
        if "subtypes" in obj:
            return self._convert(value, obj["subtypes"], uploads, depth)
        fields = self.fields(obj)
        if not fields:  # placeholders such as CallbackGame hold nothing
            return value
        for name in value:
            if name not in fields:
                raise _Mismatch(f'unknown field "{name}"', type_name, depth)
        decoded = {}
        for name, field in fields.items():
            if name not in value:
                if field["required"]:
                    raise _Mismatch(f'Can\'t find field "{name}"', type_name, depth)
                continue
            try:
                decoded[name] = self._convert(value[name], field["types"], uploads, depth + 1)
            except _Mismatch as e:
                if e.owner:
                    raise
                raise _Mismatch(
                    f'Field "{name}" must be of type {" or ".join(field["types"])}', type_name, depth + 1
                ) from None
        return decoded

    def result_for(self, method: str) -> Any:
        """A valid, empty answer of the method's declared return type."""
        returns = self.methods[method].get("returns", ["Boolean"])[0]
        return True if returns == "Boolean" else self.minimal(returns)

    def minimal(self, type_name: str) -> Any:
        """The smallest value of a type: required fields only, discriminators set from the docs."""
        if type_name.startswith("Array of "):
            return []
        if type_name in _EMPTY:
            return _EMPTY[type_name]
        obj = self.types[type_name]
        if "subtypes" in obj:
            return self.minimal(obj["subtypes"][0])
        value = {}
        for field in obj.get("fields", []):
            if field["required"]:
                tag = _DISCRIMINATOR.search(field["description"]) if field["types"] == ["String"] else None
                value[field["name"]] = tag[1] if tag else self.minimal(field["types"][0])
        return value
