"""StepAddFloppy: the floppy_files image uploaded next to the VM and attached; floppy_img_path.

Packer 1.6.6 (both builders; vsphere-clone only with a communicator): "Uploading created
floppy image" to `<VM directory>/packer-tmp-created-floppy.flp`, "Adding generated
Floppy...", then for `floppy_img_path` "Adding Floppy image...". The upload is
`vsphere.file` in the ledger. StepRemoveFloppy deletes it once the build is done (clearing
`floppy_datastore_path`); this step's cleanup deletes it when that never happened (a
failed or cancelled build: "Deleting Floppy image ...").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from builder.common.plan import Creates
from builder.errors import BuildError, DriverError
from builder.vsphere.common.datastore import (
    FILE_KIND,
    build_datastore,
    datastore_path,
    delete_quietly,
    upload,
)
from builder.vsphere.common.run import PLATFORM

if TYPE_CHECKING:
    from builder.ledger import Resource
    from builder.vsphere.common.config import VSphereConfig
    from builder.vsphere.common.run import VSphereRun

FLOPPY_NAME = "packer-tmp-created-floppy.flp"


def floppy_remote_path(vm_dir: str) -> str:
    return f"{vm_dir}/{FLOPPY_NAME}" if vm_dir else FLOPPY_NAME


@dataclass
class StepAddFloppy:
    name: ClassVar[str] = "StepAddFloppy"
    _upload: tuple[Resource, str, str] | None = field(default=None, init=False, repr=False)

    def plan(self, config: VSphereConfig, build_name: str) -> list[Creates]:
        if not (config.floppy_files or config.floppy_dirs):
            return []
        ds = config.datastore or "<the host's datastore>"
        path = datastore_path(ds, floppy_remote_path(config.vm_name))
        return [Creates(f"{PLATFORM}.{FILE_KIND}", "the floppy image (deleted at the end)", path)]

    def run(self, ctx: VSphereRun[Any]) -> None:
        cfg, vm = ctx.config, ctx.require_vm()
        if ctx.floppy_path:
            ctx.ui.say("Uploading created floppy image")
            datastore = build_datastore(ctx)
            try:
                vm_dir = ctx.driver.vm_directory(vm)
            except DriverError as exc:
                raise BuildError(f"error finding the VM's directory: {exc}") from exc
            remote = floppy_remote_path(vm_dir)
            res = upload(ctx, ctx.floppy_path, datastore, remote, what="the floppy image")
            self._upload = (res, datastore, remote)
            ctx.floppy_datastore_path = datastore_path(datastore, remote)
            ctx.ui.say("Adding generated Floppy...")
            self._add(ctx, ctx.floppy_datastore_path)
        if cfg.floppy_img_path:
            ctx.ui.say("Adding Floppy image...")
            self._add(ctx, cfg.floppy_img_path)

    def _add(self, ctx: VSphereRun[Any], path: str) -> None:
        try:
            ctx.driver.add_floppy(ctx.require_vm(), path)
        except DriverError as exc:
            raise BuildError(f"error adding floppy '{path}': {exc}") from exc

    def cleanup(self, ctx: VSphereRun[Any]) -> None:
        if self._upload is None:
            return
        res, datastore, remote = self._upload
        if not ctx.floppy_datastore_path:  # StepRemoveFloppy deleted it
            res.released()
            self._upload = None
            return
        ctx.ui.say("Deleting Floppy image ...")
        if delete_quietly(ctx, res, datastore, remote):
            self._upload = None
            ctx.floppy_datastore_path = ""
