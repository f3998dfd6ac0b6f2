"""StepAddCDRom: a CD-ROM drive for the ISO, for each of `iso_paths`, and for the cd_files image.

Packer 1.6.6's order and messages: with `cdrom_type: sata` a SATA controller is added
first ("Adding SATA controller..."), then "Mounting ISO images..." and one drive per
image: the uploaded ISO, then `iso_paths`, then the cd_files image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from builder.errors import BuildError, DriverError

if TYPE_CHECKING:
    from builder.vsphere.iso.run import VSphereISORun


def images(ctx: VSphereISORun) -> list[str]:
    """The datastore paths to mount, in 1.6.6's order."""
    first = [ctx.iso_datastore_path] if ctx.iso_datastore_path else []
    return [*first, *ctx.config.iso_paths, *ctx.cd_datastore_paths]


@dataclass
class StepAddCDRom:
    name: ClassVar[str] = "StepAddCDRom"

    def run(self, ctx: VSphereISORun) -> None:
        cfg, vm = ctx.config, ctx.require_vm()
        controller = cfg.cdrom_type or "ide"
        if controller == "sata":
            ctx.ui.say("Adding SATA controller...")
            try:
                ctx.driver.add_sata_controller(vm)
            except DriverError as exc:
                raise BuildError(f"error adding SATA controller: {exc}") from exc
        ctx.ui.say("Mounting ISO images...")
        for path in images(ctx):
            ctx.cancel.check()
            try:
                ctx.driver.add_cdrom(vm, controller, path)
            except DriverError as exc:
                raise BuildError(f"error mounting an image '{path}': {exc}") from exc

    def cleanup(self, ctx: VSphereISORun) -> None:
        """Nothing to undo: the drives go with the VM, or StepRemoveCDRom ejects them."""
