"""The address the guest is told for the HTTP server (`{{ .HTTPIP }}`): 1.6.6's StepHTTPIPDiscover.

`http_ip` when set; else this machine's first non-loopback address inside
`ip_wait_address`, else its first non-loopback IPv4 address. The addresses are read from
the interfaces (Linux's SIOCGIFADDR); nothing is sent anywhere.
"""

from __future__ import annotations

import fcntl
import ipaddress
import socket
import struct
from collections.abc import Callable
from typing import Any

from builder.errors import BuildError
from builder.vsphere.common.run import VSphereRun

SIOCGIFADDR = 0x8915

Addresses = Callable[[], list[str]]


def interface_addresses() -> list[str]:
    """The IPv4 address of each interface that has one, in interface order."""
    out: list[str] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _, name in socket.if_nameindex():
            request = struct.pack("256s", name.encode()[:15])
            try:
                answer = fcntl.ioctl(s.fileno(), SIOCGIFADDR, request)
            except OSError:
                continue  # no IPv4 address on it
            out.append(socket.inet_ntoa(answer[20:24]))
    return out


def discover_http_ip(
    http_ip: str,
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None,
    addresses: Addresses = interface_addresses,
) -> str:
    """1.6.6's getHostIP: the configured address, or one of this machine's."""
    if http_ip:
        try:
            ipaddress.ip_address(http_ip)
        except ValueError as exc:
            raise BuildError("invalid IP address") from exc
        return http_ip
    found = [ipaddress.ip_address(a) for a in addresses()]
    candidates = [a for a in found if not a.is_loopback]
    if network is not None:
        for a in candidates:
            if a.version == network.version and a in network:
                return str(a)
    for a in candidates:
        if a.version == 4:
            return str(a)
    raise BuildError("IP not found (set http_ip to an address the guest can reach)")


def guest_http_ip(ctx: VSphereRun[Any]) -> str:
    """StepHTTPServer's `guest_ip` for vSphere."""
    cfg = ctx.config
    return discover_http_ip(cfg.http_ip, cfg.wait_network())
