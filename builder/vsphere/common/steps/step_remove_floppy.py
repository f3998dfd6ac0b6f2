"""StepRemoveFloppy: after the install, the floppy drives go and the uploaded image with them.

Packer 1.6.6: "Deleting Floppy drives..." (every floppy device, image files kept), then
"Deleting Floppy image..." for the image StepAddFloppy uploaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from builder.errors import BuildError, DriverError

if TYPE_CHECKING:
    from builder.vsphere.iso.run import VSphereISORun


def split_datastore_path(full: str) -> tuple[str, str]:
    """`[ds] path` -> ("ds", "path")."""
    if full.startswith("[") and "]" in full:
        ds, _, path = full[1:].partition("]")
        return ds, path.strip()
    return "", full


@dataclass
class StepRemoveFloppy:
    name: ClassVar[str] = "StepRemoveFloppy"

    def run(self, ctx: VSphereISORun) -> None:
        vm = ctx.require_vm()
        ctx.ui.say("Deleting Floppy drives...")
        try:
            ctx.driver.remove_floppies(vm)
        except DriverError as exc:
            raise BuildError(f"error removing the floppy drives: {exc}") from exc
        if ctx.floppy_datastore_path:
            ctx.ui.say("Deleting Floppy image...")
            datastore, path = split_datastore_path(ctx.floppy_datastore_path)
            try:
                ctx.driver.delete_file(datastore, path)
            except DriverError as exc:
                raise BuildError(f"error deleting {ctx.floppy_datastore_path}: {exc}") from exc
            ctx.floppy_datastore_path = ""

    def cleanup(self, ctx: VSphereISORun) -> None:
        """Nothing to undo."""
