"""Steps every builder shares: connect a communicator, run the provisioners."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from builder.communicator.none import NoneCommunicator


@dataclass
class StepConnectNone:
    """`communicator: none`: nothing to connect."""

    name: ClassVar[str] = "StepConnect"

    def run(self, ctx: Any) -> None:
        ctx.communicator = NoneCommunicator()

    def cleanup(self, ctx: Any) -> None:
        ctx.communicator = None


@dataclass
class StepProvision:
    """Runs the provisioners through the hook; on a failed build, the error-cleanup-provisioner."""

    name: ClassVar[str] = "StepProvision"

    def run(self, ctx: Any) -> None:
        ctx.hook.provision(ctx.ui, ctx.communicator, ctx.build_data())

    def cleanup(self, ctx: Any) -> None:
        state = getattr(ctx, "state", None)
        if state is None or state.error is None or state.cancelled:
            return
        ctx.ui.say("Provisioning step had errors: Running the cleanup provisioner, if present...")
        cleanup = getattr(ctx.hook, "error_cleanup", None)
        if cleanup is not None:
            cleanup(ctx.ui, ctx.communicator, ctx.build_data(), state.error)
