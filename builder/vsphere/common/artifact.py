"""The vSphere artifact: a VM or template in the inventory (and an export's files), or,
when `content_library_destination.destroy` removed the VM, the content library item.

`id` is the VM's name as 1.6.6 gives it; `string()` its inventory path (`/DC0/vm/f/name`);
state `inventory_path`, `vm_id` (managed object id), `generated_data`, and with a content
library import `library`, `library_item_id`, `library_item_type`. With the VM destroyed,
`id` is the item's name and `string()` `library/item` (1.6.6 returns the destroyed VM).
`destroy()` opens a new session from the settings (never a live one) and destroys the VM or
template (or deletes the library item, when that is the artifact), and removes the exported
files.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from builder.artifact import Artifact
from builder.vsphere.common.driver import VSPHERE, LibraryItem, VMRef, VSphereSettings

BUILDER_ID = "jetbrains.vsphere"


class VSphereArtifact(Artifact):
    def __init__(
        self,
        vm: VMRef,
        settings: VSphereSettings,
        files: Sequence[str] = (),
        generated_data: dict[str, Any] | None = None,
        library_item: LibraryItem | None = None,
        library: str = "",
        vm_destroyed: bool = False,
    ):
        state: dict[str, Any] = {"generated_data": generated_data}
        self.item = library_item if vm_destroyed else None
        if library_item is not None:
            state.update(library=library, library_item_id=library_item.id,
                         library_item_type=library_item.type)  # fmt: skip
        if self.item is None:
            state.update(inventory_path=vm.path, vm_id=vm.id)
        name = self.item.name if self.item is not None else vm.name
        super().__init__(BUILDER_ID, name, list(files), state=state)
        self.vm, self.settings, self.library = vm, settings, library

    def string(self) -> str:
        if self.item is not None:
            return f"{self.library}/{self.item.name}"
        return self.vm.path

    def destroy(self) -> None:
        for path in self.files:
            try:
                os.remove(path)
            except FileNotFoundError:
                pass
        with VSPHERE.open(self.settings) as driver:
            driver.login()
            if self.item is not None:
                driver.delete_library_item(self.item.id)
                return
            found = driver.vm_by_id(self.vm.id)
            if found is not None and (not self.vm.uuid or found.uuid == self.vm.uuid):
                driver.destroy_vm(found)
