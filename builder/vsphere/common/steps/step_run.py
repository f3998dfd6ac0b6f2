"""StepRun: boot order (if set), power on; on failure or cancel, power off in cleanup.

`set_order` (vsphere-iso without boot_order): "disk,cdrom" for the install, cleared
again in cleanup ("Clear boot order..."), as 1.6.6.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from builder.errors import BuildError, DriverError
from builder.vsphere.common.run import VSphereRun


@dataclass
class StepRun:
    name: ClassVar[str] = "StepRun"
    set_order: bool = False
    _powered: bool = False

    def run(self, ctx: VSphereRun[Any]) -> None:
        cfg, vm = ctx.config, ctx.require_vm()
        try:
            if cfg.boot_order:
                ctx.ui.say("Set boot order...")
                ctx.driver.set_boot_order(vm, cfg.boot_devices())
            elif self.set_order:
                ctx.ui.say("Set boot order temporary...")
                ctx.driver.set_boot_order(vm, ["disk", "cdrom"])
            ctx.ui.say("Power on VM...")
            self._powered = True
            ctx.driver.power_on(vm)
        except DriverError as exc:
            raise BuildError(str(exc)) from exc

    def cleanup(self, ctx: VSphereRun[Any]) -> None:
        vm = ctx.vm
        if vm is None:
            return
        if not ctx.config.boot_order and self.set_order:
            self._clear_order(ctx)
        if not self._powered or not ctx.state.failed:
            return
        self._powered = False
        ctx.ui.say("Power off VM...")
        try:
            ctx.driver.power_off(vm)
        except DriverError as exc:
            ctx.ui.error(str(exc))

    def _clear_order(self, ctx: VSphereRun[Any]) -> None:
        """1.6.6 clears the temporary order; a template cannot be reconfigured (1.6.6
        fails the build there), so a VM converted meanwhile keeps it."""
        vm = ctx.require_vm()
        try:
            if ctx.driver.vm_info(vm).template:
                return
            ctx.ui.say("Clear boot order...")
            ctx.driver.set_boot_order(vm, ["-"])
        except DriverError as exc:
            ctx.ui.error(str(exc))
