"""The option blocks both vSphere builders share (Packer 1.6.6's names, defaults, checks).

Each block is a PluginConfig a builder's Config inherits (`class CloneConfig(ConnectConfig,
LocationConfig, HardwareConfig, ...)`); its `@config_check` methods run at validate time.
Nested blocks (`export`, `storage`) are models of their own. Blocks:

- ConnectConfig      vcenter_server, username, password (Secret), insecure_connection, datacenter
- LocationConfig     vm_name, folder, cluster, host, resource_pool, datastore,
                     set_host_for_datastore_uploads
- HardwareConfig     CPUs, cpu_cores, CPU_reservation, CPU_limit, CPU_hot_plug, RAM,
                     RAM_reservation, RAM_reserve_all, RAM_hot_plug, video_ram, vgpu_profile,
                     NestedHV, firmware, force_bios_setup
- ConfigParamsConfig configuration_parameters, tools_sync_time, tools_upgrade_policy
- RunConfig          boot_order
- WaitIpConfig       ip_wait_timeout (30m), ip_settle_timeout (5s), ip_wait_address (0.0.0.0/0)
- ShutdownConfig     shutdown_command, shutdown_timeout (5m), disable_shutdown
- SnapshotConfig     create_snapshot, snapshot_name
- TemplateConfig     convert_to_template
- ExportConfig       the `export` block: name, force, images, manifest, output_directory,
                     directory_permission, options   (ExportBlock: `export` on a builder)
- CDRomConfig        cdrom_type, iso_paths
- RemoveCDRomConfig  remove_cdrom
- VSphereBootConfig  boot_command, boot_wait, boot_keygroup_interval, http_* and http_ip
- VSphereFloppyConfig floppy_files, floppy_dirs, floppy_label (the shared media block) and
                     floppy_img_path, a datastore image mounted as it is
- VSphereConfig      all of the above, cd_files/cd_label (the shared CDConfig) and the
                     communicator: the base of both builders' configs (vsphere-iso adds
                     StorageConfig and the ISO block)
- ContentLibraryDestinationConfig  the `content_library_destination` block: library, name,
                     description, cluster, folder, host, resource_pool, datastore, destroy, ovf
                     (1.6.6's Prepare defaulting: `resolve_content_library`)
- StorageConfig      disk_controller_type, storage[] (DiskConfig: disk_size,
                     disk_thin_provisioned, disk_eagerly_scrub, disk_controller_index)

`notes` is each builder's own option (1.6.6 declares it in clone's and iso's configs).
`vTPM` is not here: 1.6.6 has no vTPM.
"""

from __future__ import annotations

import ipaddress
import os
import posixpath
import time
from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator

from builder.common.boot.config import BootConfig
from builder.common.http.config import HTTPConfig
from builder.common.media.config import CDConfig, FloppyConfig
from builder.common.steps.shutdown import ShutdownConfig as BaseShutdownConfig
from builder.communicator.config import CommunicatorConfig
from builder.config import (
    Duration,
    PluginConfig,
    Secret,
    StrList,
    config_check,
    option_error,
)
from builder.errors import TemplateError

DEFAULT_IP_WAIT_TIMEOUT = 30 * 60.0
DEFAULT_IP_SETTLE_TIMEOUT = 5.0
DEFAULT_IP_WAIT_ADDRESS = "0.0.0.0/0"
DEFAULT_SNAPSHOT_NAME = "Created by Packer"
FIRMWARES = ("bios", "efi", "efi-secure")
MANIFESTS = ("none", "sha1", "sha256", "sha512")
BOOT_DEVICES = ("floppy", "cdrom", "ethernet", "disk", "-")


class ConnectConfig(PluginConfig):
    """How to reach vCenter (or ESXi)."""

    vcenter_server: str = ""
    username: str = ""
    password: Secret = ""
    insecure_connection: bool = False
    datacenter: str = ""

    @config_check
    def check_connect(self) -> list[TemplateError]:
        errors = []
        for name in ("vcenter_server", "username", "password"):
            if not getattr(self, name):
                errors.append(option_error(f"'{name}' is required", name))
        return errors


