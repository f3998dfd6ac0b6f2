"""The vSphere artifact: a VM or template in the inventory (and an export's files).

`id` is the VM's name as 1.6.6 gives it; `string()` its inventory path (`/DC0/vm/f/name`);
state `inventory_path`, `vm_id` (managed object id), `generated_data`. `destroy()` opens
a new session from the settings (never a live one) and destroys the VM or template, and
removes the exported files.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from builder.artifact import Artifact
from builder.vsphere.common.driver import VSPHERE, VMRef, VSphereSettings

BUILDER_ID = "jetbrains.vsphere"


class VSphereArtifact(Artifact):
    def __init__(
        self,
        vm: VMRef,
        settings: VSphereSettings,
        files: Sequence[str] = (),
        generated_data: dict[str, Any] | None = None,
    ):
        state = {"generated_data": generated_data, "inventory_path": vm.path, "vm_id": vm.id}
        super().__init__(BUILDER_ID, vm.name, list(files), state=state)
        self.vm, self.settings = vm, settings

    def string(self) -> str:
        return self.vm.path

    def destroy(self) -> None:
        for path in self.files:
            try:
                os.remove(path)
            except FileNotFoundError:
                pass
        with VSPHERE.open(self.settings) as driver:
            driver.login()
            found = driver.vm_by_id(self.vm.id)
            if found is not None and (not self.vm.uuid or found.uuid == self.vm.uuid):
                driver.destroy_vm(found)
