"""Events the engine emits, the per-build Ui that emits them, and the sinks that render them.

The engine never prints: it calls a sink's `emit(event)`. The CLI picks a renderer
(human or machine-readable); a library user passes any object with `emit`.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import IO, Any, Protocol


# --------------------------------------------------------------------------- events
@dataclass(frozen=True)
class Event:
    """Base of every event; `target` is the build name ('' for the run itself)."""

    target: str


@dataclass(frozen=True)
class Say(Event):
    """A step announces what it does (`==> name: text`)."""

    text: str


@dataclass(frozen=True)
class Message(Event):
    """Detail or remote output (`    name: text`)."""

    text: str


@dataclass(frozen=True)
class ErrorMessage(Event):
    """An error line (red `==> name: text`)."""

    text: str


@dataclass(frozen=True)
class Machine(Event):
    """A machine-readable record (`ts,target,type,data...`) with no human form."""

    type: str
    data: tuple[str, ...]


@dataclass(frozen=True)
class Progress(Event):
    """Transfer progress: done/total bytes of one named transfer."""

    name: str
    done: int
    total: int


@dataclass(frozen=True)
class Notice(Event):
    """A run-level line printed without prefix ("Cancelling build after receiving interrupt")."""

    text: str


@dataclass(frozen=True)
class BuildStarted(Event):
    """A build begins."""


@dataclass(frozen=True)
class BuildFinished(Event):
    """A build ended; `error` is its error text or None; `cancelled` when interrupted."""

    seconds: float
    error: str | None = None
    cancelled: bool = False


@dataclass(frozen=True)
class RunFinished(Event):
    """Every build ended: the summary (artifacts per build, errors per build)."""

    seconds: float
    artifacts: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    errors: tuple[tuple[str, str], ...] = ()
    cancelled: bool = False


class Sink(Protocol):
    """Receives events. `ask` is optional: sinks that cannot ask return None."""

    def emit(self, event: Event) -> None: ...


# --------------------------------------------------------------------------- redaction
class Redactor:
    """Replaces every registered secret with `<sensitive>`."""

    def __init__(self, secrets: Iterable[str] = ()):
        self._secrets: list[str] = []
        self._lock = threading.Lock()
        self.add(*secrets)
        _ALL_REDACTORS.add(self)

    def add(self, *secrets: str) -> None:
        """Register secrets; a multi-line one (a private key) also line by line, because
        remote output arrives a line at a time."""
        lines = [
            line.strip()
            for s in secrets
            if s and "\n" in s.strip()
            for line in s.splitlines()
            if len(line.strip()) >= 8 and not line.strip().startswith("-----")
        ]
        with self._lock:  # copy on write: readers in other threads see a whole list
            new = list(self._secrets)
            for s in (*secrets, *lines):
                if s and s not in new:
                    new.append(s)
            self._secrets = sorted(new, key=len, reverse=True)

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(self._secrets)

    def __call__(self, text: str) -> str:
        for s in self._secrets:
            if s in text:
                text = text.replace(s, "<sensitive>")
        return text

    def event(self, event: Event) -> Event:
        """The event with every string field (and strings in tuples) redacted."""
        if not self._secrets:
            return event
        changes: dict[str, Any] = {}
        for f in fields(event):
            value = getattr(event, f.name)
            if isinstance(value, str):
                red = self(value)
                if red != value:
                    changes[f.name] = red
            elif isinstance(value, tuple) and f.name in ("data", "errors"):
                changes[f.name] = _redact_tuple(value, self)
        return replace(event, **changes) if changes else event


def _redact_tuple(value: tuple[Any, ...], redact: Redactor) -> tuple[Any, ...]:
    return tuple(
        redact(v) if isinstance(v, str) else _redact_tuple(v, redact) if isinstance(v, tuple) else v
        for v in value
    )


_ALL_REDACTORS: weakref.WeakSet[Redactor] = weakref.WeakSet()


def redact_everywhere(text: str) -> str:
    """Apply every live redactor (for the debug log, which outlives any one run)."""
    for r in list(_ALL_REDACTORS):
        text = r(text)
    return text


class RedactionFilter(logging.Filter):
    """A logging filter that masks secrets in every record of the debug log."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact_everywhere(record.getMessage())
        record.args = ()
        if record.exc_info:  # a traceback's text can carry secrets too: format it here
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact_everywhere(text)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact_everywhere(record.exc_text)
        return True


class LoggingSink:
    """Writes every event to the `pybuild.ui` debug logger."""

    log = logging.getLogger("pybuild.ui")

    def emit(self, event: Event) -> None:
        if self.log.isEnabledFor(logging.DEBUG):
            self.log.debug("%s", event)


class TeeSink:
    """Sends each event to several sinks; asks the first that can ask."""

    def __init__(self, *sinks: Sink):
        self.sinks = sinks

    def emit(self, event: Event) -> None:
        for s in self.sinks:
            s.emit(event)

    def ask(self, prompt: str) -> str | None:
        for s in self.sinks:
            asker = getattr(s, "ask", None)
            if asker is not None:
                return asker(prompt)
        return None


class RedactingSink:
    """Wraps a sink so nothing it receives carries a secret."""

    def __init__(self, inner: Sink, redactor: Redactor):
        self.inner, self.redactor = inner, redactor

    def emit(self, event: Event) -> None:
        self.inner.emit(self.redactor.event(event))

    def ask(self, prompt: str) -> str | None:
        asker = getattr(self.inner, "ask", None)
        return asker(self.redactor(prompt)) if asker else None


