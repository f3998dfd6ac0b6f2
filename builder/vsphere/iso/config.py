"""Options of the `vsphere-iso` builder: the shared vSphere blocks plus the ones a VM made
from scratch needs (Packer 1.6.6's names, defaults and checks).

- CreateConfig   vm_version, guest_os_type (otherGuest), network_adapters[] (NetworkAdapter:
                 network, network_card, mac_address, passthrough), usb_controller, notes
- StorageConfig  disk_controller_type, storage[] (from the common blocks; at least one disk)
- iso_paths      checked here as 1.6.6's driver checks them ([datastore] path); cdrom_type
                 and iso_paths are the common CDRomConfig
- ISO            iso_url(s), iso_checksum, iso_target_path, iso_target_extension: optional
                 here (1.6.6 checks them only when an ISO URL is given)
- CD, floppy     cd_files/cd_label, floppy_files/floppy_dirs/floppy_label, floppy_img_path:
                 VSphereConfig's (both builders have them)
"""

from __future__ import annotations

import ipaddress
import re
from typing import ClassVar

from pydantic import Field

from builder.common.iso.config import ISOConfig
from builder.config import PluginConfig, StrList, config_check, option_error
from builder.errors import TemplateError
from builder.vsphere.common.config import StorageConfig, VSphereConfig

DEFAULT_GUEST_OS = "otherGuest"
# govmomi's names for the cards and controllers it can create (its Type()/deviceName()).
NETWORK_CARDS = ("e1000", "e1000e", "vmxnet2", "vmxnet3", "pcnet32", "sriov")
DEFAULT_NETWORK_CARD = "e1000"  # govmomi's choice for an empty network_card, as in 1.6.6
DISK_CONTROLLERS = ("lsilogic", "buslogic", "pvscsi", "lsilogic-sas", "scsi", "virtualscsi",
                    "nvme")  # fmt: skip
# "1"/"true" and "0"/"false" are 1.6.6's spellings kept for old templates.
USB_CONTROLLERS = {"usb": "usb", "1": "usb", "true": "usb", "xhci": "xhci"}
USB_OFF = ("false", "0")
_MAC = re.compile(r"^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$")
# `[datastore] path`, a datastore-less path, or a content library path (1.6.6's test).
_ISO_PATH = re.compile(r"^\s*(\[[^\[\]/]*\])?\s*[^\[\]]+\s*$")


class NetworkAdapter(PluginConfig):
    """One `network_adapters` entry."""

    network: str = ""
    network_card: str = ""
    mac_address: str = ""
    passthrough: bool | None = None

    @property
    def card(self) -> str:
        return self.network_card or DEFAULT_NETWORK_CARD


class CreateConfig(PluginConfig):
    """What the new VM is: hardware version, guest OS, network cards, USB controllers, notes."""

    vm_version: int = 0
    guest_os_type: str = DEFAULT_GUEST_OS
    network_adapters: list[NetworkAdapter] = Field(default_factory=list)
    usb_controller: StrList = Field(default_factory=list)
    notes: str = ""

    def guest_os(self) -> str:
        """`guest_os_type`, `otherGuest` when empty (1.6.6's Prepare)."""
        return self.guest_os_type or DEFAULT_GUEST_OS

    def usb_controllers(self) -> tuple[str, ...]:
        """The controllers to create ("usb", "xhci"), the old spellings folded in."""
        return tuple(USB_CONTROLLERS[u] for u in self.usb_controller if u in USB_CONTROLLERS)

    @config_check
    def check_create(self) -> list[TemplateError]:
        errors: list[TemplateError] = []
        if self.vm_version < 0:
            errors.append(option_error("'vm_version' must be positive", "vm_version"))
        usb = xhci = 0
        for i, kind in enumerate(self.usb_controller):
            if kind in USB_OFF:
                continue
            if kind not in USB_CONTROLLERS:
                errors.append(
                    option_error(
                        f"usb_controller[{i}] references an unknown usb controller",
                        "usb_controller",
                        i,
                        hint='use "usb" (USB 2.0) or "xhci" (USB 3.0)',
                    )
                )
            elif USB_CONTROLLERS[kind] == "usb":
                usb += 1
            else:
                xhci += 1
        if usb > 1 or xhci > 1:
            errors.append(
                option_error(
                    "there can only be one usb controller and one xhci controller",
                    "usb_controller",
                )
            )
        if not self.network_adapters:
            # 1.6.6 says this when it creates the VM; every build would fail there
            errors.append(
                option_error(
                    "no network adapters have been defined",
                    "network_adapters",
                    hint='add one, e.g. [{"network": "VM Network", "network_card": "vmxnet3"}]',
                )
            )
        for i, nic in enumerate(self.network_adapters):
            if nic.network_card and nic.network_card not in NETWORK_CARDS:
                errors.append(
                    option_error(
                        f"unknown ethernet card type '{nic.network_card}'",
                        "network_adapters",
                        i,
                        "network_card",
                        hint=f"one of {', '.join(NETWORK_CARDS)}",
                    )
                )
            if nic.mac_address and not _MAC.match(nic.mac_address):
                errors.append(
                    option_error(
                        f"'{nic.mac_address}' is not a MAC address",
                        "network_adapters",
                        i,
                        "mac_address",
                        hint="six hexadecimal pairs, e.g. 00:50:56:aa:bb:cc",
                    )
                )
        return errors


