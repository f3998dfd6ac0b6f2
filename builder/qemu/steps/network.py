"""The address the guest reaches this machine at (`{{ .HTTPIP }}`)."""

from __future__ import annotations

import fcntl
import socket
import struct

from builder.errors import BuildError
from builder.qemu.run import QemuRun

USER_NET_HOST = "10.0.2.2"  # qemu's user-mode network: the host as the guest sees it
SIOCGIFADDR = 0x8915


def interface_ipv4(name: str) -> str:
    """The IPv4 address of a network interface (a bridge), or BuildError."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            packed = fcntl.ioctl(
                sock.fileno(), SIOCGIFADDR, struct.pack("256s", name[:15].encode())
            )
        except OSError as exc:
            raise BuildError(
                f"Error getting an IPv4 address from the bridge {name}: {exc.strerror or exc}"
            ) from exc
    return socket.inet_ntoa(packed[20:24])


def guest_http_ip(ctx: QemuRun) -> str:
    """Packer's stepHTTPIPDiscover: 10.0.2.2, or the bridge's own address with net_bridge."""
    bridge = ctx.config.net_bridge
    return interface_ipv4(bridge) if bridge else USER_NET_HOST
