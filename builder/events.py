"""The frozen events the engine emits, and the Sink protocol that receives them.

The engine never prints: it calls a sink's `emit(event)`. The CLI picks a renderer
(human or machine-readable); a library user passes any object with `emit`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


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