class LocationConfig(PluginConfig):
    """Where the VM goes; `folder` is cleaned as Packer does (no leading slash)."""

    vm_name: str = ""
    folder: str = ""
    cluster: str = ""
    host: str = ""
    resource_pool: str = ""
    datastore: str = ""
    set_host_for_datastore_uploads: bool = False

    @field_validator("folder")
    @classmethod
    def _clean_folder(cls, value: str) -> str:
        cleaned = posixpath.normpath(value) if value else ""
        return "" if cleaned == "." else cleaned.lstrip("/")

    @config_check
    def check_location(self) -> list[TemplateError]:
        errors = []
        if not self.vm_name:
            errors.append(option_error("'vm_name' is required", "vm_name"))
        if not self.cluster and not self.host:
            errors.append(option_error("'host' or 'cluster' is required", "cluster"))
        return errors

    def vm_path(self) -> str:
        """`folder/vm_name` (what PreCleanVM looks for and the artifact names)."""
        return posixpath.join(self.folder, self.vm_name) if self.folder else self.vm_name


class HardwareConfig(PluginConfig):
    """The VM's hardware; unset options leave the template's (clone) or defaults (iso)."""

    cpus: int = Field(0, alias="CPUs")
    cpu_cores: int = 0
    cpu_reservation: int = Field(0, alias="CPU_reservation")
    cpu_limit: int = Field(0, alias="CPU_limit")
    cpu_hot_plug: bool = Field(False, alias="CPU_hot_plug")
    ram: int = Field(0, alias="RAM")
    ram_reservation: int = Field(0, alias="RAM_reservation")
    ram_reserve_all: bool = Field(False, alias="RAM_reserve_all")
    ram_hot_plug: bool = Field(False, alias="RAM_hot_plug")
    video_ram: int = 0
    vgpu_profile: str = ""
    nested_hv: bool = Field(False, alias="NestedHV")
    firmware: str = ""
    force_bios_setup: bool = False

    @config_check
    def check_hardware(self) -> list[TemplateError]:
        errors = []
        if self.ram_reservation > 0 and self.ram_reserve_all:
            errors.append(
                option_error(
                    "'RAM_reservation' and 'RAM_reserve_all' cannot be used together",
                    "RAM_reserve_all",
                )
            )
        if self.firmware and self.firmware not in FIRMWARES:
            errors.append(
                option_error("'firmware' must be '', 'bios', 'efi' or 'efi-secure'", "firmware")
            )
        return errors

    def hardware_set(self) -> bool:
        """True when any hardware option differs from its zero value (Packer's test)."""
        return any(
            getattr(self, name) != info.default
            for name, info in HardwareConfig.model_fields.items()
        )


class ConfigParamsConfig(PluginConfig):
    """Extra .vmx settings and VMware Tools' time sync and upgrade policy."""

    configuration_parameters: dict[str, str] = Field(default_factory=dict)
    tools_sync_time: bool = False
    tools_upgrade_policy: bool = False


class RunConfig(PluginConfig):
    """`boot_order`: e.g. "disk,cdrom" (floppy, cdrom, ethernet, disk)."""

    boot_order: str = ""

    @config_check
    def check_boot_order(self) -> list[TemplateError]:
        bad = [d for d in self.boot_devices() if d not in BOOT_DEVICES]
        if bad:
            return [
                option_error(
                    f"unknown boot device {bad[0]!r} in 'boot_order'",
                    "boot_order",
                    hint="use floppy, cdrom, ethernet and disk, comma-separated",
                )
            ]
        return []

    def boot_devices(self) -> list[str]:
        return [d.strip() for d in self.boot_order.split(",")] if self.boot_order else []


class WaitIpConfig(PluginConfig):
    """How long to wait for VMware Tools to report an address, and which one counts."""

    ip_wait_timeout: Duration = DEFAULT_IP_WAIT_TIMEOUT
    ip_settle_timeout: Duration = DEFAULT_IP_SETTLE_TIMEOUT
    ip_wait_address: str | None = None

    @model_validator(mode="after")
    def _wait_defaults(self) -> WaitIpConfig:
        if not self.ip_wait_timeout:
            self.ip_wait_timeout = DEFAULT_IP_WAIT_TIMEOUT
        if not self.ip_settle_timeout:
            self.ip_settle_timeout = DEFAULT_IP_SETTLE_TIMEOUT
        if self.ip_wait_address is None:
            self.ip_wait_address = DEFAULT_IP_WAIT_ADDRESS
        return self

    @config_check
    def check_wait_ip(self) -> list[TemplateError]:
        if self.ip_wait_address:
            try:
                ipaddress.ip_network(self.ip_wait_address, strict=False)
            except ValueError as exc:
                return [
                    option_error(f'unable to parse "ip_wait_address": {exc}', "ip_wait_address")
                ]
        return []

    def wait_network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
        """The network an address must be in; None: any IPv4 address (an empty option)."""
        if not self.ip_wait_address:
            return None
        return ipaddress.ip_network(self.ip_wait_address, strict=False)


