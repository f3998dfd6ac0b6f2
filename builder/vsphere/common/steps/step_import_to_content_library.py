"""StepImportToContentLibrary: the VM as a content library item (`content_library_destination`).

Packer 1.6.6's step, after convert-to-template and before export. The library must be LOCAL.
`ovf: true` makes an OVF template item (an item of that name is updated instead); otherwise a
VM template (vmtx) item, cloned from the VM into the placement options. A new item is
`vsphere.library_item` in the ledger before the create call and its id after; cleanup deletes
it on failure or cancel (for a VM template item its template VM goes with it) and keeps it
otherwise. `destroy: true` makes the build destroy the VM at the end (1.6.6's "destroy_vm").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from builder.common.plan import Creates
from builder.errors import BuildCancelled, BuildError, DriverError
from builder.vsphere.common.driver import Placement, TemplateItemSpec
from builder.vsphere.common.run import PLATFORM, VSphereRun

if TYPE_CHECKING:
    from builder.ledger import Resource
    from builder.vsphere.common.config import ContentLibraryDestinationConfig, VSphereConfig

KIND = "library_item"
OVF, VMTX = "ovf", "vm-template"


@dataclass
class StepImportToContentLibrary:
    name: ClassVar[str] = "StepImportToContentLibrary"
    _item: Resource | None = field(default=None, init=False, repr=False)
    _library_id: str = field(default="", init=False, repr=False)

    def plan(self, config: VSphereConfig, build_name: str) -> list[Creates]:
        lib = config.content_library_destination
        if lib is None:
            return []
        kind = "an OVF template" if lib.ovf else "a VM template"
        what = f"{kind} of the VM in content library {lib.library}"
        if lib.ovf:
            what += " (an item of that name is updated)"
        if lib.destroy:
            what += "; the VM is destroyed at the end"
        return [Creates(f"{PLATFORM}.{KIND}", what, f"{lib.library}/{lib.name}")]

    def run(self, ctx: VSphereRun[Any]) -> None:
        lib: ContentLibraryDestinationConfig | None = ctx.config.content_library_destination
        if lib is None:
            return
        kind = "VM OVF template" if lib.ovf else "VM template"
        ctx.ui.say(f"Importing {kind} {lib.name} to Content Library...")
        try:
            self._import(ctx, lib)
        except DriverError as exc:
            raise BuildError(f"Failed to import template {lib.name}: {exc}") from exc
        finally:
            _end_session(ctx)
        if lib.destroy:
            ctx.destroy_vm = True

    def _import(self, ctx: VSphereRun[Any], lib: ContentLibraryDestinationConfig) -> None:
        driver, vm = ctx.driver, ctx.require_vm()
        library = driver.find_library(lib.library)
        if library.type != "LOCAL":
            raise DriverError(
                f"can not deploy a VM to the content library {lib.library} of type "
                f"{library.type}; the content library must be of type LOCAL"
            )
        existing = driver.find_library_item(library.id, lib.name)
        if lib.ovf and existing is not None:  # updated in place: not ours to delete
            driver.create_ovf_item(vm, library.id, lib.name, existing.id)
            ctx.library_item, ctx.library_name = existing, library.name
            return
        if existing is not None:
            raise DriverError(
                f"the library item {lib.name} already exists in {lib.library}; a VM template "
                'cannot update an item (use "ovf": true, or another name)'
            )
        res = ctx.resources.creating(
            PLATFORM, KIND, name=lib.name, library=library.name, library_id=library.id,
            type=OVF if lib.ovf else VMTX,
        )  # fmt: skip
        self._item, self._library_id = res, library.id
        if lib.ovf:
            item_id = driver.create_ovf_item(vm, library.id, lib.name)
        else:
            place = Placement(lib.folder, lib.cluster, lib.host, lib.resource_pool, lib.datastore)
            spec = TemplateItemSpec(lib.name, lib.description, place)
            item_id = driver.create_template_item(vm, library.id, spec)
        res.created(item_id, library=library.name, library_id=library.id,
                    type=OVF if lib.ovf else VMTX)  # fmt: skip
        ctx.library_item = driver.library_item(item_id)
        ctx.library_name = library.name

    def cleanup(self, ctx: VSphereRun[Any]) -> None:
        res, self._item = self._item, None
        if res is None:
            return
        if not ctx.state.failed:
            res.kept()
            return
        try:
            if res.state == "created":
                ctx.ui.say(f"Deleting library item {res.name}...")
                ctx.driver.delete_library_item(res.id)
            else:  # the create call never answered: an item of that name is ours
                left = ctx.driver.find_library_item(self._library_id, res.name)
                if left is not None:
                    ctx.driver.delete_library_item(left.id)
        except (DriverError, BuildCancelled) as exc:
            ctx.ui.error(f"Error deleting library item {res.name}: {exc}")
            return
        finally:
            _end_session(ctx)
        res.released()
        ctx.library_item = None


def _end_session(ctx: VSphereRun[Any]) -> None:
    try:
        ctx.driver.end_library_session()
    except DriverError as exc:
        ctx.ui.error(f"Error logging out of the vCenter REST API: {exc}")
