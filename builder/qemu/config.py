"""Options of the `qemu` builder (Packer 1.6.6's names and defaults) and their checks."""

from __future__ import annotations

import os
import re
from typing import Any, ClassVar

from pydantic import Field, model_validator

from builder.common.boot.config import VNCConfig
from builder.common.http.config import HTTPConfig
from builder.common.iso.config import ISOConfig
from builder.common.media.config import CDConfig, FloppyConfig
from builder.common.steps.shutdown import ShutdownConfig
from builder.communicator.config import CommunicatorConfig
from builder.config import PluginConfig, StrList, config_check, option_error
from builder.errors import TemplateError

ACCELERATORS = ("kvm", "tcg", "xen", "hax", "hvf", "whpx", "none")
DISK_INTERFACES = ("ide", "scsi", "virtio", "virtio-scsi")
DISK_CACHES = ("writethrough", "writeback", "none", "unsafe", "directsync")
DISK_DISCARDS = ("unmap", "ignore")
DISK_DETECT_ZEROES = ("unmap", "on", "off")
_DISK_SIZE = re.compile(r"^\d+[bkmgt]?$")


def detect_accelerator() -> str:
    """Packer's default: kvm when /dev/kvm opens, else tcg."""
    try:
        with open("/dev/kvm", "rb"):
            return "kvm"
    except OSError:
        return "tcg"


class QemuImgArgs(PluginConfig):
    """`qemu_img_args`: extra arguments for each qemu-img subcommand."""

    convert: StrList = Field(default_factory=list)
    create: StrList = Field(default_factory=list)
    resize: StrList = Field(default_factory=list)


