"""How the communicator reaches the server: Packer 1.6.6's CommHost rules."""

from __future__ import annotations

from typing import TYPE_CHECKING

from builder.errors import BuildError
from builder.openstack.run import OpenStackRun

if TYPE_CHECKING:
    from builder.common.run import BuildRun
    from builder.communicator.config import CommunicatorConfig
    from builder.openstack.driver import Server


def address_from_pool(server: Server, network: str, ip_version: str) -> str:
    """The first address on `network` (any network when empty): a floating one as it is,
    else one of `ip_version` (4 or 6; either when empty), IPv6 in brackets."""
    for address in server.addresses:
        if network and address.network != network:
            continue
        if address.kind == "floating":
            return address.addr
        if ip_version == "4" and address.version != 4:
            continue
        if ip_version == "6" and address.version != 6:
            continue
        return f"[{address.addr}]" if address.version == 6 else address.addr
    return ""


def server_address(ctx: OpenStackRun) -> str:
    """ssh_interface's address, the floating IP, accessIPv4, then any address."""
    cfg = ctx.config
    server = ctx.require_server()
    if cfg.ssh_interface:
        found = address_from_pool(server, cfg.ssh_interface, cfg.ssh_ip_version)
        if found:
            return found
    if ctx.floating_ip is not None and ctx.floating_ip.address:
        return ctx.floating_ip.address
    if server.access_ipv4:
        return server.access_ipv4
    found = address_from_pool(server, "", cfg.ssh_ip_version)
    if found:
        return found
    fresh = ctx.driver.get_server(server.id)
    if fresh is not None:
        ctx.server = fresh
        found = address_from_pool(fresh, cfg.ssh_interface, cfg.ssh_ip_version)
        if found:
            return found
    raise BuildError(
        "couldn't determine IP address for server (it has no address: set ssh_host, "
        "networks, or floating_ip_network)"
    )


def comm_host(ctx: BuildRun[CommunicatorConfig]) -> str:
    """StepConnect's `host` (it lets ssh_host win before asking)."""
    if not isinstance(ctx, OpenStackRun):
        raise BuildError("couldn't determine IP address for server")
    return server_address(ctx)
