"""`-machine-readable`: Packer's `timestamp,target,type,data...` lines."""

from __future__ import annotations

import sys
import time
from typing import IO, Any

from builder.events import (
    BuildFinished,
    ErrorMessage,
    Event,
    Machine,
    Message,
    Notice,
    RunFinished,
    Say,
)
from builder.render.human import HumanRenderer, _LineWriter, finished_text, summary_lines


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
