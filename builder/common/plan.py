"""What a step or plugin says it will do, for `pybuild plan` (offline: no call, no SDK).

A step that creates something declares `plan(config) -> [Creates(...)]`, under the same
`platform.kind` the ledger records it by, with the same conditions its `run` has; a
plugin that writes files declares `plan_writes() -> [Writes(...)]`. A value that only
the run can know is written with `RUNTIME` or a `<placeholder>` (`packer_<uuid>`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from builder.components import Plugin

RUNTIME = "(known at run time)"

# create: a new file; overwrite: replaced when it exists; append: added to;
# refuse: the build fails when it exists, unless -force
WriteMode = Literal["create", "overwrite", "append", "refuse"]


@dataclass(frozen=True)
class Creates:
    """A resource a step will make: `ref` as the ledger has it, `what` for people."""

    ref: str
    what: str
    name: str = ""  # known in advance, or a pattern such as packer_<uuid>


@dataclass(frozen=True)
class Writes:
    """A file or directory a plugin will write on this machine."""

    path: str
    what: str
    mode: WriteMode = "overwrite"


def planned_path(plugin: Plugin, text: str, data: dict[str, str]) -> str:
    """A templated output path rendered with what is known before the run, or marked."""
    from builder.errors import PybuildError

    try:
        return plugin.options.render_text(text, data=data, build_data={})
    except (PybuildError, ValueError):
        return f"{text} {RUNTIME}"


@runtime_checkable
class PlannedStep(Protocol):
    """A step that can say, from the config alone, what it will create."""

    def plan(self, config: Any, build_name: str) -> Sequence[Creates]: ...
