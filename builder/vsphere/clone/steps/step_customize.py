"""StepCustomize: guest customization (Linux prep or sysprep, NICs, gateways, DNS).

Gateways go to the first interface whose network holds them (1.6.6's matchGateway).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import ClassVar

from builder.errors import BuildError, DriverError
from builder.vsphere.clone.config import CloneConfig, CustomizeConfig
from builder.vsphere.common.driver import CustomizeSpec, LinuxPrep, NicCustomization
from builder.vsphere.common.run import VSphereRun

Run = VSphereRun[CloneConfig]


def _in_network(address: str, bits: int, gateway: str) -> bool:
    try:
        net = ipaddress.ip_network(f"{address}/{bits}", strict=False)
        return ipaddress.ip_address(gateway) in net
    except ValueError:
        return False


def customize_spec(c: CustomizeConfig) -> CustomizeSpec:
    linux, sysprep = None, ""
    if c.linux_options is not None:
        lo = c.linux_options
        linux = LinuxPrep(lo.domain, lo.host_name, bool(lo.hw_clock_utc), lo.time_zone)
    elif c.windows_sysprep_file:
        try:
            with open(c.windows_sysprep_file, encoding="utf-8") as f:
                sysprep = f.read()
        except OSError as exc:
            raise BuildError(f"error on reading {c.windows_sysprep_file}: {exc}") from exc
    nics, v4_done, v6_done = [], False, False
    for nic in c.network_interface:
        v4 = v6 = ""
        if nic.ipv4_address and not v4_done and c.ipv4_gateway:
            if _in_network(nic.ipv4_address, nic.ipv4_netmask, c.ipv4_gateway):
                v4, v4_done = c.ipv4_gateway, True
        if nic.ipv6_address and not v6_done and c.ipv6_gateway:
            if _in_network(nic.ipv6_address, nic.ipv6_netmask, c.ipv6_gateway):
                v6, v6_done = c.ipv6_gateway, True
        nics.append(
            NicCustomization(
                ipv4_address=nic.ipv4_address,
                ipv4_netmask=nic.ipv4_netmask,
                ipv4_gateway=v4,
                ipv6_address=nic.ipv6_address,
                ipv6_netmask=nic.ipv6_netmask,
                ipv6_gateway=v6,
                dns_server_list=tuple(nic.dns_server_list),
                dns_domain=nic.dns_domain,
            )
        )
    return CustomizeSpec(
        linux=linux,
        sysprep_text=sysprep,
        nics=tuple(nics),
        dns_server_list=tuple(c.dns_server_list),
        dns_suffix_list=tuple(c.dns_suffix_list),
    )


@dataclass
class StepCustomize:
    name: ClassVar[str] = "StepCustomize"

    def run(self, ctx: Run) -> None:
        custom = ctx.config.customize
        if custom is None:
            return
        spec = customize_spec(custom)
        ctx.ui.say("Customizing VM...")
        try:
            ctx.driver.customize(ctx.require_vm(), spec)
        except DriverError as exc:
            raise BuildError(str(exc)) from exc

    def cleanup(self, ctx: Run) -> None:
        """Nothing to undo."""
