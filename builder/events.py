"""The frozen events the engine emits, and the Sink protocol that receives them.

The engine never prints: it calls a sink's `emit(event)`. The CLI picks a renderer
(human, machine-readable, JSON lines, timeline); a library user passes any object with
`emit`. Every event carries its wall-clock time `at`; the lifecycle events (run, build,
step, resource, provisioner, artifact, post-processor) are what `-json` and the
timeline are made of, and the human renderers ignore the ones they have no line for.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol


@dataclass(frozen=True)
class Event:
    """Base of every event; `target` is the build name ('' for the run itself)."""

    target: str
    at: float = field(default_factory=time.time, kw_only=True, compare=False)


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
class RunStarted(Event):
    """The run begins: its id and the builds it will run (sorted by name, as packer does)."""

    run_id: str
    builds: tuple[str, ...]


@dataclass(frozen=True)
class BuildStarted(Event):
    """A build begins."""

    type: str = ""


StepOutcome = Literal["ok", "failed", "cancelled"]


@dataclass(frozen=True)
class StepStarted(Event):
    """A builder step begins (its class's `name`, as the plan lists it)."""

    step: str


@dataclass(frozen=True)
class StepFinished(Event):
    """A builder step's run ended (`outcome`), or its cleanup did (`cleanup=True`)."""

    step: str
    seconds: float
    outcome: StepOutcome
    cleanup: bool = False


ResourceAction = Literal["creating", "created", "released", "kept"]


@dataclass(frozen=True)
class ResourceEvent(Event):
    """The ledger recorded a resource: `creating`, `created`, `released` or `kept`."""

    action: ResourceAction
    ref: str  # platform.kind, as `pybuild cleanup` prints it
    id: str
    name: str


@dataclass(frozen=True)
class ProvisionerStarted(Event):
    """Provisioner `index` (0-based, after only/except) begins."""

    index: int
    type: str
    name: str


@dataclass(frozen=True)
class ProvisionerFinished(Event):
    index: int
    type: str
    name: str
    seconds: float
    outcome: StepOutcome
    attempts: int = 1
    error: str | None = None


@dataclass(frozen=True)
class ArtifactMade(Event):
    """The builder (`post_processor` '') or a post-processor produced an artifact."""

    id: str
    description: str
    builder_id: str
    files: tuple[str, ...] = ()
    post_processor: str = ""


@dataclass(frozen=True)
class PostProcessorStarted(Event):
    """Post-processor `index` of chain `chain` begins on artifact `input`."""

    chain: int
    index: int
    type: str
    name: str
    input: str


@dataclass(frozen=True)
class PostProcessorFinished(Event):
    chain: int
    index: int
    type: str
    name: str
    seconds: float
    outcome: StepOutcome
    output: str = ""  # the new artifact's id; '' when it failed or gave none
    kept_input: bool = False
    error: str | None = None


@dataclass(frozen=True)
class BuildFinished(Event):
    """A build ended; `error` is its error text or None; `cancelled` when interrupted."""

    seconds: float
    error: str | None = None
    cancelled: bool = False
    artifacts: tuple[str, ...] = ()  # ids of the artifacts the build leaves


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
