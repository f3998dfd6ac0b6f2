"""StepConvertToTemplate: `convert_to_template` (MarkAsTemplate)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from builder.errors import BuildError, DriverError
from builder.vsphere.common.run import VSphereRun


@dataclass
class StepConvertToTemplate:
    name: ClassVar[str] = "StepConvertToTemplate"

    def run(self, ctx: VSphereRun[Any]) -> None:
        if not ctx.config.convert_to_template:
            return
        ctx.ui.say("Convert VM into template...")
        try:
            ctx.driver.mark_as_template(ctx.require_vm())
        except DriverError as exc:
            raise BuildError(str(exc)) from exc

    def cleanup(self, ctx: VSphereRun[Any]) -> None:
        """A template is destroyed like a VM (StepCloneVM's cleanup)."""
