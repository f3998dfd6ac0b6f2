"""What pybuild asks of a vCenter (`VSphereDriver`), in our words, and how to reach it.

No pyVmomi here: `builder.vsphere.common.sdk.PyVmomiDriver` implements the Protocol and
is imported only when the first driver is made through `VSPHERE`, the platform's one
DriverFactory (tests: `VSPHERE.override(lambda settings: FakeVSphereDriver(...))`).

API for both builders (stable; the iso builder builds on it):

- `VSphereSettings`: how to reach the server (the password is a secret field).
- a driver is made without touching the network; `login(on_new_session)` opens the
  session (StepConnect calls it and records it in the ledger), `logout()` ends it,
  `close()` logs out if still logged in (safe twice).
- VMs are named by `VMRef` (managed object id + inventory path), made by `clone_vm`
  or `create_vm`; every other VM call takes the `VMRef`.
- Content libraries go over the vSphere Automation REST API (`/rest`), in a REST session of
  its own opened by the first library call and ended by `end_library_session()` (or logout).
- Names that do not exist raise `NotFound` (a DriverError) listing the names that
  exist and the closest one; every other SDK failure is a `DriverError` naming the
  operation. A lost session raises `SessionLost` once; the next call logs in again.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Protocol

from builder.common.drivers import DriverFactory, secret
from builder.common.names import closest
from builder.errors import DriverError

if TYPE_CHECKING:
    from builder.multistep import CancelToken

__all__ = [
    "VSPHERE",
    "CloneSpec",
    "ContentLibrary",
    "CreateSpec",
    "CustomizeSpec",
    "DiskSpec",
    "ExportedFile",
    "HardwareSpec",
    "LibraryItem",
    "LinuxPrep",
    "NicCustomization",
    "NicSpec",
    "NotFound",
    "Placement",
    "SessionLost",
    "StorageSpec",
    "TemplateItemSpec",
    "UsbKeyEvent",
    "VMInfo",
    "VMRef",
    "VSphereDriver",
    "VSphereSettings",
    "closest",
]

# The custom attribute that carries a build's run id while the VM is temporary.
RUN_ATTRIBUTE = "pybuild-run-id"


@dataclass(frozen=True)
class VSphereSettings:
    """Where a build logs in: `vcenter_server` (host[:port]), the user, the datacenter."""

    vcenter_server: str = ""
    username: str = ""
    password: str = secret()
    insecure_connection: bool = False
    datacenter: str = ""

    @classmethod
    def from_record(
        cls, recorded: Mapping[str, Any], environ: Mapping[str, str] | None = None
    ) -> VSphereSettings:
        """The settings a ledger recorded; the password (never recorded) from the
        environment: VSPHERE_PASSWORD, else GOVC_PASSWORD (VSPHERE_USERNAME/GOVC_USERNAME
        when the ledger names no user)."""
        env = os.environ if environ is None else environ
        known = {f.name for f in fields(cls)} - {"password"}
        values = {k: v for k, v in recorded.items() if k in known}
        if not values.get("username"):
            values["username"] = env.get("VSPHERE_USERNAME") or env.get("GOVC_USERNAME", "")
        password = env.get("VSPHERE_PASSWORD") or env.get("GOVC_PASSWORD", "")
        return cls(password=password, **values)


# ------------------------------------------------------------------ errors
class NotFound(DriverError):
    """A named object does not exist; `names` are those that do, `closest` the likeliest."""

    def __init__(self, kind: str, name: str, names: Sequence[str] = ()):
        self.kind, self.name, self.names = kind, name, list(names)
        self.closest = closest(name, self.names)
        text = f"{kind} '{name}' not found"
        if self.names:
            text += f"; the {kind}s that exist: {', '.join(sorted(self.names))}"
        if self.closest:
            text += f" (did you mean '{self.closest}'?)"
        super().__init__(text)


class SessionLost(DriverError):
    """The server no longer knows the session (expired, terminated, server restarted)."""


# ------------------------------------------------------------------ records
@dataclass(frozen=True)
class VMRef:
    """A VM (or template): its managed object id (`vm-42`) and inventory path."""

    id: str
    path: str = ""  # /DC0/vm/folder/name
    uuid: str = ""  # config.instanceUuid

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Placement:
    """Where a new VM goes (the location options, names as the user wrote them)."""

    folder: str = ""
    cluster: str = ""
    host: str = ""
    resource_pool: str = ""
    datastore: str = ""


@dataclass(frozen=True)
class DiskSpec:
    """One `storage` entry: size in MB and its controller (index into controller types)."""

    size_mb: int
    thin_provisioned: bool = False
    eagerly_scrub: bool = False
    controller_index: int = 0


@dataclass(frozen=True)
class StorageSpec:
    """`disk_controller_type` (e.g. ("pvscsi",)) and `storage` disks to add."""

    controller_types: tuple[str, ...] = ()
    disks: tuple[DiskSpec, ...] = ()


@dataclass(frozen=True)
class NicSpec:
    """One `network_adapters` entry of vsphere-iso."""

    network: str = ""
    card: str = "vmxnet3"
    mac_address: str = ""
    passthrough: bool = False


@dataclass(frozen=True)
class CloneSpec:
    """vsphere-clone's clone call: template, name and place, and what changes on the way."""

    template: str
    name: str
    placement: Placement
    linked_clone: bool = False
    network: str = ""
    mac_address: str = ""
    annotation: str = ""
    vapp_properties: tuple[tuple[str, str], ...] = ()
    storage: StorageSpec = StorageSpec()
    run_id: str = ""  # set as RUN_ATTRIBUTE on the clone, so cleanup can find it


