"""The `cobbler` post-processor's options: where Cobbler is, and what to register in it."""

from __future__ import annotations

import os
import re
import shlex
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BeforeValidator, Field

from builder.cobbler.driver import DEFAULT_URL, CobblerSettings
from builder.config import Duration, PluginConfig, Secret, config_check, option_error
from builder.errors import TemplateError

MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
NAME = re.compile(r"^[A-Za-z0-9_.:+-]+$")  # what Cobbler's names take, less the odd ones


def parse_options(value: Any) -> Any:
    """Kernel options as Cobbler writes them (`a=b quiet`) or an object; an object either way."""
    if isinstance(value, str):
        out: dict[str, str | None] = {}
        for word in shlex.split(value):
            key, eq, val = word.partition("=")
            out[key] = val if eq else None
        return out
    return value


KernelOptions = Annotated[dict[str, str | None], BeforeValidator(parse_options)]


class DistroBlock(PluginConfig):
    """The distro: a kernel and initrd (or an installer tree with `import_path`)."""

    name: str = ""
    kernel: str = ""  # default: the artifact's file named like a kernel (vmlinuz…)
    initrd: str = ""  # default: the artifact's file named like an initrd (initrd….img)
    arch: str = "x86_64"
    breed: str = "generic"
    os_version: str = ""
    kernel_options: KernelOptions = Field(default_factory=dict)


class ProfileBlock(PluginConfig):
    """The profile machines boot: the distro plus an autoinstall template and options."""

    name: str = ""  # default: the distro's name
    autoinstall: str = ""  # a template Cobbler has (under /var/lib/cobbler/templates)
    kernel_options: KernelOptions = Field(default_factory=dict)
    comment: str = ""


class SystemBlock(PluginConfig):
    """A machine by its MAC: it boots the profile when it PXE-boots."""

    name: str = ""
    mac: str = ""
    interface: str = "eth0"
    hostname: str = ""
    ip_address: str = ""
    netmask: str = ""
    gateway: str = ""
    netboot_enabled: bool = True
    kernel_options: KernelOptions = Field(default_factory=dict)


class CobblerConfig(PluginConfig):
    """Options of the `cobbler` post-processor."""

    url: str = DEFAULT_URL
    username: str = "cobbler"
    password: Secret = ""  # default: $COBBLER_PASSWORD
    insecure_skip_tls_verify: bool = False
    timeout: Duration = 60.0
    distro: DistroBlock = Field(default_factory=DistroBlock)
    profile: ProfileBlock = Field(default_factory=ProfileBlock)
    systems: list[SystemBlock] = Field(default_factory=list)
    import_path: str = ""  # an installer tree on the Cobbler server, imported instead
    import_timeout: Duration = 1800.0
    sync: bool = True
    # A directory on this machine that Cobbler reads at the same path (its own machine, or a
    # shared mount): kernel, initrd and disk image are copied to files_dir/<distro>/.
    files_dir: str = ""
    # The URL files_dir is served at: the disk image's URL goes into the profile's kernel
    # options as `image_url_option=<image_base_url>/<distro>/<image>` for a deploy ramdisk.
    image_base_url: str = ""
    image_url_option: str = "image_url"
    image_format: str = "raw"

    def password_value(self) -> str:
        return self.password or os.environ.get("COBBLER_PASSWORD", "")

    def settings(self) -> CobblerSettings:
        return CobblerSettings(
            url=self.url,
            username=self.username,
            password=self.password_value(),
            insecure_skip_tls_verify=self.insecure_skip_tls_verify,
            timeout=self.timeout,
        )

    def profile_name(self) -> str:
        return self.profile.name or self.distro.name

    @config_check
    def check_connection(self) -> list[TemplateError]:
        errs: list[TemplateError] = []
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            errs.append(option_error(f"url must be an http or https URL, not {self.url!r}", "url"))
        if not self.username:
            errs.append(option_error("username must be set", "username"))
        if not self.password_value():
            errs.append(
                option_error(
                    "password must be set",
                    "password",
                    hint="or set COBBLER_PASSWORD in the environment",
                )  # fmt: skip
            )
        return errs

    @config_check
    def check_objects(self) -> list[TemplateError]:
        errs: list[TemplateError] = []
        if not self.distro.name:
            errs.append(option_error("distro.name must be set", "distro", "name"))
        for path, name in (
            (("distro", "name"), self.distro.name),
            (("profile", "name"), self.profile.name),
        ):
            if name and not NAME.match(name):
                errs.append(
                    option_error(f"invalid name {name!r}: letters, digits, _.:+- only", *path)
                )
        if self.import_path and (self.distro.kernel or self.distro.initrd):
            key = "kernel" if self.distro.kernel else "initrd"
            errs.append(
                option_error(
                    f"distro.{key} cannot be set with import_path: the import makes "
                    "the distro from the tree",
                    "distro",
                    key,
                )  # fmt: skip
            )
        if self.image_base_url and not self.files_dir:
            errs.append(
                option_error(
                    "image_base_url needs files_dir (where the disk image is put)", "image_base_url"
                )  # fmt: skip
            )
        if self.image_format not in ("raw", "qcow2"):
            errs.append(option_error("image_format must be raw or qcow2", "image_format"))
        return errs + self._check_systems()

    def _check_systems(self) -> list[TemplateError]:
        errs: list[TemplateError] = []
        names: dict[str, int] = {}
        macs: dict[str, int] = {}
        for i, system in enumerate(self.systems):
            if not system.name:
                errs.append(option_error(f"systems[{i}].name must be set", "systems", i, "name"))
            elif not NAME.match(system.name):
                errs.append(option_error(f"invalid name {system.name!r}", "systems", i, "name"))
            elif system.name in names:
                errs.append(option_error(f"system {system.name!r} is listed twice (systems"
                                         f"[{names[system.name]}])", "systems", i, "name"))  # fmt: skip
            names.setdefault(system.name, i)
            mac = system.mac.lower()
            if not MAC.match(mac):
                errs.append(
                    option_error(
                        f"invalid MAC address {system.mac!r} (want aa:bb:cc:dd:ee:ff)",
                        "systems",
                        i,
                        "mac",
                    )  # fmt: skip
                )
            elif mac in macs:
                errs.append(option_error(f"MAC {mac} is listed twice (systems[{macs[mac]}])",
                                         "systems", i, "mac"))  # fmt: skip
            macs.setdefault(mac, i)
        return errs
