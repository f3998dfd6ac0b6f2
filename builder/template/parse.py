"""JSON with positions: every value's line and column by its path, duplicate keys rejected."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any

from builder.errors import Location, TemplateError

Path = tuple[str | int, ...]

_WS = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?")


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
        import bisect

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


class _Parser:
    def __init__(self, text: str, positions: Positions):
        self.text, self.pos, self.positions = text, 0, positions

    def ws(self) -> None:
        self.pos = _WS.match(self.text, self.pos).end()  # type: ignore[union-attr]

    def value(self, path: Path) -> Any:
        self.ws()
        self.positions.values[path] = self.pos
        ch = self.text[self.pos : self.pos + 1]
        if ch == "{":
            return self.obj(path)
        if ch == "[":
            return self.arr(path)
        if ch == '"':
            s, self.pos = scanstring(self.text, self.pos + 1, True)
            return s
        for word, val in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(word, self.pos):
                self.pos += len(word)
                return val
        m = _NUMBER.match(self.text, self.pos)
        if not m:  # json.loads already accepted the text; this cannot happen
            raise ValueError(f"unexpected character at offset {self.pos}")
        self.pos = m.end()
        return float(m.group()) if (m.group(1) or m.group(2)) else int(m.group())

    def obj(self, path: Path) -> dict[str, Any]:
        self.pos += 1
        out: dict[str, Any] = {}
        self.ws()
        if self.text[self.pos] == "}":
            self.pos += 1
            return out
        while True:
            self.ws()
            key_at = self.pos
            key, self.pos = scanstring(self.text, self.pos + 1, True)
            child = (*path, key)
            if key in out:
                line, col = self.positions.line_col(key_at)
                raise TemplateError(
                    f"template has duplicate field: {key}",
                    Location(self.positions.file, format_path(child), line, col),
                )
            self.positions.keys[child] = key_at
            self.ws()
            self.pos += 1  # ':'
            out[key] = self.value(child)
            self.ws()
            sep = self.text[self.pos]
            self.pos += 1
            if sep == "}":
                return out

    def arr(self, path: Path) -> list[Any]:
        self.pos += 1
        out: list[Any] = []
        self.ws()
        if self.text[self.pos] == "]":
            self.pos += 1
            return out
        while True:
            out.append(self.value((*path, len(out))))
            self.ws()
            sep = self.text[self.pos]
            self.pos += 1
            if sep == "]":
                return out


def parse_json(text: str, file: str | None = None) -> tuple[Any, Positions]:
    """Decode JSON text, returning the value and a position map; errors name line and column."""
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        lines = text.splitlines() or [""]
        context = lines[exc.lineno - 1] if exc.lineno - 1 < len(lines) else ""
        caret = " " * (exc.colno - 1) + "^"
        raise TemplateError(
            f"Error parsing JSON: {exc.msg}\nAt line {exc.lineno}, column {exc.colno} "
            f"(offset {exc.pos}):\n{context}\n{caret}",
            Location(file, "", exc.lineno, exc.colno),
        ) from None
    positions = Positions(text, file)
    value = _Parser(text, positions).value(())
    return value, positions


def walk_strings(value: Any, path: Path = ()) -> Iterator[tuple[Path, str]]:
    """Every string in a decoded JSON value, with its path."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from walk_strings(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from walk_strings(v, (*path, i))