@dataclass(frozen=True)
class CreateSpec:
    """vsphere-iso's create call."""

    name: str
    placement: Placement
    guest_os_type: str = "otherGuest"
    version: int = 0  # vmx-N; 0: the host's default
    annotation: str = ""
    storage: StorageSpec = StorageSpec()
    nics: tuple[NicSpec, ...] = ()
    usb_controllers: tuple[str, ...] = ()  # "usb" | "xhci"
    firmware: str = ""  # bios | efi | efi-secure
    run_id: str = ""


@dataclass(frozen=True)
class HardwareSpec:
    """The hardware options; zero/False/"" leaves a setting as the VM has it."""

    cpus: int = 0
    cpu_cores: int = 0
    cpu_reservation: int = 0
    cpu_limit: int = 0
    cpu_hot_plug: bool = False
    ram_mb: int = 0
    ram_reservation: int = 0
    ram_reserve_all: bool = False
    ram_hot_plug: bool = False
    video_ram_kb: int = 0
    vgpu_profile: str = ""
    nested_hv: bool = False
    firmware: str = ""
    force_bios_setup: bool = False


@dataclass(frozen=True)
class LinuxPrep:
    domain: str
    host_name: str
    hw_clock_utc: bool = True
    time_zone: str = "UTC"


@dataclass(frozen=True)
class NicCustomization:
    """One `network_interface`: a fixed IPv4/IPv6 address (DHCP when none) and DNS."""

    ipv4_address: str = ""
    ipv4_netmask: int = 0
    ipv4_gateway: str = ""
    ipv6_address: str = ""
    ipv6_netmask: int = 0
    ipv6_gateway: str = ""
    dns_server_list: tuple[str, ...] = ()
    dns_domain: str = ""


@dataclass(frozen=True)
class CustomizeSpec:
    """Guest customization: Linux prep or a sysprep text, per-NIC and global settings."""

    linux: LinuxPrep | None = None
    sysprep_text: str = field(default="", repr=False)
    nics: tuple[NicCustomization, ...] = ()
    dns_server_list: tuple[str, ...] = ()
    dns_suffix_list: tuple[str, ...] = ()


@dataclass(frozen=True)
class VMInfo:
    """What the builders and tests read back about a VM."""

    ref: VMRef
    power_state: str = "poweredOff"  # poweredOn | poweredOff | suspended
    template: bool = False
    cpus: int = 0
    cpu_cores: int = 0
    ram_mb: int = 0
    annotation: str = ""
    guest_ips: tuple[str, ...] = ()
    snapshots: tuple[str, ...] = ()
    vapp_properties: tuple[str, ...] = ()  # ids of the properties it has
    extra_config: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class UsbKeyEvent:
    """One key event for PutUsbScanCodes: a HID usage code and the modifiers held."""

    usage: int
    down: bool = True
    left_shift: bool = False
    left_control: bool = False
    left_alt: bool = False
    left_gui: bool = False
    right_shift: bool = False
    right_control: bool = False
    right_alt: bool = False
    right_gui: bool = False


@dataclass(frozen=True)
class ExportedFile:
    """A file the export lease served, written to `path` (size in bytes)."""

    path: str
    device_id: str
    size: int


@dataclass(frozen=True)
class ContentLibrary:
    """A content library: its id, name and type (LOCAL | SUBSCRIBED)."""

    id: str
    name: str
    type: str = "LOCAL"


@dataclass(frozen=True)
class LibraryItem:
    """A library item: id, name, its library's id and type ("ovf" | "vm-template")."""

    id: str
    name: str
    library_id: str
    type: str


@dataclass(frozen=True)
class TemplateItemSpec:
    """A VM template (vmtx) library item made from a VM: its name, description and where
    the template VM goes (names as the user wrote them; "" leaves vCenter's default)."""

    name: str
    description: str = ""
    placement: Placement = Placement()


OnSession = Callable[[str, str], None]  # (old session digest, new session digest)