class ISOStorageConfig(StorageConfig):
    """`storage` is required for a new VM; the controller list defaults to one "" (lsilogic)."""

    def controller_types(self) -> tuple[str, ...]:
        return tuple(self.disk_controller_type) or ("",)

    @config_check
    def check_storage(self) -> list[TemplateError]:
        """1.6.6's checks, with its default controller in place when none is listed."""
        errors: list[TemplateError] = []
        if not self.storage:
            errors.append(
                option_error(
                    "no storage devices have been defined",
                    "storage",
                    hint='add a disk, e.g. [{"disk_size": 32768, "disk_thin_provisioned": true}]',
                )
            )
        types = self.controller_types()
        for i, kind in enumerate(self.disk_controller_type):
            if kind not in ("", *DISK_CONTROLLERS):
                errors.append(
                    option_error(
                        f"unknown disk controller type '{kind}'",
                        "disk_controller_type",
                        i,
                        hint=f"one of {', '.join(DISK_CONTROLLERS)}",
                    )
                )
        for i, disk in enumerate(self.storage):
            if disk.disk_size <= 0:
                errors.append(
                    option_error(
                        f"storage[{i}].'disk_size' is required", "storage", i, "disk_size"
                    )  # fmt: skip
                )
            if not 0 <= disk.disk_controller_index < len(types):
                errors.append(
                    option_error(
                        f"storage[{i}].'disk_controller_index' references an unknown disk "
                        "controller",
                        "storage",
                        i,
                        "disk_controller_index",
                        hint=f"disk_controller_type lists {len(types)} controller(s), "
                        f"numbered from 0",
                    )
                )
        return errors


class ISOPathsCheck(PluginConfig):
    """1.6.6's datastore ISO path test, made at validate time (its driver makes it at mount)."""

    iso_paths: StrList = Field(default_factory=list)

    @config_check
    def check_iso_paths(self) -> list[TemplateError]:
        errors: list[TemplateError] = []
        for i, path in enumerate(self.iso_paths):
            if not _ISO_PATH.match(path):
                errors.append(
                    option_error(
                        f"{path} is not a valid iso path",
                        "iso_paths",
                        i,
                        hint="write it as [datastore] path/to/file.iso",
                    )
                )
        return errors


class OptionalISOConfig(ISOConfig):
    """The ISO options, checked only when an ISO URL is given (an ISO is optional here)."""

    @config_check
    def check_iso(self) -> list[TemplateError]:
        errors: list[TemplateError] = []
        if self.was_set("iso_skip_cache"):
            errors.append(
                option_error(
                    "unknown option 'iso_skip_cache'",
                    "iso_skip_cache",
                    hint="it is a qemu option: vsphere-iso always uploads the ISO to the datastore",
                )
            )
        if self.urls or self.iso_checksum or self._deprecated():
            errors += super().check_iso()
        return errors


class VSphereISOConfig(
    CreateConfig,
    ISOStorageConfig,
    VSphereConfig,
    OptionalISOConfig,
    ISOPathsCheck,
):
    """Everything a `vsphere-iso` builder block may say.

    No temporary key pair (`generates_key` False): a guest installed from an ISO has no
    way to receive one, so ssh needs a password, a key file or the agent, as in 1.6.6.
    """

    generates_key: ClassVar[bool] = False
    deferred: ClassVar[frozenset[str]] = VSphereConfig.deferred

    def all_warnings(self) -> list[str]:
        out = [*super().all_warnings(), *self.iso_warnings()]
        if self.http_directory and _loopback(self.http_bind_address) and not (
            self.http_ip and _loopback(self.http_ip)
        ):  # fmt: skip
            out.append(
                f"http_bind_address is {self.http_bind_address}: the HTTP server answers this "
                "machine only, and a vSphere guest reaches it over the network. Set "
                '"http_bind_address": "0.0.0.0" (Packer\'s default) for a real guest.'
            )
        return out


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
