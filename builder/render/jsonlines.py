"""`pybuild build -json` and `PYBUILD_EVENTS=FILE`: the run's events as JSON lines.

One object per line, schema `builder/schemas/events-v1.schema.json`. Every line has
`v` (the schema version), `type`, `time` (RFC 3339, UTC, milliseconds), `run` (the run
id) and `build` (the build's name, null for the run's own events). Lines that belong to
a step or a provisioner say which (`step`, `provisioner`), so a provisioner's output can
be read back from the stream alone. The stream is fed through the run's redacting sink:
no secret reaches it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO, Any

from builder.events import (
    ArtifactMade,
    BuildFinished,
    BuildStarted,
    ErrorMessage,
    Event,
    Message,
    Notice,
    PostProcessorFinished,
    PostProcessorStarted,
    Progress,
    ProvisionerFinished,
    ProvisionerStarted,
    ResourceEvent,
    RunFinished,
    RunStarted,
    Say,
    StepFinished,
    StepStarted,
)

SCHEMA_VERSION = 1


def rfc3339(at: float) -> str:
    """`2026-12-02T14:10:28.123Z`."""
    stamp = datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


class JSONLinesSink:
    """Writes each event as one JSON line to `stream` (flushed per line)."""

    def __init__(self, stream: IO[str], run_id: str = ""):
        self.stream, self.run_id = stream, run_id
        self._lock = threading.Lock()
        self._builds: list[str] = []
        self._step: dict[str, str] = {}
        self._provisioner: dict[str, int] = {}
        self._last_progress: dict[tuple[str, str], float] = {}

    # ------------------------------------------------------------------ the one entry
    def emit(self, event: Event) -> None:
        body = self._body(event)
        if body is None:
            return
        with self._lock:
            self.stream.write(json.dumps(body, ensure_ascii=False, default=str) + "\n")
            self.stream.flush()

    def _body(self, event: Event) -> dict[str, Any] | None:
        if isinstance(event, RunStarted):
            self.run_id = event.run_id or self.run_id
            self._builds = list(event.builds)
        build, post_processor = self._build_of(event.target)
        head: dict[str, Any] = {"v": SCHEMA_VERSION, "type": "", "time": rfc3339(event.at)}
        head["run"] = self.run_id
        head["build"] = build
        handler = _HANDLERS.get(type(event))
        fields = handler(self, event, build) if handler is not None else None
        if fields is None:
            return None
        head.update(fields)
        if post_processor and "post_processor" not in head:
            head["post_processor"] = post_processor
        return head

    def _build_of(self, target: str) -> tuple[str | None, str]:
        """(build name, post-processor type) of a target such as `web (manifest)`."""
        if not target:
            return None, ""
        if target in self._builds:
            return target, ""
        for name in self._builds:
            if target.startswith(name + " (") and target.endswith(")"):
                return name, target[len(name) + 2 : -1]
        return target, ""


def _secs(seconds: float) -> float:
    return round(seconds, 3)


def _run_started(sink: JSONLinesSink, ev: RunStarted, build: str | None) -> dict[str, Any]:
    return {"type": "run.started", "builds": list(ev.builds)}


def _run_finished(sink: JSONLinesSink, ev: RunFinished, build: str | None) -> dict[str, Any]:
    return {
        "type": "run.finished",
        "seconds": _secs(ev.seconds),
        "cancelled": ev.cancelled,
        "artifacts": {name: [a.id for a in arts] for name, arts in ev.artifacts},
        "errors": {name: text for name, text in ev.errors},
    }


def _build_started(sink: JSONLinesSink, ev: BuildStarted, build: str | None) -> dict[str, Any]:
    return {"type": "build.started", "builder_type": ev.type}


def _build_finished(sink: JSONLinesSink, ev: BuildFinished, build: str | None) -> dict[str, Any]:
    outcome = "cancelled" if ev.cancelled else "failed" if ev.error is not None else "ok"
    out: dict[str, Any] = {
        "type": "build.finished",
        "seconds": _secs(ev.seconds),
        "outcome": outcome,
        "artifacts": list(ev.artifacts),
    }
    if ev.error is not None:
        out["error"] = ev.error
    return out


def _resource(sink: JSONLinesSink, ev: ResourceEvent, build: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": f"resource.{ev.action}", "resource": ev.ref}
    if ev.id:
        out["id"] = ev.id
    if ev.name:
        out["name"] = ev.name
    if build is not None and build in sink._step:
        out["step"] = sink._step[build]
    return out


def _artifact(sink: JSONLinesSink, ev: ArtifactMade, build: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "artifact",
        "id": ev.id,
        "description": ev.description,
        "builder_id": ev.builder_id,
        "files": list(ev.files),
    }
    if ev.post_processor:
        out["post_processor"] = ev.post_processor
    return out


def _pp_started(sink: JSONLinesSink, ev: PostProcessorStarted, b: str | None) -> dict[str, Any]:
    return {
        "type": "post_processor.started",
        "post_processor": ev.type,
        "name": ev.name,
        "chain": ev.chain,
        "index": ev.index,
        "input": ev.input,
    }


def _pp_finished(sink: JSONLinesSink, ev: PostProcessorFinished, b: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "post_processor.finished",
        "post_processor": ev.type,
        "name": ev.name,
        "chain": ev.chain,
        "index": ev.index,
        "seconds": _secs(ev.seconds),
        "outcome": ev.outcome,
        "output": ev.output,
        "kept_input": ev.kept_input,
    }
    if ev.error is not None:
        out["error"] = ev.error
    return out


def _message(sink: JSONLinesSink, level: str, text: str, build: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "message", "level": level, "text": text}
    if build is not None:
        if build in sink._step:
            out["step"] = sink._step[build]
        if build in sink._provisioner:
            out["provisioner"] = sink._provisioner[build]
    return out


def _say(sink: JSONLinesSink, ev: Say, build: str | None) -> dict[str, Any]:
    return _message(sink, "say", ev.text, build)


def _msg(sink: JSONLinesSink, ev: Message, build: str | None) -> dict[str, Any]:
    return _message(sink, "message", ev.text, build)


def _err(sink: JSONLinesSink, ev: ErrorMessage, build: str | None) -> dict[str, Any]:
    return _message(sink, "error", ev.text, build)


def _notice(sink: JSONLinesSink, ev: Notice, build: str | None) -> dict[str, Any]:
    return {"type": "notice", "text": ev.text}


def _progress(sink: JSONLinesSink, ev: Progress, build: str | None) -> dict[str, Any] | None:
    """At most about one line a second per transfer, and always its last."""
    key = (ev.target, ev.name)
    last = sink._last_progress.get(key)
    finished = ev.total > 0 and ev.done >= ev.total
    if not finished and last is not None and ev.at - last < 1.0:
        return None
    sink._last_progress[key] = ev.at
    return {"type": "progress", "name": ev.name, "done": ev.done, "total": ev.total}


def _step_started(sink: JSONLinesSink, ev: StepStarted, build: str | None) -> dict[str, Any]:
    if build is not None:
        sink._step[build] = ev.step
    return {"type": "step.started", "step": ev.step}


def _step_finished(sink: JSONLinesSink, ev: StepFinished, build: str | None) -> dict[str, Any]:
    if build is not None:
        sink._step.pop(build, None)
    kind = "step.cleaned" if ev.cleanup else "step.finished"
    return {"type": kind, "step": ev.step, "seconds": _secs(ev.seconds), "outcome": ev.outcome}


def _prov_started(sink: JSONLinesSink, ev: ProvisionerStarted, b: str | None) -> dict[str, Any]:
    if b is not None:
        sink._provisioner[b] = ev.index
    return {"type": "provisioner.started", "index": ev.index, "provisioner": ev.type}


def _prov_finished(sink: JSONLinesSink, ev: ProvisionerFinished, b: str | None) -> dict[str, Any]:
    if b is not None:
        sink._provisioner.pop(b, None)
    out: dict[str, Any] = {
        "type": "provisioner.finished",
        "index": ev.index,
        "provisioner": ev.type,
        "seconds": _secs(ev.seconds),
        "outcome": ev.outcome,
        "attempts": ev.attempts,
    }
    if ev.error is not None:
        out["error"] = ev.error
    return out


# Machine records are Packer's -machine-readable artifact lines: `artifact` covers them.
_HANDLERS: dict[type[Event], Callable[[JSONLinesSink, Any, str | None], dict[str, Any] | None]] = {
    RunStarted: _run_started,
    RunFinished: _run_finished,
    BuildStarted: _build_started,
    BuildFinished: _build_finished,
    StepStarted: _step_started,
    StepFinished: _step_finished,
    ResourceEvent: _resource,
    ProvisionerStarted: _prov_started,
    ProvisionerFinished: _prov_finished,
    ArtifactMade: _artifact,
    PostProcessorStarted: _pp_started,
    PostProcessorFinished: _pp_finished,
    Say: _say,
    Message: _msg,
    ErrorMessage: _err,
    Notice: _notice,
    Progress: _progress,
}
