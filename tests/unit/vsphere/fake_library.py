"""FakeContentLibrary: the content library half of the VSphereDriver Protocol, in memory.

Mixed into both fake drivers. `libraries` by name (id, type); `items` by id; the import's
template VM of a VM template item is not modelled. `library_fail[op] = exc` makes that
operation raise once; `library_calls` lists the operations in order; `rest_sessions` counts
open REST sessions (opened by the first library call, ended by end_library_session).
"""

from __future__ import annotations

import itertools

from builder.errors import DriverError
from builder.vsphere.common.driver import ContentLibrary, LibraryItem, TemplateItemSpec, VMRef


class FakeContentLibrary:
    def _library_init(self) -> None:
        self.libraries: dict[str, ContentLibrary] = {
            "lib": ContentLibrary("lib-1", "lib", "LOCAL"),
            "subscribed": ContentLibrary("lib-2", "subscribed", "SUBSCRIBED"),
        }
        self.items: dict[str, LibraryItem] = {}
        self.item_sources: dict[str, str] = {}  # item id -> the VM id it was made from
        self.template_specs: list[TemplateItemSpec] = []
        self.library_fail: dict[str, Exception] = {}
        self.library_calls: list[str] = []
        self.rest_sessions = 0
        self._item_ids = itertools.count(1)

    def _lib_op(self, name: str) -> None:
        self.library_calls.append(name)
        if not self.rest_sessions:
            self.rest_sessions = 1
        if name in self.library_fail:
            raise self.library_fail.pop(name)

    def find_library(self, name: str) -> ContentLibrary:
        self._lib_op("find_library")
        if name not in self.libraries:
            raise DriverError(f"library name ({name}) not found")
        return self.libraries[name]

    def find_library_item(self, library_id: str, name: str) -> LibraryItem | None:
        self._lib_op("find_library_item")
        return next(
            (i for i in self.items.values() if i.library_id == library_id and i.name == name),
            None,
        )

    def library_item(self, item_id: str) -> LibraryItem | None:
        self._lib_op("library_item")
        return self.items.get(item_id)

    def _new_item(self, vm: VMRef, library_id: str, name: str, kind: str) -> str:
        item = LibraryItem(f"item-{next(self._item_ids)}", name, library_id, kind)
        self.items[item.id] = item
        self.item_sources[item.id] = vm.id
        return item.id

    def create_ovf_item(self, vm: VMRef, library_id: str, name: str, item_id: str = "") -> str:
        self._lib_op("create_ovf_item")
        if item_id:
            if item_id not in self.items:
                raise DriverError("POST /rest/com/vmware/vcenter/ovf/library-item: 404 Not Found")
            self.item_sources[item_id] = vm.id
            return item_id
        return self._new_item(vm, library_id, name, "ovf")

    def create_template_item(self, vm: VMRef, library_id: str, spec: TemplateItemSpec) -> str:
        self._lib_op("create_template_item")
        self.template_specs.append(spec)
        return self._new_item(vm, library_id, spec.name, "vm-template")

    def delete_library_item(self, item_id: str) -> bool:
        self._lib_op("delete_library_item")
        self.item_sources.pop(item_id, None)
        return self.items.pop(item_id, None) is not None

    def end_library_session(self) -> None:
        self.library_calls.append("end_library_session")
        self.rest_sessions = 0
