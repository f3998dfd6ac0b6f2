"""FakeVSphereDriver: a stateful fake of OUR VSphereDriver Protocol (no pyVmomi, no network).

A small inventory (DC0, cluster DC0_C0, datastore LocalDS_0, networks, a template VM);
every call is recorded in `calls`; `fail[op] = exc` makes that operation raise once;
`ip_script` is what successive `guest_ips` calls answer (the last one repeats);
`uploaded` keeps every file ever uploaded (`files` loses the deleted ones).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from builder.errors import DriverError
from builder.vsphere.common.driver import (
    CloneSpec,
    CreateSpec,
    CustomizeSpec,
    ExportedFile,
    HardwareSpec,
    NotFound,
    OnSession,
    UsbKeyEvent,
    VMInfo,
    VMRef,
    VSphereDriver,
    VSphereSettings,
)
from tests.unit.vsphere.fake_library import FakeContentLibrary

if TYPE_CHECKING:
    from builder.multistep import CancelToken


@dataclass
class FakeVM:
    ref: VMRef
    power: str = "poweredOff"
    template: bool = False
    cpus: int = 1
    ram_mb: int = 32
    annotation: str = ""
    run_id: str = ""
    snapshots: list[str] = field(default_factory=list)
    extra: dict[str, str] = field(default_factory=dict)
    customized: CustomizeSpec | None = None
    boot_order: list[str] = field(default_factory=list)
    cdroms: list[str] = field(default_factory=list)  # each drive's image ("" once ejected)
    floppies: list[str] = field(default_factory=list)


class FakeVSphereDriver(FakeContentLibrary):
    def __init__(self, settings: VSphereSettings | None = None, password: str = "pw"):
        self.settings = settings or VSphereSettings("vc.test:443", "user", "pw", True, "DC0")
        self.password = password
        self.calls: list[tuple[str, Any]] = []
        self.fail: dict[str, Exception] = {}
        self.ip_script: list[list[str]] = [["127.0.0.1"]]
        self.ip_calls = 0
        self.vms: dict[str, FakeVM] = {}
        self.files: dict[tuple[str, str], bytes] = {}
        self.uploaded: dict[tuple[str, str], bytes] = {}
        self.sessions: set[str] = set()
        self.session = ""
        self.keys: list[UsbKeyEvent] = []
        self.closed = 0
        self._ids = itertools.count(100)
        self._sessions = itertools.count(1)
        self._library_init()
        self.add_vm("DC0_C0_RP0_VM0", power="poweredOn")

    def open(self, settings: VSphereSettings) -> FakeVSphereDriver:
        """The factory for `VSPHERE.override`: this same fake for every driver made."""
        self.settings = settings
        return self

    def add_vm(self, path: str, **kw: Any) -> FakeVM:
        ref = VMRef(f"vm-{next(self._ids)}", f"/DC0/vm/{path}", f"uuid-{path}")
        vm = FakeVM(ref, **kw)
        self.vms[ref.id] = vm
        return vm

    def _op(self, name: str, arg: Any = None) -> None:
        self.calls.append((name, arg))
        if name in self.fail:
            raise self.fail.pop(name)

    def ops(self) -> list[str]:
        return [name for name, _ in self.calls]

    def _get(self, ref: VMRef) -> FakeVM:
        vm = self.vms.get(ref.id)
        if vm is None:
            raise DriverError(f"{ref.id}: ManagedObjectNotFound")
        return vm

    # session
    def login(self, on_new_session: OnSession | None = None) -> str:
        self._op("login")
        if self.settings.password != self.password:
            raise DriverError("cannot log in: incorrect user name or password")
        if self.settings.datacenter not in ("", "DC0"):
            raise NotFound("datacenter", self.settings.datacenter, ["DC0"])
        self.session = f"sha256:{next(self._sessions):032x}"
        self.sessions.add(self.session)
        return self.session

    def logout(self) -> None:
        self._op("logout")
        self.sessions.discard(self.session)
        self.session = ""

    def session_digest(self) -> str:
        return self.session

    def terminate_session(self, digest: str) -> bool:
        self._op("terminate_session", digest)
        if digest in self.sessions and digest != self.session:
            self.sessions.discard(digest)
            return True
        return False

    @property
    def datacenter(self) -> str:
        return "DC0"

    # inventory
    def find_vm(self, path: str) -> VMRef | None:
        self._op("find_vm", path)
        for vm in self.vms.values():
            if vm.ref.path == f"/DC0/vm/{path.strip('/')}" or vm.ref.name == path:
                return vm.ref
        return None

    def vm_by_id(self, id: str) -> VMRef | None:
        vm = self.vms.get(id)
        return vm.ref if vm else None

    def vms_with_run_id(self) -> list[tuple[VMRef, str]]:
        return [(vm.ref, vm.run_id) for vm in self.vms.values() if vm.run_id]

    def vm_directory(self, vm: VMRef) -> str:
        return vm.name  # the simulator's layout: [ds] <name>/<name>.vmx

    def vm_info(self, vm: VMRef) -> VMInfo:
        v = self._get(vm)
        return VMInfo(vm, v.power, v.template, v.cpus, 1, v.ram_mb, v.annotation,
                      snapshots=tuple(v.snapshots), extra_config=tuple(v.extra.items()))  # fmt: skip

    # make and change VMs
    def clone_vm(self, spec: CloneSpec, cancel: CancelToken) -> VMRef:
        self._op("clone_vm", spec)
        if self.find_vm(spec.template) is None:
            names = [vm.ref.name for vm in self.vms.values()]
            raise NotFound("template", spec.template, names)
        if spec.placement.cluster not in ("", "DC0_C0"):
            raise NotFound("cluster", spec.placement.cluster, ["DC0_C0"])
        if spec.network not in ("", "VM Network", "DC0_DVPG0"):
            raise NotFound("network", spec.network, ["VM Network", "DC0_DVPG0"])
        folder = f"{spec.placement.folder}/" if spec.placement.folder else ""
        vm = self.add_vm(folder + spec.name, annotation=spec.annotation, run_id=spec.run_id)
        return vm.ref

    def create_vm(self, spec: CreateSpec) -> VMRef:
        self._op("create_vm", spec)
        return self.add_vm(spec.name, run_id=spec.run_id).ref

    def resize_disk(self, vm: VMRef, size_mb: int) -> None:
        self._op("resize_disk", size_mb)

    def configure_hardware(self, vm: VMRef, spec: HardwareSpec) -> None:
        self._op("configure_hardware", spec)
        v = self._get(vm)
        v.cpus, v.ram_mb = spec.cpus or v.cpus, spec.ram_mb or v.ram_mb

    def add_config_params(
        self, vm: VMRef, params: Mapping[str, str], sync_time: bool, upgrade_at_power_cycle: bool
    ) -> None:
        self._op("add_config_params", (dict(params), sync_time, upgrade_at_power_cycle))
        self._get(vm).extra.update(params)

    def customize(self, vm: VMRef, spec: CustomizeSpec) -> None:
        self._op("customize", spec)
        self._get(vm).customized = spec

    def add_public_keys(self, vm: VMRef, keys: str) -> None:
        self._op("add_public_keys", keys)

    def set_boot_order(self, vm: VMRef, order: Sequence[str]) -> None:
        self._op("set_boot_order", list(order))
        self._get(vm).boot_order = list(order)

    def set_run_id(self, vm: VMRef, run_id: str) -> None:
        self._op("set_run_id", run_id)
        self._get(vm).run_id = run_id

    # power and guest
    def power_on(self, vm: VMRef) -> None:
        self._op("power_on")
        self._get(vm).power = "poweredOn"

    def power_off(self, vm: VMRef) -> None:
        self._op("power_off")
        self._get(vm).power = "poweredOff"

    def power_state(self, vm: VMRef) -> str:
        return self._get(vm).power

    def shutdown_guest(self, vm: VMRef) -> None:
        self._op("shutdown_guest")
        self._get(vm).power = "poweredOff"

    def guest_ips(self, vm: VMRef) -> list[str]:
        self._op("guest_ips")
        answer = self.ip_script[min(self.ip_calls, len(self.ip_script) - 1)]
        self.ip_calls += 1
        return list(answer)

    def put_usb_scan_codes(self, vm: VMRef, events: Sequence[UsbKeyEvent]) -> int:
        self._op("put_usb_scan_codes", list(events))
        self.keys += events
        return len(events)

    # devices
    def add_cdrom(self, vm: VMRef, controller: str, iso_path: str) -> None:
        self._op("add_cdrom", (controller, iso_path))
        self._get(vm).cdroms.append(iso_path)

    def add_sata_controller(self, vm: VMRef) -> bool:
        self._op("add_sata_controller")
        return True

    def eject_cdroms(self, vm: VMRef) -> None:
        self._op("eject_cdroms")
        v = self._get(vm)
        v.cdroms = ["" for _ in v.cdroms]

    def remove_cdroms(self, vm: VMRef) -> None:
        self._op("remove_cdroms")
        self._get(vm).cdroms = []

    def add_floppy(self, vm: VMRef, image_path: str) -> None:
        self._op("add_floppy", image_path)
        self._get(vm).floppies.append(image_path)

    def remove_floppies(self, vm: VMRef) -> None:
        self._op("remove_floppies")
        self._get(vm).floppies = []

    # finish
    def create_snapshot(self, vm: VMRef, name: str) -> None:
        self._op("create_snapshot", name)
        self._get(vm).snapshots.append(name)

    def mark_as_template(self, vm: VMRef) -> None:
        self._op("mark_as_template")
        v = self._get(vm)
        if v.power != "poweredOff":
            raise DriverError("MarkAsTemplate: InvalidPowerState")
        v.template = True

    def export_ovf(
        self,
        vm: VMRef,
        directory: str,
        name: str,
        images: bool,
        options: Sequence[str],
        on_file: Callable[[str], None],
        cancel: CancelToken,
    ) -> tuple[str, list[ExportedFile], list[str]]:
        import os

        self._op("export_ovf", (directory, name))
        path = os.path.join(directory, f"{name}-disk-0.vmdk")
        on_file(path)
        with open(path, "wb") as f:
            f.write(b"disk")
        unknown = [o for o in options if o != "mac"]
        return "<Envelope/>", [ExportedFile(path, "disk-0", 4)], unknown

    def destroy_vm(self, vm: VMRef) -> bool:
        self._op("destroy_vm", vm.id)
        return self.vms.pop(vm.id, None) is not None

    # datastore files
    def datastore_names(self) -> list[str]:
        return ["LocalDS_0"]

    def upload_file(
        self, local_path: str, datastore: str, remote_path: str, host: str, cancel: CancelToken
    ) -> str:
        self._op("upload_file", (datastore, remote_path))
        with open(local_path, "rb") as f:
            self.files[(datastore, remote_path)] = f.read()
        self.uploaded[(datastore, remote_path)] = self.files[(datastore, remote_path)]
        return f"[{datastore}] {remote_path}"

    def delete_file(self, datastore: str, remote_path: str) -> bool:
        self._op("delete_file", (datastore, remote_path))
        return self.files.pop((datastore, remote_path), None) is not None

    def file_exists(self, datastore: str, remote_path: str) -> bool:
        return (datastore, remote_path) in self.files

    def close(self) -> None:
        self.closed += 1
        if self.session:
            self.logout()


def vm_named(fake: FakeVSphereDriver, name: str) -> FakeVM | None:
    return next((v for v in fake.vms.values() if v.ref.name == name), None)


_checked: VSphereDriver = FakeVSphereDriver()  # mypy: the fake satisfies the Protocol
__all__ = ["FakeVM", "FakeVSphereDriver", "replace", "vm_named"]
