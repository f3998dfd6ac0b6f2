"""How `pybuild cleanup` removes what a vSphere build left, and finds VMs by run id.

Kinds (platform "vsphere"):
- "vm": name = inventory path (recorded before the clone/create call), id = managed object
  id, attrs uuid (instanceUuid) and path. A VM is removed (powered off, destroyed) only
  while its uuid matches; one whose create call was never confirmed only when the VM at
  that path carries this run's id in the `pybuild-run-id` custom attribute.
- "file": a datastore file (attrs datastore, path), deleted.
- "session": a session by the digest of its key; ended with TerminateSession.
- "library_item": a content library item (name = item name, attrs library, library_id,
  type), recorded before the create call, id after; deleted over the REST API. Deleting a
  VM template item deletes its template VM too (vCenter does; so does vcsim: checked by
  the integration tests). An unconfirmed one (the create call never answered) is the item of
  that name in that library: the step records one only when no item of that name exists.
`sweep()` finds VMs that still carry a run id (a finished build clears it).

The password is never in the ledger: pass the template (`pybuild cleanup -template t.json`)
or set VSPHERE_PASSWORD (or GOVC_PASSWORD).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from builder.errors import PybuildError
from builder.ledger import LeftResource
from builder.vsphere.common.driver import VSPHERE, VSphereDriver, VSphereSettings

PLATFORM = "vsphere"


class VSphereRemover:
    def __init__(self, driver: VSphereDriver):
        self.driver = driver

    def remove(self, res: LeftResource) -> bool:
        if res.kind == "vm":
            return self._vm(res)
        if res.kind == "file":
            path = res.attrs.get("path", "")
            datastore = res.attrs.get("datastore", "")
            if not path:  # not confirmed: the name is "[ds] path"
                datastore, _, path = res.name.partition("] ")
                datastore = datastore.lstrip("[")
            return self.driver.delete_file(datastore, path)
        if res.kind == "library_item":
            return self._library_item(res)
        if res.kind == "session":
            if res.state != "created" or not res.id.startswith("sha256:"):
                return False  # the login never answered: no session to end
            return self.driver.terminate_session(res.id)
        raise PybuildError(f"unknown vsphere resource kind {res.kind!r}")

    def _library_item(self, res: LeftResource) -> bool:
        driver = self.driver
        try:
            if res.state == "created" and res.id:
                return driver.delete_library_item(res.id)
            library_id = res.attrs.get("library_id", "")
            found = driver.find_library_item(library_id, res.name) if library_id else None
            return found is not None and driver.delete_library_item(found.id)
        finally:
            driver.end_library_session()

    def _vm(self, res: LeftResource) -> bool:
        driver = self.driver
        if res.state == "created" and res.id:
            found = driver.vm_by_id(res.id)
            uuid = res.attrs.get("uuid", "")
            if found is None or (uuid and found.uuid != uuid):
                return False
            return driver.destroy_vm(found)
        found = driver.find_vm(res.name) if res.name else None
        if found is None:
            return False
        ours = {vm.id for vm, run in driver.vms_with_run_id() if run == res.run_id}
        if found.id not in ours:
            return False  # someone else's VM at that path: never touched
        return driver.destroy_vm(found)

    def sweep(self) -> Iterable[LeftResource]:
        for vm, run_id in self.driver.vms_with_run_id():
            yield LeftResource(
                run_id,
                f"sweep:{vm.id}",
                "",
                PLATFORM,
                "vm",
                name=vm.path,
                id=vm.id,
                attrs={"uuid": vm.uuid, "path": vm.path},
                state="created",
            )


class VSphereHandler:
    """`pybuild cleanup`'s way to the vCenter a build used (a new session, logged out)."""

    @contextmanager
    def open(self, recorded: Mapping[str, Any], full: Any | None) -> Iterator[VSphereRemover]:
        if isinstance(full, VSphereSettings):
            settings = full
        else:
            settings = VSphereSettings.from_record(full if isinstance(full, Mapping) else recorded)
        if not settings.vcenter_server:
            raise PybuildError("no vcenter_server to clean up in: the ledger names none")
        if not settings.password:
            raise PybuildError(
                f"no password for {settings.username}@{settings.vcenter_server}: pass the "
                "template (-template) or set VSPHERE_PASSWORD"
            )
        with VSPHERE.open(settings) as driver:
            driver.login()
            yield VSphereRemover(driver)


HANDLER = VSphereHandler()
