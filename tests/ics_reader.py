"""A small, strict RFC 5545 reader for the tests, written apart from the bot's writer (icalendar):
what the bot sends must be read by something that does not share its assumptions.

Strict where calendar apps are: CRLF line ends, lines of at most 75 octets (folded with CRLF and
one space or tab), `NAME;PARAM=VALUE:value` content lines, BEGIN/END properly nested, the
properties every VCALENDAR and VEVENT must have, and text escapes (\\n \\, \\; \\\\) undone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

NAME = re.compile(r"[A-Za-z0-9-]+")
PARAM = re.compile(r';([A-Za-z0-9-]+)=("[^"]*"|[^";:,]*(?:,[^";:,]*)*)')
TEXT_ESCAPES = {"n": "\n", "N": "\n", ",": ",", ";": ";", "\\": "\\"}


class IcsError(AssertionError):
    pass


@dataclass
class Property:
    name: str
    params: dict[str, str]
    value: str

    @property
    def text(self) -> str:
        """The value as TEXT (RFC 5545 3.3.11), escapes undone."""
        out, chars = [], iter(self.value)
        for char in chars:
            if char == "\\":
                following = next(chars, "")
                if following not in TEXT_ESCAPES:
                    raise IcsError(f"bad escape \\{following} in {self.name}")
                out.append(TEXT_ESCAPES[following])
            else:
                out.append(char)
        return "".join(out)


@dataclass
class Component:
    name: str
    properties: list[Property] = field(default_factory=list)
    children: list[Component] = field(default_factory=list)

    def all(self, name: str) -> list[Property]:
        return [p for p in self.properties if p.name == name]

    def one(self, name: str) -> Property:
        found = self.all(name)
        if len(found) != 1:
            raise IcsError(f"{self.name}: expected one {name}, found {len(found)}")
        return found[0]

    def get(self, name: str) -> str | None:
        found = self.all(name)
        return found[0].value if found else None

    def components(self, name: str) -> list[Component]:
        return [c for c in self.children if c.name == name]


def unfold(data: bytes) -> list[str]:
    if not data.endswith(b"\r\n"):
        raise IcsError("the file does not end with CRLF")
    physical = data[:-2].split(b"\r\n")
    logical: list[bytes] = []
    for line in physical:
        if b"\n" in line or b"\r" in line:
            raise IcsError(f"a bare LF or CR in {line!r}")
        if len(line) > 75:
            raise IcsError(f"a line of {len(line)} octets (at most 75): {line!r}")
        if line[:1] in (b" ", b"\t"):
            if not logical:
                raise IcsError("a continuation line first")
            logical[-1] += line[1:]
        else:
            logical.append(line)
    return [line.decode("utf-8") for line in logical]


def content_line(line: str) -> Property:
    match = NAME.match(line)
    if match is None:
        raise IcsError(f"no property name in {line!r}")
    name, rest, params = match.group(0).upper(), line[match.end() :], {}
    while rest.startswith(";"):
        param = PARAM.match(rest)
        if param is None:
            raise IcsError(f"a bad parameter in {line!r}")
        params[param.group(1).upper()] = param.group(2).strip('"')
        rest = rest[param.end() :]
    if not rest.startswith(":"):
        raise IcsError(f"no ':' after the name and parameters in {line!r}")
    return Property(name, params, rest[1:])


def parse(data: bytes) -> Component:
    """The VCALENDAR of an .ics file, checked."""
    stack: list[Component] = []
    root: Component | None = None
    for line in unfold(data):
        prop = content_line(line)
        if prop.name == "BEGIN":
            component = Component(prop.value.upper())
            if stack:
                stack[-1].children.append(component)
            elif root is not None:
                raise IcsError("a second top-level component")
            else:
                root = component
            stack.append(component)
        elif prop.name == "END":
            if not stack or stack[-1].name != prop.value.upper():
                raise IcsError(f"END:{prop.value} does not close {stack[-1].name if stack else 'anything'}")
            stack.pop()
        elif not stack:
            raise IcsError(f"{prop.name} outside any component")
        else:
            stack[-1].properties.append(prop)
    if root is None or stack:
        raise IcsError("unbalanced BEGIN/END")
    if root.name != "VCALENDAR" or root.one("VERSION").value != "2.0":
        raise IcsError("not an iCalendar 2.0 object")
    root.one("PRODID")
    for event in root.components("VEVENT"):
        for required in ("UID", "DTSTAMP", "DTSTART"):
            event.one(required)
        tzid = event.one("DTSTART").params.get("TZID")
        if tzid and tzid not in {z.get("TZID") for z in root.components("VTIMEZONE")}:
            raise IcsError(f"TZID {tzid} has no VTIMEZONE")
    return root


def event_of(data: bytes) -> tuple[Component, Component]:
    """(calendar, its one VEVENT)."""
    calendar = parse(data)
    (event,) = calendar.components("VEVENT")
    return calendar, event
