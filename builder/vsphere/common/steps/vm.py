"""The VM's lifecycle in the ledger, shared by StepCloneVM and vsphere-iso's StepCreateVM.

`record_vm(ctx, path)` before the clone/create call; `vm_made(ctx, res, vm)` after it;
`cleanup_vm(ctx)` in the creating step's cleanup: on failure, cancel or `ctx.destroy_vm`
the VM is powered off and destroyed ("Destroying VM..."), else its run-id attribute is
cleared and it is kept (the artifact). `pre_clean(ctx, path, force)` is Packer's PreCleanVM.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from builder.errors import BuildError, DriverError
from builder.vsphere.common.run import PLATFORM, VSphereRun

if TYPE_CHECKING:
    from builder.ledger import Resource
    from builder.vsphere.common.driver import VMRef


def pre_clean(ctx: VSphereRun[Any], path: str, force: bool) -> None:
    """An existing VM or template at `path`: destroyed with -force, else an error."""
    try:
        existing = ctx.driver.find_vm(path)
    except DriverError as exc:
        raise BuildError(f"error looking up old vm: {exc}") from exc
    if existing is None:
        return
    if not force:
        raise BuildError(f"{path} already exists, you can use -force flag to destroy it")
    ctx.ui.say(f"the vm/template {path} already exists, but deleting it due to -force flag")
    try:
        ctx.driver.destroy_vm(existing)
    except DriverError as exc:
        raise BuildError(f"error destroying {path}: {exc}") from exc


def record_vm(ctx: VSphereRun[Any], path: str) -> Resource:
    """The ledger record of a VM about to be made at `path` (datacenter kept for cleanup)."""
    return ctx.resources.creating(PLATFORM, "vm", name=path, datacenter=ctx.config.datacenter)


def vm_made(ctx: VSphereRun[Any], res: Resource, vm: VMRef) -> None:
    res.created(vm.id, path=vm.path, uuid=vm.uuid)
    ctx.vm, ctx.vm_resource = vm, res


def orphan_after_failed_call(ctx: VSphereRun[Any], res: Resource, path: str) -> None:
    """The create call failed: a VM may exist all the same (a cancelled task); remove it."""
    try:
        left = ctx.driver.find_vm(path)
        if left is not None:
            ctx.driver.destroy_vm(left)
    except DriverError as exc:
        ctx.ui.error(f"Error removing the partly made VM {path}: {exc}")
        return
    res.released()


def cleanup_vm(ctx: VSphereRun[Any]) -> None:
    """Destroy the VM on failure/cancel (or when asked), else keep it as the artifact."""
    vm, res = ctx.vm, ctx.vm_resource
    if vm is None or res is None:
        return
    if ctx.state.failed or ctx.destroy_vm:
        ctx.ui.say("Destroying VM...")
        try:
            ctx.driver.destroy_vm(vm)
        except DriverError as exc:
            ctx.ui.error(str(exc))
            return
        res.released()
    else:
        try:
            ctx.driver.set_run_id(vm, "")
        except DriverError as exc:
            ctx.ui.error(f"Error clearing the run id of {vm.path}: {exc}")
        res.kept()
    ctx.vm_resource = None
