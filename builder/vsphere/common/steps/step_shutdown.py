"""StepShutdown with vSphere 1.6.6's semantics (not qemu's, in builder/common/steps).

Already off: nothing. `disable_shutdown`: the user shuts it down. `shutdown_command`:
run over the communicator. Neither: ShutdownGuest through VMware Tools. Then wait up to
`shutdown_timeout` for power-off ("Timeout while waiting for machine to shut down.").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from builder.communicator.base import Disconnected
from builder.communicator.none import NoneCommunicator
from builder.config import format_go_duration
from builder.errors import BuildCancelled, BuildError, CommunicatorTimeout, DriverError
from builder.vsphere.common.run import VSphereRun

OFF = "poweredOff"


@dataclass
class StepShutdown:
    name: ClassVar[str] = "StepShutdown"
    poll: float = 1.0
    clock: Callable[[], float] = time.monotonic

    def run(self, ctx: VSphereRun[Any]) -> None:
        cfg, vm, driver = ctx.config, ctx.require_vm(), ctx.driver
        if driver.power_state(vm) == OFF:
            ctx.ui.say("VM is already powered off")
            return
        comm = ctx.communicator
        if comm is None or isinstance(comm, NoneCommunicator):
            timeout = format_go_duration(cfg.shutdown_timeout)
            ctx.ui.message(f"Please shutdown virtual machine within {timeout}.")
        elif cfg.disable_shutdown:
            ctx.ui.say("Automatic shutdown disabled. Please shutdown virtual machine.")
        elif cfg.shutdown_command:
            ctx.ui.say("Executing shutdown command...")
            try:
                comm.run(cfg.shutdown_command, timeout=cfg.shutdown_timeout, cancel=ctx.cancel)
            except (Disconnected, CommunicatorTimeout):
                ctx.cancel.check()  # the machine going down takes the connection with it
            except BuildError as exc:
                raise BuildError(f"Failed to send shutdown command: {exc}") from exc
        else:
            ctx.ui.say("Shutting down VM...")
            try:
                driver.shutdown_guest(vm)
            except DriverError as exc:
                raise BuildError(f"Cannot shut down VM: {exc}") from exc
        self._wait_off(ctx, cfg.shutdown_timeout)

    def _wait_off(self, ctx: VSphereRun[Any], timeout: float) -> None:
        vm, deadline = ctx.require_vm(), self.clock() + timeout
        while ctx.driver.power_state(vm) != OFF:
            left = deadline - self.clock()
            if left <= 0:
                raise BuildError("Timeout while waiting for machine to shut down.")
            if ctx.cancel.wait(min(self.poll, left)):
                raise BuildCancelled()

    def cleanup(self, ctx: VSphereRun[Any]) -> None:
        """Nothing to undo."""
