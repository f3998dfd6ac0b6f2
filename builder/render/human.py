"""Packer's terminal output: `==> name:` lines, colours, progress bars and the summary."""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import IO, Any

from builder.events import (
    BuildFinished,
    ErrorMessage,
    Event,
    Message,
    Notice,
    Progress,
    RunFinished,
    Say,
)

COLOURS = (32, 36, 35, 33, 34)
PROGRESS_AFTER = 2.0  # seconds a transfer must run before it gets a progress bar  # green, cyan, magenta, yellow, blue (Packer's order)


def format_duration(seconds: float) -> str:
    """Packer's durafmt rendering, first two non-zero units: `1 second 10 milliseconds`."""
    micro = int(round(seconds * 1_000_000))
    units = [
        ("week", 7 * 24 * 3600 * 10**6),
        ("day", 24 * 3600 * 10**6),
        ("hour", 3600 * 10**6),
        ("minute", 60 * 10**6),
        ("second", 10**6),
        ("millisecond", 10**3),
        ("microsecond", 1),
    ]
    parts: list[str] = []
    for name, size in units:
        n, micro = divmod(micro, size)
        if n:
            parts.append(f"{n} {name}{'' if n == 1 else 's'}")
        if len(parts) == 2:
            break
    return " ".join(parts) or "0 microseconds"


class _LineWriter:
    """Writes whole blocks under one lock so parallel builds never interleave mid-line."""

    _lock = threading.Lock()

    def __init__(self, stream: IO[str]):
        self.stream = stream
        self.closed = False

    def write(self, text: str) -> None:
        """Write whole blocks; once the reader is gone (closed pipe), drop output quietly
        so builds still finish and clean up."""
        with self._lock:
            if self.closed:
                return
            try:
                self.stream.write(text)
                self.stream.flush()
            except (BrokenPipeError, ValueError):
                self.closed = True


class HumanRenderer:
    """Packer's terminal output: `==> name: say`, `    name: message`, colours, summary."""

    def __init__(
        self,
        stream: IO[str] | None = None,
        *,
        color: bool = True,
        timestamps: bool = False,
        build_names: Iterable[str] = (),
        asker: Callable[[str], str | None] | None = None,
    ):
        self.out = _LineWriter(stream or sys.stdout)
        self.color = color
        self.timestamps = timestamps
        self._colour: dict[str, int] = {}
        for i, name in enumerate(sorted(build_names)):
            self._colour[name] = COLOURS[i % len(COLOURS)]
        self._asker = asker
        self._progress_last: dict[tuple[str, str], float] = {}
        self._progress_start: dict[tuple[str, str], float] = {}

    def banner(self) -> None:
        """`name: output will be in this color.` lines (only with colour)."""
        if not self.color or not self._colour:
            return
        text = "".join(
            self._wrap(f"{name}: output will be in this color.", 1, self._colour[name]) + "\n"
            for name in sorted(self._colour)
        )
        self.out.write(text + "\n")

    def ask(self, prompt: str) -> str | None:
        if self._asker is None:
            return None
        self.out.write(prompt + "\n")
        return self._asker(prompt)

    def _base_target(self, target: str) -> str:
        return target.split(" (", 1)[0]

    def _wrap(self, text: str, bold: int, colour: int) -> str:
        if not self.color:
            return text
        return f"\033[{bold};{colour}m{text}\033[0m"

    def _stamp(self, text: str) -> str:
        if not self.timestamps:
            return text
        now = datetime.now().astimezone().isoformat(timespec="seconds").replace("+00:00", "Z")
        return "\n".join(f"{now}: {line}" for line in text.split("\n"))

    def _block(self, target: str, text: str, head: str) -> str:
        text = text.rstrip()
        lines = text.split("\n") if text else [""]
        return "\n".join(f"{head}{target}: {line}".rstrip() for line in lines)

    def emit(self, event: Event) -> None:
        colour = self._colour.get(self._base_target(event.target), COLOURS[0])
        if isinstance(event, Say):
            self._write(self._block(event.target, event.text, "==> "), 1, colour, event.target)
        elif isinstance(event, Message):
            self._write(self._block(event.target, event.text, "    "), 0, colour, event.target)
        elif isinstance(event, ErrorMessage):
            if event.target:
                text = self._block(event.target, event.text, "==> ")
            else:
                text = event.text
            self._write(text, 1, 31, event.target)
        elif isinstance(event, Notice):
            self.out.write(self._stamp(event.text) + "\n")
        elif isinstance(event, Progress):
            self._progress(event)
        elif isinstance(event, BuildFinished):
            self._finished(event)
        elif isinstance(event, RunFinished):
            self.out.write(render_summary(event))

    def _write(self, text: str, bold: int, colour: int, target: str) -> None:
        self.out.write(self._wrap(self._stamp(text), bold, colour) + "\n")

    def _finished(self, ev: BuildFinished) -> None:
        self.out.write(
            self._wrap(self._stamp(finished_text(ev)), 1, self._finished_colour(ev)) + "\n"
        )

    def _finished_colour(self, ev: BuildFinished) -> int:
        if ev.error is not None and not ev.cancelled:
            return 31
        return self._colour.get(ev.target, COLOURS[0])

    def _progress(self, ev: Progress) -> None:
        """A bar for transfers that last more than a couple of seconds, on a terminal only."""
        stream = self.out.stream
        if not (hasattr(stream, "isatty") and stream.isatty()) or ev.total <= 0:
            return
        key = (ev.target, ev.name)
        now = time.monotonic()
        started = self._progress_start.setdefault(key, now)
        finished = ev.done >= ev.total
        if finished:
            del self._progress_start[key]
        if now - started < PROGRESS_AFTER:
            return  # short transfers never draw a bar
        if not finished and now - self._progress_last.get(key, 0.0) < 0.2:
            return
        self._progress_last[key] = now
        width = 30
        filled = int(width * ev.done / ev.total)
        bar = "#" * filled + "-" * (width - filled)
        end = "\n" if finished else "\r"
        self.out.write(f"    {ev.target}: [{bar}] {ev.done * 100 // ev.total:3d}% {ev.name}{end}")


