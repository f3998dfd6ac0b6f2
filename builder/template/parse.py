"""JSON with positions: every value's line and column by its path, duplicate keys rejected.

The parser is iterative (an explicit stack, no Python recursion) and refuses nesting deeper
than MAX_DEPTH, so no walk of a parsed template can run out of Python stack. Syntax errors
use the wording and offsets of Python's json module; NaN and Infinity are refused, as Packer
(Go's encoding/json) refuses them.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any

from builder.errors import Location, TemplateError

Path = tuple[str | int, ...]

MAX_DEPTH = 256
"""Deepest nesting of arrays and objects a template may have.

Go's encoding/json (so Packer) allows 10000; real templates nest fewer than 10. 256 leaves
room for code that walks a config recursively (a frame or two per level) to stay far below
Python's default recursion limit of 1000.
"""

_WS = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?")
_WORDS = (("true", True), ("false", False), ("null", None))
_PATH_SHOWN = 8  # components of a very deep path shown in an error before '…'
_CONTEXT = 72  # characters of the offending line shown around an error's column


def format_path(path: Path) -> str:
    """`("builders", 1, "ssh_port")` -> `builders[1].ssh_port`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


@dataclass
class Positions:
    """Offsets of values (and of keys) in the source text, looked up by path."""

    text: str
    file: str | None
    values: dict[Path, int] = field(default_factory=dict)
    keys: dict[Path, int] = field(default_factory=dict)
    _line_starts: list[int] = field(default_factory=list)

    def line_col(self, offset: int) -> tuple[int, int]:
        if not self._line_starts:
            self._line_starts = [0] + [m.end() for m in re.finditer("\n", self.text)]
        i = bisect.bisect_right(self._line_starts, offset) - 1
        return i + 1, offset - self._line_starts[i] + 1

    def locate(self, path: Path) -> Location:
        """The location of `path`, falling back to its nearest known ancestor."""
        probe = tuple(path)
        while True:
            off = self.keys.get(probe, self.values.get(probe))
            if off is not None or not probe:
                break
            probe = probe[:-1]
        if off is None:
            return Location(self.file, format_path(path))
        line, col = self.line_col(off)
        return Location(self.file, format_path(path), line, col)


class _Syntax(Exception):
    """A JSON syntax error: Python's json message and the offset it refers to."""

    def __init__(self, msg: str, pos: int):
        super().__init__(msg)
        self.msg, self.pos = msg, pos


@dataclass
class _Open:
    """A container being filled: its value, its path and (objects) the key being read."""

    value: dict[str, Any] | list[Any]
    path: Path
    key: str = ""


