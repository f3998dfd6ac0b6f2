"""The null builder: connect (or not), provision, produce the `Null` artifact."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from builder.artifact import Artifact
from builder.commonsteps import StepConnectNone, StepProvision
from builder.components import Builder as BaseBuilder
from builder.components import Hook
from builder.errors import ConfigErrors, Location, TemplateError
from builder.events import Ui
from builder.multistep import CancelToken, RunState, run_steps
from builder.null.config import NullConfig

BUILDER_ID = "fnoeding.null"


@dataclass
class NullRun:
    """The typed run context of a null build."""

    ui: Ui
    cancel: CancelToken
    hook: Hook
    config: NullConfig
    communicator: Any = None
    state: RunState = field(default_factory=RunState)

    def build_data(self) -> dict[str, str]:
        return {"ID": "Null", "ConnType": self.config.communicator}


class Builder(BaseBuilder):
    """Runs the provisioners against an existing host; the artifact is empty."""

    Config = NullConfig
    builder_id = BUILDER_ID
    config: NullConfig

    def prepare(self) -> list[str]:
        if self.config.communicator == "ssh":
            raise ConfigErrors(
                [
                    TemplateError(
                        'the ssh communicator is not available yet in pybuild; use "communicator": "none"',
                        Location(path="communicator"),
                    )
                ]
            )
        return []

    def run(self, ui: Ui, hook: Hook, cancel: CancelToken) -> Artifact | None:
        ctx = NullRun(ui, cancel, hook, self.config)
        opts = self.options
        run_steps(
            [StepConnectNone(), StepProvision()],
            ctx,
            on_error=opts.on_error,
            debug_pause=(lambda msg: ui.ask(msg)) if opts.debug else None,
            ask=ui.ask,
            keep_cleanup=lambda s: isinstance(s, StepProvision),
        )
        return Artifact(
            BUILDER_ID,
            "Null",
            [],
            text="Did not export anything. This is the null builder",
            state={"generated_data": {"ID": "Null"}},
            destroy=lambda: None,
        )