def finished_text(ev: BuildFinished) -> str:
    """`Build 'x' finished after ...` or `Build 'x' errored after ...: error`."""
    took = format_duration(ev.seconds)
    if ev.error is not None and not ev.cancelled:
        return f"Build '{ev.target}' errored after {took}: {ev.error}"
    return f"Build '{ev.target}' finished after {took}."


def summary_lines(ev: RunFinished) -> list[tuple[str, str, Any]]:
    """The block after the builds as (kind, text, extra) rows; both renderers walk it."""
    rows: list[tuple[str, str, Any]] = [
        ("say", f"\n==> Wait completed after {format_duration(ev.seconds)}", None)
    ]
    if ev.cancelled:
        rows.append(("say", "Cleanly cancelled builds after being interrupted.", None))
        return rows
    if ev.errors:
        rows.append(("error-count", "", len(ev.errors)))
        rows.append(("say", "\n==> Some builds didn't complete successfully and had errors:", None))
        for name, err in ev.errors:
            rows.append(("error", f"--> {name}: {err}", (name, err)))
    if any(arts for _, arts in ev.artifacts):
        rows.append(("say", "\n==> Builds finished. The artifacts of successful builds are:", None))
        for name, arts in ev.artifacts:
            rows.append(("artifact-count", "", (name, len(arts))))
            for i, art in enumerate(arts):
                text = art.string() if art is not None else "<nothing>"
                rows.append(("artifact", f"--> {name}: {text}", (name, i, art)))
    else:
        rows.append(("say", "\n==> Builds finished but no artifacts were created.", None))
    return rows


def render_summary(ev: RunFinished) -> str:
    """The block after the builds, as the terminal shows it."""
    return "".join(text + "\n" for _, text, _ in summary_lines(ev) if text)


def colour_wanted(flag: bool | None, stream: IO[str]) -> bool:
    """Colour unless -color=false, NO_COLOR or PACKER_NO_COLOR say otherwise."""
    if flag is False or os.environ.get("NO_COLOR") or os.environ.get("PACKER_NO_COLOR"):
        return False
    return True


_ANSI = re.compile(r"\033\[[0-9;]*m")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)
