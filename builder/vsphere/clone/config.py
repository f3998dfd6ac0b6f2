"""Options of `vsphere-clone` (Packer 1.6.6's names, defaults and checks).

Everything of `VSphereConfig` (connection, location, hardware, run, wait, shutdown,
snapshot, template, export, CD-ROM, cd_files/cd_label, floppy_files/floppy_dirs/
floppy_label/floppy_img_path, boot, HTTP, communicator), the clone options (template,
linked_clone, disk_size, network, mac_address, notes, vapp, storage) and `customize`.
As in 1.6.6 the floppy is made and attached only in a build with a communicator; with
`communicator: none` the floppy options are accepted, checked, and warned about.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from builder.config import PluginConfig, StrList, config_check, option_error
from builder.errors import TemplateError
from builder.vsphere.common.config import StorageConfig, VSphereConfig


class VAppConfig(PluginConfig):
    properties: dict[str, str] = Field(default_factory=dict)


class LinuxOptions(PluginConfig):
    domain: str = ""
    host_name: str = ""
    hw_clock_utc: bool | None = None  # unset: true
    time_zone: str = ""

    @model_validator(mode="after")
    def _defaults(self) -> LinuxOptions:
        if self.hw_clock_utc is None:
            self.hw_clock_utc = True
        if not self.time_zone:
            self.time_zone = "UTC"
        return self


class NetworkInterface(PluginConfig):
    dns_server_list: StrList = Field(default_factory=list)
    dns_domain: str = ""
    ipv4_address: str = ""
    ipv4_netmask: int = 0
    ipv6_address: str = ""
    ipv6_netmask: int = 0


class CustomizeConfig(PluginConfig):
    linux_options: LinuxOptions | None = None
    windows_sysprep_file: str = ""
    network_interface: list[NetworkInterface] = Field(default_factory=list)
    ipv4_gateway: str = ""
    ipv6_gateway: str = ""
    dns_server_list: StrList = Field(default_factory=list)
    dns_suffix_list: StrList = Field(default_factory=list)

    def check_customize(self) -> list[TemplateError]:
        errors = []

        def err(message: str, *keys: str | int) -> None:
            errors.append(option_error(message, "customize", *keys))

        if self.linux_options is None and not self.windows_sysprep_file:
            err("customize is empty")
        if self.linux_options is not None and self.windows_sysprep_file:
            err(
                "`linux_options` and `windows_sysprep_text` both set - one must not be "
                "included if the other is specified",
                "windows_sysprep_file",
            )
        if self.linux_options is not None:
            if not self.linux_options.host_name:
                err("linux options `host_name` is empty", "linux_options", "host_name")
            if not self.linux_options.domain:
                err("linux options `domain` is empty", "linux_options", "domain")
        if not self.network_interface:
            err("one or more `network_interface` must be provided", "network_interface")
        return errors


class CloneConfig(VSphereConfig, StorageConfig):
    """Everything a `vsphere-clone` builder block may say."""

    template: str = ""
    disk_size: int = 0  # MB
    linked_clone: bool = False
    network: str = ""
    mac_address: str = ""
    notes: str = ""
    vapp: VAppConfig = Field(default_factory=VAppConfig)
    customize: CustomizeConfig | None = None

    @config_check
    def check_clone(self) -> list[TemplateError]:
        errors = []
        if not self.template:
            errors.append(option_error("'template' is required", "template"))
        if self.linked_clone and self.disk_size:
            errors.append(
                option_error("'linked_clone' and 'disk_size' cannot be used together", "disk_size")
            )
        if self.mac_address and not self.network:
            errors.append(
                option_error("'network' is required when 'mac_address' is specified", "network")
            )
        if self.customize is not None:
            errors += self.customize.check_customize()
        return errors

    def all_warnings(self) -> list[str]:
        out = super().all_warnings()
        given = {"floppy_files": self.floppy_files, "floppy_dirs": self.floppy_dirs,
                 "floppy_img_path": self.floppy_img_path}  # fmt: skip
        ignored = [name for name, value in given.items() if value]
        if self.communicator == "none" and ignored:
            out.append(
                f"{', '.join(ignored)} ignored: vsphere-clone adds a floppy only in a build "
                "with a communicator (as Packer 1.6.6). Use cd_files, or a communicator."
            )
        return out
