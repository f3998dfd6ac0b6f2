"""StepPortForward: the host port the communicator's forward listens on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from builder.qemu.ports import Reservation, reserve
from builder.qemu.qemuargs import HOST_FORWARD_ADDRESS
from builder.qemu.run import QemuRun


@dataclass
class StepPortForward:
    """Choose a free port from host_port_min up to host_port_max on the forward's address."""

    name: ClassVar[str] = "StepPortForward"
    _held: Reservation | None = None

    def run(self, ctx: QemuRun) -> None:
        cfg = ctx.config
        if cfg.communicator == "none":
            ctx.ui.message("No communicator is set; skipping port forwarding setup.")
            return
        if cfg.net_bridge:
            ctx.ui.message("net_bridge is set; skipping port forwarding setup.")
            return
        if cfg.skip_nat_mapping:
            ctx.host_port = 0  # the communicator's own port, on ssh_host
            return
        self._held = reserve(HOST_FORWARD_ADDRESS, cfg.host_port_min, cfg.host_port_max,
                             "port")  # fmt: skip
        ctx.host_port = self._held.port
        ctx.ui.say(f"Found port for communicator (SSH, WinRM, etc): {ctx.host_port}.")

    def cleanup(self, ctx: QemuRun) -> None:
        if self._held is not None:
            self._held.release()
            self._held = None
