"""StepConfigureQMP: open the VM's QMP socket; set the VNC password through it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import ClassVar

from builder.errors import BuildError, DriverError
from builder.qemu.driver import QMPMonitor
from builder.qemu.run import QemuRun

QMP_TIMEOUT = 10.0


@dataclass
class StepConfigureQMP:
    """With qmp_enable (implied by vnc_use_password and net_bridge): connect to QMP."""

    name: ClassVar[str] = "StepConfigureQMP"
    _monitor: QMPMonitor | None = None

    def run(self, ctx: QemuRun) -> None:
        if not ctx.config.qmp_enable:
            return
        ctx.ui.say(f"QMP socket at: {ctx.qmp_socket}")
        try:
            self._monitor = ctx.driver.qmp(ctx.qmp_socket, QMP_TIMEOUT)
        except DriverError as exc:
            raise BuildError(str(exc)) from exc
        ctx.qmp = self._monitor
        if ctx.vnc_password:
            try:
                self._monitor.execute("change-vnc-password", {"password": ctx.vnc_password})
            except DriverError as exc:
                raise BuildError(f"Error setting the VNC password over QMP: {exc}") from exc

    def cleanup(self, ctx: QemuRun) -> None:
        monitor, self._monitor = self._monitor, None
        if monitor is None:
            return
        ctx.qmp = None
        monitor.close()
        try:
            os.remove(ctx.qmp_socket)
        except OSError:
            pass
