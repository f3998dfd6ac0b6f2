"""StepCloneVM: clone `template` into `folder/vm_name` (-force replaces an existing one).

The VM is `vsphere.vm` in the ledger before the clone call and carries the run id (a
custom attribute) until the build finishes; cleanup destroys it on failure or cancel,
else keeps it as the artifact (see builder.vsphere.common.steps.vm).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from builder.common.plan import Creates
from builder.errors import BuildCancelled, BuildError, DriverError
from builder.vsphere.clone.config import CloneConfig
from builder.vsphere.common.driver import CloneSpec, DiskSpec, Placement, StorageSpec
from builder.vsphere.common.run import PLATFORM, VSphereRun
from builder.vsphere.common.steps.vm import (
    cleanup_vm,
    orphan_after_failed_call,
    pre_clean,
    record_vm,
    vm_made,
)

Run = VSphereRun[CloneConfig]


def clone_spec(cfg: CloneConfig, run_id: str) -> CloneSpec:
    disks = tuple(
        DiskSpec(
            d.disk_size, d.disk_thin_provisioned, d.disk_eagerly_scrub, d.disk_controller_index
        )  # fmt: skip
        for d in cfg.storage
    )
    return CloneSpec(
        template=cfg.template,
        name=cfg.vm_name,
        placement=Placement(cfg.folder, cfg.cluster, cfg.host, cfg.resource_pool, cfg.datastore),
        linked_clone=cfg.linked_clone,
        network=cfg.network,
        mac_address=cfg.mac_address,
        annotation=cfg.notes,
        vapp_properties=tuple(sorted(cfg.vapp.properties.items())),
        storage=StorageSpec(tuple(cfg.disk_controller_type), disks),
        run_id=run_id,
    )


@dataclass
class StepCloneVM:
    name: ClassVar[str] = "StepCloneVM"
    force: bool = False

    def plan(self, config: CloneConfig, build_name: str) -> list[Creates]:
        what = "the VM cloned from " + config.template
        if config.convert_to_template:
            what += " (kept as a template)"
        return [Creates(f"{PLATFORM}.vm", what, config.vm_path())]

    def run(self, ctx: Run) -> None:
        cfg = ctx.config
        pre_clean(ctx, ctx.vm_path, self.force)
        ctx.ui.say("Cloning VM...")
        res = record_vm(ctx, ctx.vm_path)
        try:
            vm = ctx.driver.clone_vm(clone_spec(cfg, ctx.resources.run_id), ctx.cancel)
        except BuildCancelled:
            orphan_after_failed_call(ctx, res, ctx.vm_path)
            raise
        except DriverError as exc:
            orphan_after_failed_call(ctx, res, ctx.vm_path)
            if "template '" in str(exc):
                raise BuildError(f"Error finding vm to clone: {exc}") from exc
            raise BuildError(str(exc)) from exc
        vm_made(ctx, res, vm)
        if cfg.disk_size > 0:
            try:
                ctx.driver.resize_disk(vm, cfg.disk_size)
            except DriverError as exc:
                raise BuildError(str(exc)) from exc

    def cleanup(self, ctx: Run) -> None:
        cleanup_vm(ctx)
