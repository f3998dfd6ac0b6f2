"""The null builder: connect (or not), provision, produce the `Null` artifact."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from builder.artifact import Artifact
from builder.common.steps import StepProvision
from builder.communicator.keygen import KeyPair
from builder.common.steps import StepConnect
from builder.components import Builder as BaseBuilder
from builder.components import Hook
from builder.errors import ConfigErrors
from builder.multistep import CancelToken, RunState, run_build_steps
from builder.null.config import NullConfig
from builder.ui import Ui

BUILDER_ID = "fnoeding.null"


@dataclass
class NullRun:
    """The typed run context of a null build."""

    ui: Ui
    cancel: CancelToken
    hook: Hook
    config: NullConfig
    communicator: Any = None
    ssh_key: KeyPair | None = None
    connect_data: dict[str, str] = field(default_factory=dict)
    state: RunState = field(default_factory=RunState)

    def build_data(self) -> dict[str, str]:
        return {"ID": "Null", **self.connect_data}


class Builder(BaseBuilder):
    """Runs the provisioners against an existing host; the artifact is empty."""

    Config = NullConfig
    builder_id = BUILDER_ID
    config: NullConfig

    def prepare(self) -> list[str]:
        errors = self.config.check_communicator(host_required=True)
        if errors:
            raise ConfigErrors(errors)
        return []

    def run(self, ui: Ui, hook: Hook, cancel: CancelToken) -> Artifact | None:
        ctx = NullRun(ui, cancel, hook, self.config)
        run_build_steps([StepConnect(), StepProvision()], ctx, self.options)
        return Artifact(
            BUILDER_ID,
            "Null",
            [],
            text="Did not export anything. This is the null builder",
            state={"generated_data": {"ID": "Null"}},
            destroy=lambda: None,
        )
