"""StepConfigureHardware: CPUs, RAM, reservations, hot plug, video RAM, firmware."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from builder.errors import BuildError, DriverError
from builder.vsphere.common.config import HardwareConfig
from builder.vsphere.common.driver import HardwareSpec
from builder.vsphere.common.run import VSphereRun


def hardware_spec(cfg: HardwareConfig) -> HardwareSpec:
    return HardwareSpec(
        cpus=cfg.cpus,
        cpu_cores=cfg.cpu_cores,
        cpu_reservation=cfg.cpu_reservation,
        cpu_limit=cfg.cpu_limit,
        cpu_hot_plug=cfg.cpu_hot_plug,
        ram_mb=cfg.ram,
        ram_reservation=cfg.ram_reservation,
        ram_reserve_all=cfg.ram_reserve_all,
        ram_hot_plug=cfg.ram_hot_plug,
        video_ram_kb=cfg.video_ram,
        vgpu_profile=cfg.vgpu_profile,
        nested_hv=cfg.nested_hv,
        firmware=cfg.firmware,
        force_bios_setup=cfg.force_bios_setup,
    )


@dataclass
class StepConfigureHardware:
    name: ClassVar[str] = "StepConfigureHardware"

    def run(self, ctx: VSphereRun[Any]) -> None:
        cfg = ctx.config
        if not cfg.hardware_set():
            return
        ctx.ui.say("Customizing hardware...")
        try:
            ctx.driver.configure_hardware(ctx.require_vm(), hardware_spec(cfg))
        except DriverError as exc:
            raise BuildError(f"Error customizing hardware: {exc}") from exc

    def cleanup(self, ctx: VSphereRun[Any]) -> None:
        """Nothing to undo: the VM goes as a whole."""
