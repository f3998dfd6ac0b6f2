"""The null builder: connect (or not), provision, produce the `Null` artifact."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from builder.artifact import Artifact
from builder.common.builder import PlatformBuilder
from builder.common.run import BuildRun, RunArgs
from builder.multistep import Step
from builder.null.config import NullConfig

BUILDER_ID = "fnoeding.null"


@dataclass(kw_only=True)
class NullRun(BuildRun[NullConfig]):
    """A null build has no machine of its own: its ID is `Null`."""

    def machine_id(self) -> str:
        return "Null"


class Builder(PlatformBuilder[NullRun]):
    """Runs the provisioners against an existing host; the artifact is empty."""

    Config = NullConfig
    builder_id = BUILDER_ID
    config: NullConfig

    def new_run(self, args: RunArgs, driver: Any) -> NullRun:
        return NullRun(**args, config=self.config)

    def steps(self) -> Sequence[Step[NullRun] | None]:
        from builder.common.steps import StepConnect, StepProvision  # not needed to validate

        return [StepConnect(), StepProvision()]

    def artifact(self, ctx: NullRun) -> Artifact | None:
        return Artifact(
            BUILDER_ID,
            "Null",
            [],
            text="Did not export anything. This is the null builder",
            state={"generated_data": {"ID": "Null"}},
            destroy=lambda: None,
        )