# --------------------------------------------------------------------------- the Ui plugins use
class Ui:
    """What a builder, provisioner or post-processor uses to talk; bound to one target."""

    def __init__(self, sink: Sink, target: str):
        self.sink, self.target = sink, target

    def say(self, text: str) -> None:
        self.sink.emit(Say(self.target, text))

    def message(self, text: str) -> None:
        self.sink.emit(Message(self.target, text))

    def error(self, text: str) -> None:
        self.sink.emit(ErrorMessage(self.target, text))

    def machine(self, type_: str, *data: str) -> None:
        self.sink.emit(Machine(self.target, type_, tuple(data)))

    def progress(self, name: str, done: int, total: int) -> None:
        self.sink.emit(Progress(self.target, name, done, total))

    def ask(self, prompt: str) -> str | None:
        """Ask the person at the terminal; None when nobody can answer."""
        asker = getattr(self.sink, "ask", None)
        return asker(prompt) if asker else None

    def child(self, target: str) -> Ui:
        return Ui(self.sink, target)


# --------------------------------------------------------------------------- renderers
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


def machine_escape(value: str) -> str:
    """Packer's field escaping: commas, newlines and carriage returns."""
    return value.replace(",", "%!(PACKER_COMMA)").replace("\n", "\\n").replace("\r", "\\r")


class MachineReadableRenderer:
    """`-machine-readable`: `timestamp,target,type,data...` lines."""

    def __init__(self, stream: IO[str] | None = None):
        self.out = _LineWriter(stream or sys.stdout)
        self._human = HumanRenderer(_Capture(), color=False)  # type: ignore[arg-type]

    def record(self, target: str, type_: str, *data: Any) -> None:
        fields_ = [str(int(time.time())), target, type_, *(machine_escape(str(d)) for d in data)]
        self.out.write(",".join(fields_) + "\n")

    def _human_text(self, event: Event) -> str:
        cap = self._human.out.stream
        assert isinstance(cap, _Capture)
        cap.buf.clear()
        self._human.emit(event)
        return "".join(cap.buf).rstrip("\n")

    def emit(self, event: Event) -> None:
        if isinstance(event, Say):
            self.record("", "ui", "say", self._human_text(event))
        elif isinstance(event, Message):
            self.record("", "ui", "message", self._human_text(event))
        elif isinstance(event, ErrorMessage):
            self.record("", "ui", "error", self._human_text(event))
        elif isinstance(event, Notice):
            self.record("", "ui", "say", event.text)
        elif isinstance(event, Machine):
            self.record(event.target, event.type, *event.data)
        elif isinstance(event, BuildFinished):
            kind = "error" if event.error is not None and not event.cancelled else "say"
            self.record("", "ui", kind, finished_text(event))
        elif isinstance(event, RunFinished):
            self._summary(event)

    def _summary(self, ev: RunFinished) -> None:
        for kind, text, extra in summary_lines(ev):
            if kind == "say":
                self.record("", "ui", "say", text)
            elif kind == "error-count":
                self.record("", "error-count", extra)
            elif kind == "error":
                self.record(extra[0], "error", extra[1])
                self.record("", "ui", "error", text)
            elif kind == "artifact-count":
                self.record(extra[0], "artifact-count", extra[1])
            elif kind == "artifact":
                self._artifact(*extra)
                self.record("", "ui", "say", text)

    def _artifact(self, name: str, i: int, art: Any) -> None:
        if art is None:
            self.record(name, "artifact", i, "nil")
            return
        self.record(name, "artifact", i, "builder-id", art.builder_id)
        self.record(name, "artifact", i, "id", art.id)
        self.record(name, "artifact", i, "string", art.string())
        files = list(art.files)
        self.record(name, "artifact", i, "files-count", len(files))
        for j, f in enumerate(files):
            self.record(name, "artifact", i, "file", j, f)
        self.record(name, "artifact", i, "end")


class _Capture:
    """A stream that keeps what is written (used to format human text once)."""

    def __init__(self) -> None:
        self.buf: list[str] = []

    def write(self, text: str) -> None:
        self.buf.append(text)

    def flush(self) -> None:
        pass


@dataclass
class RecordingSink:
    """Keeps every event; for tests and for library users who want to inspect output."""

    events: list[Event] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    prompts: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def emit(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)

    def ask(self, prompt: str) -> str | None:
        """Answer from `answers` in order (None when they run out); prompts are kept."""
        with self._lock:
            self.prompts.append(prompt)
            return self.answers.pop(0) if self.answers else None

    def texts(self, kind: type[Event] | None = None, target: str | None = None) -> list[str]:
        """The text of every recorded event of `kind` (and `target`)."""
        out = []
        for e in self.events:
            if kind is not None and not isinstance(e, kind):
                continue
            if target is not None and e.target != target:
                continue
            text = getattr(e, "text", None)
            if text is not None:
                out.append(text)
        return out


def colour_wanted(flag: bool | None, stream: IO[str]) -> bool:
    """Colour unless -color=false, NO_COLOR or PACKER_NO_COLOR say otherwise."""
    if flag is False or os.environ.get("NO_COLOR") or os.environ.get("PACKER_NO_COLOR"):
        return False
    return True


_ANSI = re.compile(r"\033\[[0-9;]*m")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)