class ShutdownConfig(BaseShutdownConfig):
    """vSphere's shutdown: the command, its timeout, or none at all (disable_shutdown)."""

    disable_shutdown: bool = False

    def shutdown_warnings(self, communicator: str) -> list[str]:
        if communicator == "none" and self.shutdown_command:
            return ["The parameter `shutdown_command` is ignored as it requires a `communicator`."]
        return []


class SnapshotConfig(PluginConfig):
    create_snapshot: bool = False
    snapshot_name: str = ""

    def snapshot_label(self) -> str:
        return self.snapshot_name or DEFAULT_SNAPSHOT_NAME


class TemplateConfig(PluginConfig):
    convert_to_template: bool = False


class ExportConfig(PluginConfig):
    """The `export` block: an OVF (with a manifest) written to a local directory."""

    name: str = ""
    force: bool = False
    images: bool = False
    manifest: str = "sha256"
    output_directory: str = ""
    directory_permission: int = 0o750
    options: StrList = Field(default_factory=list)

    @field_validator("directory_permission", mode="before")
    @classmethod
    def _octal(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip():
            return int(value.strip(), 8)
        return value

    @model_validator(mode="after")
    def _export_defaults(self) -> ExportConfig:
        if not self.manifest:
            self.manifest = "sha256"
        if not self.directory_permission:
            self.directory_permission = 0o750
        return self

    def target_dir(self, build_name: str) -> str:
        return self.output_directory or f"output-{build_name}"

    def ovf_name(self, vm_name: str) -> str:
        return self.name or vm_name

    def check_export(self, vm_name: str, build_name: str) -> list[TemplateError]:
        """1.6.6's Prepare checks (called by the builder: it needs vm_name and the build)."""
        errors = []
        if self.manifest not in MANIFESTS:
            errors.append(
                option_error(
                    f"unknown hash: {self.manifest}. available options include available "
                    "options being 'none', 'sha1', 'sha256', 'sha512'",
                    "export",
                    "manifest",
                )
            )
        target = os.path.join(self.target_dir(build_name), self.ovf_name(vm_name) + ".ovf")
        if not self.force and os.path.exists(target):
            errors.append(
                option_error(
                    f"file already exists: {target}",
                    "export",
                    "output_directory",
                    hint='set "force": true in the export block to overwrite it',
                )
            )
        return errors


class ExportBlock(PluginConfig):
    """`export` on a builder config (absent: no export)."""

    export: ExportConfig | None = None


class ContentLibraryDestinationConfig(PluginConfig):
    """`content_library_destination`: the built VM as a library item (VM template or OVF).

    Defaults (1.6.6's Prepare, applied by `VSphereConfig`): ovf: name = vm_name; a VM
    template: name = vm_name + unix time, cluster/host/resource_pool = the build's,
    description "Packer imported <vm_name> VM template".
    """

    library: str = ""
    name: str = ""
    description: str = ""
    cluster: str = ""
    folder: str = ""
    host: str = ""
    resource_pool: str = ""
    datastore: str = ""
    destroy: bool = False
    ovf: bool = False

    def check_content_library(self, vm_name: str) -> list[TemplateError]:
        errors = []
        if not self.library:
            errors.append(
                option_error(
                    "a library name must be provided", "content_library_destination", "library"
                )
            )
        if not self.ovf and self.name == vm_name:
            errors.append(
                option_error(
                    "the content library destination name must be different from the VM name",
                    "content_library_destination",
                    "name",
                )
            )
        return errors

    def resolve(self, location: LocationConfig, now: float | None = None) -> None:
        """Fill in 1.6.6's defaults from the build's location options."""
        vm_name = location.vm_name
        if self.ovf:
            self.name = self.name or vm_name
            return
        if not self.name and vm_name:
            self.name = f"{vm_name}{int(time.time() if now is None else now)}"
        self.cluster = self.cluster or location.cluster
        self.host = self.host or location.host
        self.resource_pool = self.resource_pool or location.resource_pool
        self.description = self.description or f"Packer imported {vm_name} VM template"


class ContentLibraryBlock(PluginConfig):
    """`content_library_destination` on a builder config (absent: no import)."""

    content_library_destination: ContentLibraryDestinationConfig | None = None


class DiskConfig(PluginConfig):
    disk_size: int = 0  # MB
    disk_thin_provisioned: bool = False
    disk_eagerly_scrub: bool = False
    disk_controller_index: int = 0


class StorageConfig(PluginConfig):
    """Disks to add (clone: besides the template's) and their controllers.

    As in 1.6.6, every disk's `disk_controller_index` must name an entry of
    `disk_controller_type` (vsphere-iso's config adds the default "" when the list is empty).
    """

    disk_controller_type: StrList = Field(default_factory=list)
    storage: list[DiskConfig] = Field(default_factory=list)

    @config_check
    def check_storage(self) -> list[TemplateError]:
        errors = []
        for i, disk in enumerate(self.storage):
            if disk.disk_size == 0:
                errors.append(
                    option_error(f"storage[{i}].'disk_size' is required", "storage", i, "disk_size")
                )
            if disk.disk_controller_index >= len(self.disk_controller_type):
                errors.append(
                    option_error(
                        f"storage[{i}].'disk_controller_index' references an unknown disk "
                        "controller",
                        "storage",
                        i,
                        "disk_controller_index",
                    )
                )
        return errors


class CDRomConfig(PluginConfig):
    """`cdrom_type` (ide | sata) and `iso_paths` (`[datastore] path.iso`) to mount."""

    cdrom_type: str = ""
    iso_paths: StrList = Field(default_factory=list)

    @config_check
    def check_cdrom(self) -> list[TemplateError]:
        if self.cdrom_type not in ("", "ide", "sata"):
            return [option_error("'cdrom_type' must be 'ide' or 'sata'", "cdrom_type")]
        return []


class RemoveCDRomConfig(PluginConfig):
    """`remove_cdrom`: take the CD-ROM drives out once the build is done."""

    remove_cdrom: bool = False


class VSphereBootConfig(BootConfig, HTTPConfig):
    """boot_command/boot_wait/boot_keygroup_interval, the HTTP server and `http_ip`
    (the address the guest is told; default: this machine's first non-loopback IPv4,
    or one inside `ip_wait_address`, as 1.6.6's StepHTTPIPDiscover)."""

    http_ip: str = ""

    @config_check
    def check_http_ip(self) -> list[TemplateError]:
        if self.http_ip:
            try:
                ipaddress.ip_address(self.http_ip)
            except ValueError:
                return [option_error("invalid IP address", "http_ip")]
        return []


class VSphereFloppyConfig(FloppyConfig):
    """The floppy options plus `floppy_img_path`, a datastore image mounted as it is."""

    floppy_img_path: str = ""


class VSphereConfig(
    ConnectConfig,
    LocationConfig,
    HardwareConfig,
    ConfigParamsConfig,
    RunConfig,
    WaitIpConfig,
    ShutdownConfig,
    SnapshotConfig,
    TemplateConfig,
    ExportBlock,
    ContentLibraryBlock,
    CDRomConfig,
    RemoveCDRomConfig,
    VSphereBootConfig,
    CDConfig,
    VSphereFloppyConfig,
    CommunicatorConfig,
):
    """What both vSphere builders accept; vsphere-clone and vsphere-iso add their own.

    The communicator's address comes from VMware Tools (the guest IP), so `ssh_host`
    is not required; a temporary key pair is made when no auth option is set.
    """

    host_required: ClassVar[bool] = False
    generates_key: ClassVar[bool] = True
    deferred: ClassVar[frozenset[str]] = BootConfig.deferred

    @model_validator(mode="after")
    def _content_library_defaults(self) -> VSphereConfig:
        library = self.content_library_destination
        if library is not None:
            library.resolve(self)
        return self

    @config_check
    def check_content_library(self) -> list[TemplateError]:
        library = self.content_library_destination
        if library is None:
            return []
        # after defaulting, a VM template's name equals vm_name only when written so
        return library.check_content_library(self.vm_name)

    def all_warnings(self) -> list[str]:
        return self.shutdown_warnings(self.communicator)
