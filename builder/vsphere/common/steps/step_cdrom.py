"""StepAddCDRom ("Mounting ISO images...") and StepRemoveCDRom (eject, then remove).

StepAddCDRom mounts, in 1.6.6's order: the uploaded ISO (`ctx.iso_datastore_path`, set by
StepRemoteUpload for vsphere-iso), then `iso_paths`, then the uploaded `cd_files` image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from builder.errors import BuildError, DriverError
from builder.vsphere.common.run import VSphereRun


@dataclass
class StepAddCDRom:
    name: ClassVar[str] = "StepAddCDRom"

    def run(self, ctx: VSphereRun[Any]) -> None:
        cfg, vm, driver = ctx.config, ctx.require_vm(), ctx.driver
        if cfg.cdrom_type == "sata":
            try:
                if driver.add_sata_controller(vm):
                    ctx.ui.say("Adding SATA controller...")
            except DriverError as exc:
                raise BuildError(f"error adding SATA controller: {exc}") from exc
        ctx.ui.say("Mounting ISO images...")
        paths = [*ctx.iso_datastore_paths, *cfg.iso_paths, *ctx.cd_datastore_paths]
        for path in paths:
            try:
                driver.add_cdrom(vm, cfg.cdrom_type, path)
            except DriverError as exc:
                raise BuildError(f"error mounting an image '{path}': {exc}") from exc

    def cleanup(self, ctx: VSphereRun[Any]) -> None:
        """The drives go with the VM (or StepRemoveCDRom takes them out)."""


@dataclass
class StepRemoveCDRom:
    name: ClassVar[str] = "StepRemoveCDRom"

    def run(self, ctx: VSphereRun[Any]) -> None:
        vm = ctx.require_vm()
        ctx.ui.say("Eject CD-ROM drives...")
        try:
            ctx.driver.eject_cdroms(vm)
            if ctx.config.remove_cdrom:
                ctx.ui.say("Deleting CD-ROM drives...")
                ctx.driver.remove_cdroms(vm)
        except DriverError as exc:
            raise BuildError(str(exc)) from exc

    def cleanup(self, ctx: VSphereRun[Any]) -> None:
        """Nothing to undo."""
