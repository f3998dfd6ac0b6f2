"""StepCreateVM: a new VM with its disks, controllers, network cards and USB controllers.

Packer 1.6.6's order: PreCleanVM (an existing VM at the path is an error, or destroyed
with -force), "Creating VM...", the create call. The VM is in the ledger before the call
(`vsphere.vm`, named by its inventory path, the run id as a custom attribute); on
failure or cancel cleanup powers it off and destroys it, on success it is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from builder.common.plan import Creates
from builder.errors import BuildError, DriverError
from builder.vsphere.common.driver import CreateSpec, DiskSpec, NicSpec, Placement, StorageSpec
from builder.vsphere.common.run import PLATFORM
from builder.vsphere.common.steps.vm import (
    cleanup_vm,
    orphan_after_failed_call,
    pre_clean,
    record_vm,
    vm_made,
)

if TYPE_CHECKING:
    from builder.vsphere.iso.config import VSphereISOConfig
    from builder.vsphere.iso.run import VSphereISORun


def create_spec(cfg: VSphereISOConfig, run_id: str = "") -> CreateSpec:
    """The create call's record from the config (1.6.6's driver.CreateConfig)."""
    return CreateSpec(
        name=cfg.vm_name,
        placement=Placement(
            folder=cfg.folder,
            cluster=cfg.cluster,
            host=cfg.host,
            resource_pool=cfg.resource_pool,
            datastore=cfg.datastore,
        ),
        guest_os_type=cfg.guest_os(),
        version=cfg.vm_version,
        annotation=cfg.notes,
        storage=StorageSpec(
            controller_types=cfg.controller_types(),
            disks=tuple(
                DiskSpec(
                    size_mb=d.disk_size,
                    thin_provisioned=d.disk_thin_provisioned,
                    eagerly_scrub=d.disk_eagerly_scrub,
                    controller_index=d.disk_controller_index,
                )
                for d in cfg.storage
            ),
        ),
        nics=tuple(
            NicSpec(
                network=n.network,
                card=n.card,
                mac_address=n.mac_address,
                passthrough=bool(n.passthrough),
            )
            for n in cfg.network_adapters
        ),
        usb_controllers=cfg.usb_controllers(),
        run_id=run_id,
    )


@dataclass
class StepCreateVM:
    """Packer's vsphere-iso StepCreateVM; `force` is -force (replace an existing VM)."""

    name: ClassVar[str] = "StepCreateVM"
    force: bool = False

    def plan(self, config: VSphereISOConfig, build_name: str) -> list[Creates]:
        disks = ", ".join(f"{d.disk_size} MB" for d in config.storage) or "no disk"
        what = f"the VM ({config.guest_os()}, disks: {disks}); kept as the artifact"
        return [Creates(f"{PLATFORM}.vm", what, config.vm_path())]

    def run(self, ctx: VSphereISORun) -> None:
        cfg = ctx.config
        pre_clean(ctx, ctx.vm_path, self.force)
        ctx.ui.say("Creating VM...")
        res = record_vm(ctx, ctx.vm_path)
        try:
            vm = ctx.driver.create_vm(create_spec(cfg, ctx.resources.run_id))
        except DriverError as exc:
            orphan_after_failed_call(ctx, res, ctx.vm_path)
            raise BuildError(f"error creating vm: {exc}") from exc
        except BaseException:
            orphan_after_failed_call(ctx, res, ctx.vm_path)
            raise
        vm_made(ctx, res, vm)

    def cleanup(self, ctx: VSphereISORun) -> None:
        cleanup_vm(ctx)
