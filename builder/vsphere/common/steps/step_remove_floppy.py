"""StepRemoveFloppy: after the install, the floppy drives go and the uploaded image with them.

Packer 1.6.6 (both builders; vsphere-clone only with a communicator): "Deleting Floppy
drives..." (every floppy device, image files kept), then "Deleting Floppy image..." for the
image StepAddFloppy uploaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from builder.errors import BuildError, DriverError
from builder.vsphere.common.datastore import split_datastore_path

if TYPE_CHECKING:
    from builder.vsphere.common.run import VSphereRun


@dataclass
class StepRemoveFloppy:
    name: ClassVar[str] = "StepRemoveFloppy"

    def run(self, ctx: VSphereRun[Any]) -> None:
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

    def cleanup(self, ctx: VSphereRun[Any]) -> None:
        """Nothing to undo."""
