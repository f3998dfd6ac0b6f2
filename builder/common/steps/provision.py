"""The provisioning step: the hook runs every provisioner over the connected communicator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from builder.common.run import BuildRun


@dataclass
class StepProvision:
    """Runs the provisioners through the hook; on a failed build, the error-cleanup-provisioner."""

    name: ClassVar[str] = "StepProvision"
    keep_on_abort: ClassVar[bool] = True  # -on-error=run-cleanup-provisioner still runs it

    def run(self, ctx: BuildRun[Any]) -> None:
        ctx.hook.provision(ctx.ui, ctx.communicator, ctx.build_data())

    def cleanup(self, ctx: BuildRun[Any]) -> None:
        state = ctx.state
        if state.error is None or state.cancelled:
            return
        ctx.ui.say("Provisioning step had errors: Running the cleanup provisioner, if present...")
        ctx.hook.error_cleanup(ctx.ui, ctx.communicator, ctx.build_data(), state.error)
