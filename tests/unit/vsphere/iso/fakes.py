"""FakeISODriver: a stateful fake of the VSphereDriver Protocol for vsphere-iso unit tests.

It keeps an inventory (VMs by id with their devices, power state, template flag),
datastore files, the USB key events typed, and every call in order. `fail[method]`
makes a method raise a DriverError; `on_power_on` lets a test act as the guest.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

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
    VSphereSettings,
)
from tests.unit.vsphere.fake_library import FakeContentLibrary

if TYPE_CHECKING:
    from builder.multistep import CancelToken
    from builder.vsphere.common.driver import VSphereDriver


@dataclass
class FakeVM:
    ref: VMRef
    spec: CreateSpec
    power: str = "poweredOff"
    template: bool = False
    hardware: HardwareSpec | None = None
    cdroms: list[tuple[str, str]] = field(default_factory=list)  # (controller, backing)
    sata: int = 0
    floppies: list[str] = field(default_factory=list)
    boot_order: list[str] = field(default_factory=list)
    extra_config: dict[str, str] = field(default_factory=dict)
    run_id: str = ""
    snapshots: list[str] = field(default_factory=list)
    ips: list[str] = field(default_factory=list)


class FakeISODriver(FakeContentLibrary):
    """What a vCenter with datacenter DC0 and datastore LocalDS_0 would do, in memory."""

    datastores: tuple[str, ...] = ("LocalDS_0",)
    networks: tuple[str, ...] = ("VM Network", "DC0_DVPG0")

    def __init__(self, settings: VSphereSettings | None = None) -> None:
        self.settings = settings or VSphereSettings()
        self.vms: dict[str, FakeVM] = {}
        self.files: dict[tuple[str, str], bytes] = {}
        self.typed: list[list[UsbKeyEvent]] = []
        self.calls: list[str] = []
        self.fail: dict[str, str] = {}
        self.on_power_on: Callable[[FakeVM], None] | None = None
        self.on_upload: Callable[[str, str], None] | None = None
        # plays the installer: power the VM off once this many keys were typed
        self.halt_after_keys: int | None = None
        # ... or once the build has seen it powered on this many times (waiting for it)
        self.halt_after_polls: int | None = None
        self.polls = 0
        self.logged_in = False
        self.closed = 0
        self._ids = itertools.count(100)
        self._library_init()

    # the factory's callable: VSPHERE.override(fake.open)
    def open(self, settings: VSphereSettings) -> VSphereDriver:
        self.settings = settings
        return self

    def _call(self, name: str, detail: str = "") -> None:
        self.calls.append(f"{name} {detail}".strip())
        if name in self.fail:
            raise DriverError(self.fail[name])

    def _vm(self, vm: VMRef) -> FakeVM:
        if vm.id not in self.vms:
            raise DriverError(f"managed object {vm.id} has already been deleted")
        return self.vms[vm.id]

    # session
    def login(self, on_new_session: OnSession | None = None) -> str:
        self._call("login")
        self.logged_in = True
        return "sha256:fake"

    def logout(self) -> None:
        self.calls.append("logout")
        self.logged_in = False

    def session_digest(self) -> str:
        return "sha256:fake" if self.logged_in else ""

    def terminate_session(self, digest: str) -> bool:
        return False

    @property
    def datacenter(self) -> str:
        return self.settings.datacenter or "DC0"

    # inventory
    def find_vm(self, path: str) -> VMRef | None:
        self._call("find_vm", path)
        for vm in self.vms.values():
            if vm.ref.path.endswith("/vm/" + path.strip("/")):
                return vm.ref
        return None

    def vm_by_id(self, id: str) -> VMRef | None:
        vm = self.vms.get(id)
        return vm.ref if vm else None

    def vms_with_run_id(self) -> list[tuple[VMRef, str]]:
        return [(v.ref, v.run_id) for v in self.vms.values() if v.run_id]

    def vm_directory(self, vm: VMRef) -> str:
        return vm.name  # the simulator's layout: [ds] <name>/<name>.vmx

    def vm_info(self, vm: VMRef) -> VMInfo:
        v = self._vm(vm)
        hw = v.hardware or HardwareSpec()
        return VMInfo(
            ref=v.ref,
            power_state=v.power,
            template=v.template,
            cpus=hw.cpus or 1,
            cpu_cores=hw.cpu_cores,
            ram_mb=hw.ram_mb or 32,
            annotation=v.spec.annotation,
            guest_ips=tuple(v.ips),
            snapshots=tuple(v.snapshots),
            extra_config=tuple(sorted(v.extra_config.items())),
        )

    # make and change VMs
    def clone_vm(self, spec: CloneSpec, cancel: CancelToken) -> VMRef:
        raise DriverError("the iso fake does not clone")

    def create_vm(self, spec: CreateSpec) -> VMRef:
        self._call("create_vm", spec.name)
        for nic in spec.nics:
            if nic.network and nic.network not in self.networks:
                raise NotFound("network", nic.network, self.networks)
        ds = spec.placement.datastore or self.datastores[0]
        if ds not in self.datastores:
            raise NotFound("datastore", ds, self.datastores)
        folder = f"/{self.datacenter}/vm" + (
            f"/{spec.placement.folder}" if spec.placement.folder else ""
        )
        ref = VMRef(f"vm-{next(self._ids)}", f"{folder}/{spec.name}", f"uuid-{spec.name}")
        self.vms[ref.id] = FakeVM(ref, spec, run_id=spec.run_id)
        self.files[(ds, f"{spec.name}/{spec.name}.vmx")] = b"vmx"
        return ref

    def resize_disk(self, vm: VMRef, size_mb: int) -> None:
        self._call("resize_disk")

    def configure_hardware(self, vm: VMRef, spec: HardwareSpec) -> None:
        self._call("configure_hardware")
        self._vm(vm).hardware = spec

    def add_config_params(
        self, vm: VMRef, params: Mapping[str, str], sync_time: bool, upgrade_at_power_cycle: bool
    ) -> None:
        self._call("add_config_params")
        self._vm(vm).extra_config.update(params)

    def customize(self, vm: VMRef, spec: CustomizeSpec) -> None:
        self._call("customize")

    def add_public_keys(self, vm: VMRef, keys: str) -> None:
        self._call("add_public_keys")

    def set_boot_order(self, vm: VMRef, order: Sequence[str]) -> None:
        v = self._vm(vm)
        self._call("set_boot_order", ",".join(order))
        if v.template:
            raise DriverError("NotSupported: the VM is a template")
        v.boot_order = [] if list(order) == ["-"] else list(order)

    def set_run_id(self, vm: VMRef, run_id: str) -> None:
        self._call("set_run_id", run_id or "-")
        self._vm(vm).run_id = run_id

    # power and guest
    def power_on(self, vm: VMRef) -> None:
        v = self._vm(vm)
        self._call("power_on")
        v.power = "poweredOn"
        if self.on_power_on is not None:
            self.on_power_on(v)

    def power_off(self, vm: VMRef) -> None:
        v = self._vm(vm)
        self._call("power_off")
        v.power = "poweredOff"

    def power_state(self, vm: VMRef) -> str:
        v = self._vm(vm)
        state = v.power
        if state == "poweredOn":
            self.polls += 1
            if self.halt_after_polls is not None and self.polls >= self.halt_after_polls:
                v.power = "poweredOff"
        return state

    def shutdown_guest(self, vm: VMRef) -> None:
        self._call("shutdown_guest")
        self._vm(vm).power = "poweredOff"

    def guest_ips(self, vm: VMRef) -> list[str]:
        return list(self._vm(vm).ips)

    def put_usb_scan_codes(self, vm: VMRef, events: Sequence[UsbKeyEvent]) -> int:
        self._vm(vm)
        self._call("put_usb_scan_codes", str(len(events)))
        self.typed.append(list(events))
        if self.halt_after_keys is not None and sum(map(len, self.typed)) >= self.halt_after_keys:
            self._vm(vm).power = "poweredOff"
        return len(events)

    # devices
    def add_cdrom(self, vm: VMRef, controller: str, iso_path: str) -> None:
        v = self._vm(vm)
        self._call("add_cdrom", f"{controller} {iso_path}")
        if controller == "sata" and not v.sata:
            raise DriverError("no available SATA controller")
        v.cdroms.append((controller, iso_path))

    def add_sata_controller(self, vm: VMRef) -> bool:
        self._call("add_sata_controller")
        v = self._vm(vm)
        if v.sata:
            return False
        v.sata += 1
        return True

    def eject_cdroms(self, vm: VMRef) -> None:
        self._call("eject_cdroms")
        v = self._vm(vm)
        v.cdroms = [(c, "") for c, _ in v.cdroms]

    def remove_cdroms(self, vm: VMRef) -> None:
        self._call("remove_cdroms")
        v = self._vm(vm)
        v.cdroms, v.sata = [], 0

    def add_floppy(self, vm: VMRef, image_path: str) -> None:
        self._call("add_floppy", image_path)
        self._vm(vm).floppies.append(image_path)

    def remove_floppies(self, vm: VMRef) -> None:
        self._call("remove_floppies")
        self._vm(vm).floppies = []

    # snapshot, template, export, destroy
    def create_snapshot(self, vm: VMRef, name: str) -> None:
        self._call("create_snapshot", name)
        self._vm(vm).snapshots.append(name)

    def mark_as_template(self, vm: VMRef) -> None:
        v = self._vm(vm)
        self._call("mark_as_template")
        if v.power != "poweredOff":
            raise DriverError("InvalidPowerState: the VM is powered on")
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
        raise DriverError("the iso fake does not export")

    def destroy_vm(self, vm: VMRef) -> bool:
        self._call("destroy_vm", vm.path)
        v = self.vms.pop(vm.id, None)
        if v is None:
            return False
        for key in [k for k in self.files if k[1].startswith(f"{v.spec.name}/")]:
            if not key[1].endswith(".flp"):
                del self.files[key]
        return True

    # datastore files
    def datastore_names(self) -> list[str]:
        return list(self.datastores)

    def upload_file(
        self, local_path: str, datastore: str, remote_path: str, host: str, cancel: CancelToken
    ) -> str:
        self._call("upload_file", f"[{datastore}] {remote_path}")
        if datastore not in self.datastores:
            raise NotFound("datastore", datastore, self.datastores)
        with open(local_path, "rb") as f:
            data = f.read()
        self.files[(datastore, remote_path)] = data
        if self.on_upload is not None:
            self.on_upload(datastore, remote_path)
        return f"[{datastore}] {remote_path}"

    def delete_file(self, datastore: str, remote_path: str) -> bool:
        self._call("delete_file", f"[{datastore}] {remote_path}")
        return self.files.pop((datastore, remote_path), None) is not None

    def file_exists(self, datastore: str, remote_path: str) -> bool:
        self._call("file_exists", f"[{datastore}] {remote_path}")
        return (datastore, remote_path) in self.files

    def close(self) -> None:
        self.closed += 1
        self.logged_in = False


def _check(driver: FakeISODriver) -> VSphereDriver:
    """mypy: the fake satisfies the Protocol."""
    return driver


def remote_names(driver: FakeISODriver) -> list[str]:
    """Datastore files other than the VMs' own, as `[ds] path`, sorted."""
    return sorted(f"[{ds}] {p}" for ds, p in driver.files if not os.path.splitext(p)[1] == ".vmx")