class VSphereDriver(Protocol):
    """One build's vCenter session and every call the vSphere builders make."""

    # session
    def login(self, on_new_session: OnSession | None = None) -> str:
        """Log in and select the datacenter; the session's digest (never the key itself).

        `on_new_session(old, new)` is called when a lost session is replaced later."""

    def logout(self) -> None:
        """End the session (nothing when not logged in)."""

    def session_digest(self) -> str:
        """`sha256:<hex>` of the current session key ("" when not logged in)."""

    def terminate_session(self, digest: str) -> bool:
        """End another session of this user by its digest; False when it is gone."""

    @property
    def datacenter(self) -> str:
        """The datacenter's name (the configured one, or the only one)."""

    # inventory
    def find_vm(self, path: str) -> VMRef | None:
        """A VM or template by name or path (relative to the datacenter's vm folder)."""

    def vm_by_id(self, id: str) -> VMRef | None: ...
    def vms_with_run_id(self) -> list[tuple[VMRef, str]]:
        """Every VM carrying RUN_ATTRIBUTE, with its value (for cleanup's sweep)."""

    def vm_info(self, vm: VMRef) -> VMInfo: ...
    def vm_directory(self, vm: VMRef) -> str:
        """The VM's folder on its datastore (from `[ds] dir/name.vmx`), as 1.6.6's GetDir."""

    # make and change VMs
    def clone_vm(self, spec: CloneSpec, cancel: CancelToken) -> VMRef: ...
    def create_vm(self, spec: CreateSpec) -> VMRef: ...
    def resize_disk(self, vm: VMRef, size_mb: int) -> None: ...
    def configure_hardware(self, vm: VMRef, spec: HardwareSpec) -> None: ...
    def add_config_params(
        self, vm: VMRef, params: Mapping[str, str], sync_time: bool, upgrade_at_power_cycle: bool
    ) -> None: ...
    def customize(self, vm: VMRef, spec: CustomizeSpec) -> None: ...
    def add_public_keys(self, vm: VMRef, keys: str) -> None:
        """Set the `public-keys` vApp property (a temporary SSH key for the guest)."""

    def set_boot_order(self, vm: VMRef, order: Sequence[str]) -> None:
        """Boot order by device kinds (floppy, cdrom, ethernet, disk); ["-"] clears it."""

    def set_run_id(self, vm: VMRef, run_id: str) -> None:
        """Set RUN_ATTRIBUTE ("" clears it: the VM is an artifact now)."""

    # power and guest
    def power_on(self, vm: VMRef) -> None: ...
    def power_off(self, vm: VMRef) -> None:
        """Power off (nothing when already off)."""

    def power_state(self, vm: VMRef) -> str: ...
    def shutdown_guest(self, vm: VMRef) -> None:
        """Ask VMware Tools to shut the guest down (returns at once)."""

    def guest_ips(self, vm: VMRef) -> list[str]:
        """The addresses VMware Tools reports (guest.net), in order; [] when none yet."""

    def put_usb_scan_codes(self, vm: VMRef, events: Sequence[UsbKeyEvent]) -> int:
        """Type key events (PutUsbScanCodes); how many the server says it typed."""

    # devices (vsphere-iso)
    def add_cdrom(self, vm: VMRef, controller: str, iso_path: str) -> None:
        """A CD-ROM on an IDE (or "sata") controller, with `[ds] path` inserted if given."""

    def add_sata_controller(self, vm: VMRef) -> bool:
        """Add a SATA controller unless the VM has one; True when one was added."""

    def eject_cdroms(self, vm: VMRef) -> None: ...
    def remove_cdroms(self, vm: VMRef) -> None: ...
    def add_floppy(self, vm: VMRef, image_path: str) -> None: ...
    def remove_floppies(self, vm: VMRef) -> None: ...

    # snapshot, template, export, destroy
    def create_snapshot(self, vm: VMRef, name: str) -> None: ...
    def mark_as_template(self, vm: VMRef) -> None: ...
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
        """Export through an OVF lease: (descriptor text, files written, unknown options)."""

    def destroy_vm(self, vm: VMRef) -> bool:
        """Power off and destroy; False when it was already gone."""

    # content library (REST)
    def find_library(self, name: str) -> ContentLibrary:
        """The library called exactly `name`; a DriverError naming those that exist."""

    def find_library_item(self, library_id: str, name: str) -> LibraryItem | None: ...
    def library_item(self, item_id: str) -> LibraryItem | None: ...
    def create_ovf_item(self, vm: VMRef, library_id: str, name: str, item_id: str = "") -> str:
        """An OVF template of the VM in a new item (or in `item_id`, updated); the item's id."""

    def create_template_item(self, vm: VMRef, library_id: str, spec: TemplateItemSpec) -> str:
        """A VM template item cloned from the VM; the item's id."""

    def delete_library_item(self, item_id: str) -> bool:
        """Delete an item (a VM template item's template VM with it); False when gone."""

    def end_library_session(self) -> None:
        """Log the REST session out (nothing when none is open)."""

    # datastore files
    def datastore_names(self) -> list[str]: ...
    def upload_file(
        self, local_path: str, datastore: str, remote_path: str, host: str, cancel: CancelToken
    ) -> str:
        """HTTPS PUT to `[datastore] remote_path` (via `host` when set); that path."""

    def delete_file(self, datastore: str, remote_path: str) -> bool:
        """Delete a datastore file; False when it was not there."""

    def file_exists(self, datastore: str, remote_path: str) -> bool: ...

    def close(self) -> None:
        """Log out if still logged in; safe twice."""


# The one way a driver is made: `VSPHERE.open(settings)`; tests `VSPHERE.override(...)`.
VSPHERE = DriverFactory[VSphereSettings, VSphereDriver](
    "vsphere", "builder.vsphere.common.sdk:PyVmomiDriver"
)