class _Parser:
    """One pass over the text with an explicit stack of open containers."""

    def __init__(self, text: str, positions: Positions):
        self.text, self.pos, self.positions = text, 0, positions
        self.stack: list[_Open] = []
        self.duplicate: TemplateError | None = None  # reported only if the syntax is fine

    def ws(self) -> None:
        self.pos = _WS.match(self.text, self.pos).end()  # type: ignore[union-attr]

    def parse(self) -> Any:
        if self.text.startswith("\ufeff"):
            raise _Syntax("unexpected byte order mark (BOM); save the file as UTF-8 without it", 0)
        self.ws()
        value = self.value(())
        self.ws()
        if self.pos != len(self.text):
            raise _Syntax("Extra data", self.pos)
        return value

    def value(self, path: Path) -> Any:
        """The value starting at self.pos (after whitespace), nested values included."""
        while True:
            opened = self.start(path)
            if isinstance(opened, _Open):
                self.stack.append(opened)
                path = (*opened.path, opened.key if isinstance(opened.value, dict) else 0)
                continue
            value = opened
            while self.stack:  # a value is complete: add it to its container, maybe close that
                top = self.stack[-1]
                if isinstance(top.value, dict):
                    top.value[top.key] = value
                    if self.next_member(top, "}"):
                        path = (*top.path, top.key)
                        break
                else:
                    top.value.append(value)
                    if self.next_member(top, "]"):
                        path = (*top.path, len(top.value))
                        break
                value = self.stack.pop().value
            else:
                return value

    def start(self, path: Path) -> Any:
        """A scalar, an empty container, or an _Open for a container with members."""
        self.positions.values[path] = at = self.pos
        ch = self.text[at : at + 1]
        if ch == '"':
            s, self.pos = scanstring(self.text, at + 1, True)
            return s
        if ch in ("{", "["):
            if len(self.stack) >= MAX_DEPTH:
                raise self.too_deep(path, at)
            self.pos += 1
            self.ws()
            if ch == "{":
                if self.text[self.pos : self.pos + 1] == "}":
                    self.pos += 1
                    return {}
                opened = _Open({}, path)
                self.read_key(opened)
                return opened
            if self.text[self.pos : self.pos + 1] == "]":
                self.pos += 1
                return []
            return _Open([], path)
        for word, val in _WORDS:
            if self.text.startswith(word, at):
                self.pos += len(word)
                return val
        m = _NUMBER.match(self.text, at)
        if not m:
            raise _Syntax("Expecting value", at)
        self.pos = m.end()
        return float(m.group()) if (m.group(1) or m.group(2)) else int(m.group())

    def next_member(self, top: _Open, close: str) -> bool:
        """After a member: True if another follows (its key read), False if `close` ends it."""
        self.ws()
        sep = self.text[self.pos : self.pos + 1]
        if sep == close:
            self.pos += 1
            return False
        if sep != ",":
            raise _Syntax("Expecting ',' delimiter", self.pos)
        self.pos += 1
        self.ws()
        if isinstance(top.value, dict):
            self.read_key(top)
        return True

    def read_key(self, top: _Open) -> None:
        """`"key":` and the whitespace after it; the value follows."""
        key_at = self.pos
        if self.text[key_at : key_at + 1] != '"':
            raise _Syntax("Expecting property name enclosed in double quotes", key_at)
        key, self.pos = scanstring(self.text, key_at + 1, True)
        child = (*top.path, key)
        assert isinstance(top.value, dict)
        if key in top.value and self.duplicate is None:
            line, col = self.positions.line_col(key_at)
            self.duplicate = TemplateError(
                f"template has duplicate field: {key}",
                Location(self.positions.file, format_path(child), line, col),
            )
        self.positions.keys.setdefault(child, key_at)
        self.ws()
        if self.text[self.pos : self.pos + 1] != ":":
            raise _Syntax("Expecting ':' delimiter", self.pos)
        self.pos += 1
        self.ws()
        top.key = key

    def too_deep(self, path: Path, at: int) -> TemplateError:
        line, col = self.positions.line_col(at)
        shown = format_path(path[:_PATH_SHOWN]) + ("…" if len(path) > _PATH_SHOWN else "")
        return TemplateError(
            f"nested too deeply at line {line}, column {col}: "
            f"more than {MAX_DEPTH} levels of arrays and objects",
            Location(self.positions.file, shown, line, col),
        )


def parse_json(text: str, file: str | None = None) -> tuple[Any, Positions]:
    """Decode JSON text, returning the value and a position map; errors name line and column."""
    positions = Positions(text, file)
    parser = _Parser(text, positions)
    try:
        value = parser.parse()
    except (_Syntax, json.JSONDecodeError) as exc:
        raise _syntax_error(text, file, exc.msg, exc.pos) from None
    if parser.duplicate is not None:
        raise parser.duplicate
    return value, positions


def _syntax_error(text: str, file: str | None, msg: str, pos: int) -> TemplateError:
    """Packer's "Error parsing JSON" report, with the offending line (clipped) and a caret."""
    exc = json.JSONDecodeError(msg, text, pos)
    lines = text.splitlines() or [""]
    context = lines[exc.lineno - 1] if exc.lineno - 1 < len(lines) else ""
    col = exc.colno - 1
    start = max(0, min(col - _CONTEXT // 2, len(context) - _CONTEXT))
    clipped = context[start : start + _CONTEXT]
    prefix = "..." if start else ""
    suffix = "..." if start + _CONTEXT < len(context) else ""
    caret = " " * (len(prefix) + col - start) + "^"
    return TemplateError(
        f"Error parsing JSON: {exc.msg}\nAt line {exc.lineno}, column {exc.colno} "
        f"(offset {exc.pos}):\n{prefix}{clipped}{suffix}\n{caret}",
        Location(file, "", exc.lineno, exc.colno),
    )


def walk_strings(value: Any, path: Path = ()) -> Iterator[tuple[Path, str]]:
    """Every string in a decoded JSON value, with its path (depth-first, in order)."""
    todo: list[tuple[Path, Any]] = [(path, value)]
    while todo:
        here, v = todo.pop()
        if isinstance(v, str):
            yield here, v
        elif isinstance(v, dict):
            todo.extend(((*here, k), c) for k, c in reversed(v.items()))
        elif isinstance(v, list):
            todo.extend(((*here, i), c) for i, c in reversed(list(enumerate(v))))
