"""StepCreateSnapshot: `create_snapshot` with `snapshot_name` ("Created by Packer")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from builder.errors import BuildError, DriverError
from builder.vsphere.common.run import VSphereRun


@dataclass
class StepCreateSnapshot:
    name: ClassVar[str] = "StepCreateSnapshot"

    def run(self, ctx: VSphereRun[Any]) -> None:
        cfg = ctx.config
        if not cfg.create_snapshot:
            return
        ctx.ui.say("Creating snapshot...")
        try:
            ctx.driver.create_snapshot(ctx.require_vm(), cfg.snapshot_label())
        except DriverError as exc:
            raise BuildError(str(exc)) from exc

    def cleanup(self, ctx: VSphereRun[Any]) -> None:
        """The snapshot goes with the VM."""