class QemuMachineConfig(PluginConfig):
    """The qemu options proper: the VM, its disks, VNC, QMP and the host port forward."""

    deferred: ClassVar[frozenset[str]] = frozenset({"qemuargs"})

    accelerator: str = ""
    disk_additional_size: StrList = Field(default_factory=list)
    cpus: int = 1
    disk_interface: str = "virtio"
    disk_size: str = "40960M"
    skip_resize_disk: bool = False
    disk_cache: str = "writeback"
    disk_discard: str = "ignore"
    disk_detect_zeroes: str = "off"
    skip_compaction: bool = False
    disk_compression: bool = False
    format: str = "qcow2"
    headless: bool = False
    disk_image: bool = False
    use_backing_file: bool = False
    machine_type: str = "pc"
    memory: int = 512
    net_device: str = "virtio-net"
    net_bridge: str = ""
    output_directory: str = ""  # default output-<build name>: see `Builder.output_dir`
    qemuargs: list[list[str]] = Field(default_factory=list)
    qemu_img_args: QemuImgArgs = Field(default_factory=QemuImgArgs)
    qemu_binary: str = "qemu-system-x86_64"
    qmp_enable: bool = False
    qmp_socket_path: str = ""  # default <output_directory>/<vm_name>.monitor
    use_default_display: bool = False
    display: str = ""
    vnc_bind_address: str = "127.0.0.1"
    vnc_use_password: bool = False
    vnc_port_min: int = 5900
    vnc_port_max: int = 6000
    vm_name: str = ""  # default packer-<build name>
    cdrom_interface: str = ""
    run_once: bool = False

    host_port_min: int = 2222
    host_port_max: int = 4444
    skip_nat_mapping: bool = False
    ssh_host_port_min: int = 0  # deprecated: host_port_min
    ssh_host_port_max: int = 0  # deprecated: host_port_max

    @model_validator(mode="before")
    @classmethod
    def _zero_means_default(cls, data: Any) -> Any:
        """Packer's rule: an empty or zero value takes the default."""
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for key in (
            "disk_size",
            "disk_cache",
            "disk_discard",
            "disk_detect_zeroes",
            "machine_type",
            "qemu_binary",
            "vnc_bind_address",
            "vnc_port_min",
            "vnc_port_max",
            "format",
            "net_device",
            "disk_interface",
            "host_port_min",
            "host_port_max",
        ):
            if out.get(key) in ("", 0, "0", None):
                out.pop(key, None)
        return out

    @model_validator(mode="after")
    def _packer_defaults(self) -> QemuMachineConfig:
        if not self.accelerator:
            self.accelerator = detect_accelerator()
        if _DISK_SIZE.match(self.disk_size.lower()) and self.disk_size.isdigit():
            self.disk_size = f"{self.disk_size}M"
        if self.memory < 10:
            self.memory = 512
        if self.cpus < 1:
            self.cpus = 1
        if self.ssh_host_port_min:
            self.host_port_min = self.ssh_host_port_min
        if self.ssh_host_port_max:
            self.host_port_max = self.ssh_host_port_max
        if self.format != "qcow2":
            self.skip_compaction, self.disk_compression = True, False
        if self.use_backing_file:
            self.skip_compaction = True
        if self.net_bridge or self.vnc_use_password:
            self.qmp_enable = True
        return self

    def machine_warnings(self) -> list[str]:
        """Packer's deprecation warnings for the old port option names."""
        out = []
        for old, new in (
            ("ssh_host_port_min", "host_port_min"),
            ("ssh_host_port_max", "host_port_max"),
        ):
            if self.was_set(old) and getattr(self, old):
                out.append(
                    f"{old} is deprecated and is being replaced by {new}. Please, update "
                    f"your template to use {new}. In future versions of Packer, inclusion "
                    f"of {old} will error your builds."
                )
        return out

    @config_check
    def check_qemu(self) -> list[TemplateError]:
        """Packer's checks of a qemu block, each error naming its option."""
        errors: list[TemplateError] = []

        def bad(value: str, allowed: tuple[str, ...], message: str, key: str) -> None:
            if value not in allowed:
                errors.append(option_error(message, key, hint=f"one of {', '.join(allowed)}"))

        if not _DISK_SIZE.match(self.disk_size.lower()):
            errors.append(
                option_error(
                    "Invalid disk size.", "disk_size", hint="a number with b, k, M, G or T"
                )
            )
        for i, size in enumerate(self.disk_additional_size):
            if not _DISK_SIZE.match(size.lower()):
                errors.append(option_error("Invalid disk size.", "disk_additional_size", i))
        if self.format not in ("qcow2", "raw"):
            errors.append(
                option_error("invalid format, only 'qcow2' or 'raw' are allowed", "format")
            )
        if self.use_backing_file and not (self.disk_image and self.format == "qcow2"):
            errors.append(
                option_error(
                    "use_backing_file can only be enabled for QCOW2 images and when "
                    "disk_image is true",
                    "use_backing_file",
                )
            )
        if self.skip_resize_disk and not self.disk_image:
            errors.append(
                option_error(
                    "skip_resize_disk can only be used when disk_image is true",
                    "skip_resize_disk",
                )
            )
        bad(
            self.accelerator,
            ACCELERATORS,
            "invalid accelerator, only 'kvm', 'tcg', 'xen', 'hax', 'hvf', 'whpx', or 'none' "
            "are allowed",
            "accelerator",
        )
        bad(self.disk_interface, DISK_INTERFACES, "unrecognized disk interface type",
            "disk_interface")  # fmt: skip
        bad(self.disk_cache, DISK_CACHES, "unrecognized disk cache type", "disk_cache")
        bad(self.disk_discard, DISK_DISCARDS, "unrecognized disk discard type", "disk_discard")
        bad(self.disk_detect_zeroes, DISK_DETECT_ZEROES,
            "unrecognized disk detect zeroes setting", "disk_detect_zeroes")  # fmt: skip
        if self.vnc_port_min > self.vnc_port_max:
            errors.append(
                option_error("vnc_port_min must be less than vnc_port_max", "vnc_port_min")
            )
        if self.vnc_port_min < 5900 or self.vnc_port_max > 65535:
            errors.append(
                option_error(
                    "the VNC port range must lie within 5900-65535 (qemu listens on 5900 + "
                    "its display number)",
                    "vnc_port_min" if self.vnc_port_min < 5900 else "vnc_port_max",
                )
            )
        if self.host_port_min > self.host_port_max:
            errors.append(
                option_error("host_port_min must be less than host_port_max", "host_port_min")
            )
        if self.host_port_min < 0:
            errors.append(option_error("host_port_min must be positive", "host_port_min"))
        if self.host_port_max > 65535:
            errors.append(option_error("host_port_max must be at most 65535", "host_port_max"))
        if self.net_bridge and os.uname().sysname != "Linux":
            errors.append(
                option_error("net_bridge is only supported in Linux based OSes", "net_bridge")
            )
        for i, row in enumerate(self.qemuargs):
            if not row:
                errors.append(
                    option_error("a qemuargs entry needs at least the flag", "qemuargs", i)
                )
        return errors


class QemuConfig(
    QemuMachineConfig,
    CommunicatorConfig,
    ISOConfig,
    HTTPConfig,
    VNCConfig,
    ShutdownConfig,
    FloppyConfig,
    CDConfig,
):
    """Everything a `qemu` builder block may say."""

    host_required: ClassVar[bool] = False  # 127.0.0.1 and the forwarded port by default
    deferred: ClassVar[frozenset[str]] = QemuMachineConfig.deferred | VNCConfig.deferred

    @model_validator(mode="after")
    def _nat_host(self) -> QemuConfig:
        """skip_nat_mapping: the communicator goes to 127.0.0.1 on its own port."""
        if self.skip_nat_mapping and not self.ssh_host:
            self.ssh_host = "127.0.0.1"
        return self

    def all_warnings(self) -> list[str]:
        out = [*self.machine_warnings(), *self.iso_warnings()]
        if self.iso_skip_cache and self.iso_checksum not in ("", "none"):
            out.append(
                "iso_skip_cache: qemu reads the ISO from its URL, so iso_checksum is not verified."
            )
        return out
