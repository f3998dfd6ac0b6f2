"""StepHTTPIPDiscover: the address the guest is told for the HTTP server (`{{ .HTTPIP }}`).

`http_ip` when set; else this machine's first non-loopback address inside
`ip_wait_address`, else its first non-loopback IPv4 address (1.6.6's rule).
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from builder.errors import BuildError
from builder.vsphere.common.run import VSphereRun


def interface_addresses() -> list[str]:
    """This machine's IPv4 interface addresses (Linux SIOCGIFADDR), in interface order."""
    import fcntl

    found: list[str] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _, name in socket.if_nameindex():
            request = struct.pack("256s", name.encode()[:15])
            try:
                answer = fcntl.ioctl(sock.fileno(), 0x8915, request)  # SIOCGIFADDR
            except OSError:
                continue
            found.append(socket.inet_ntoa(answer[20:24]))
    return found


def host_ip(configured: str, network: Any, addresses: Sequence[str]) -> str:
    if configured:
        return configured
    ips = [ipaddress.ip_address(a) for a in addresses]
    usable = [ip for ip in ips if not ip.is_loopback]
    if network is not None:
        for ip in usable:
            if ip.version == network.version and ip in network:
                return str(ip)
    for ip in usable:
        if ip.version == 4:
            return str(ip)
    raise BuildError("IP not found (no non-loopback address on this machine; set http_ip)")


@dataclass
class StepHTTPIPDiscover:
    name: ClassVar[str] = "StepHTTPIPDiscover"
    addresses: Callable[[], Sequence[str]] = field(default=interface_addresses)

    def run(self, ctx: VSphereRun[Any]) -> None:
        cfg = ctx.config
        if cfg.http_ip:
            ctx.http_ip = cfg.http_ip
            return
        ctx.http_ip = host_ip("", cfg.wait_network(), self.addresses())

    def cleanup(self, ctx: VSphereRun[Any]) -> None:
        """Nothing to undo."""
