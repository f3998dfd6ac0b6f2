"""StepAllocateIp: a floating IP for the server (given, reused or created) and associated."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from builder.common.plan import Creates
from builder.errors import BuildError
from builder.openstack.driver import PLATFORM, FloatingIP, OpenStackError

if TYPE_CHECKING:
    from builder.ledger import Resource
    from builder.openstack.config import OpenStackConfig
    from builder.openstack.run import OpenStackRun


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


@dataclass
class StepAllocateIp:
    """`floating_ip` (must be free), else a free one with `reuse_ips`, else a new one from
    `floating_ip_network`; associated with the server's port. Only a created IP is
    temporary: recorded in the ledger before its create call, deleted in cleanup."""

    name: ClassVar[str] = "StepAllocateIp"
    _created: Resource | None = None
    _address: str = ""

    def plan(self, config: OpenStackConfig, build_name: str) -> list[Creates]:
        if config.floating_ip or config.reuse_ips or not config.floating_network():
            return []
        what = f"temporary floating IP on {config.floating_network()}"
        return [Creates(f"{PLATFORM}.floating_ip", what)]

    def run(self, ctx: OpenStackRun) -> None:
        cfg, ui = ctx.config, ctx.ui
        network = cfg.floating_network()
        if not cfg.floating_ip and not cfg.reuse_ips and not network:
            ui.message("Floating IP not required")
            return
        server = ctx.require_server()
        if cfg.floating_ip:
            ip = self._given(ctx, cfg.floating_ip)
            ui.message(f"Selected floating IP: '{ip.id}' ({ip.address})")
        elif cfg.reuse_ips:
            ui.say("Searching for unassociated floating IP")
            ip = self._free(ctx)
            ui.message(f"Selected floating IP: '{ip.id}' ({ip.address})")
        else:
            ip = self._create(ctx, network)
            ui.message(f"Created floating IP: '{ip.id}' ({ip.address})")
        ctx.floating_ip = ip
        ui.say(f"Associating floating IP '{ip.id}' ({ip.address}) with instance port...")
        port = self._port(ctx, server.id, cfg.instance_floating_ip_net)
        try:
            ctx.driver.associate_floating_ip(ip.id, port)
        except OpenStackError as exc:
            raise BuildError(
                f"Error associating floating IP '{ip.id}' ({ip.address}) with instance port "
                f"'{port}': {exc}"
            ) from exc
        ui.message(f"Added floating IP '{ip.id}' ({ip.address}) to instance!")

    def _given(self, ctx: OpenStackRun, ip_id: str) -> FloatingIP:
        try:
            ip = ctx.driver.get_floating_ip(ip_id)
        except OpenStackError as exc:
            raise BuildError(f"Error using provided floating IP '{ip_id}': {exc}") from exc
        if ip is None:
            raise BuildError(f"Error using provided floating IP '{ip_id}': not found")
        if ip.port_id:
            raise BuildError(
                f"Error using provided floating IP '{ip_id}': provided floating IP '{ip_id}' "
                f"is already associated with port '{ip.port_id}'"
            )
        return ip

    def _free(self, ctx: OpenStackRun) -> FloatingIP:
        try:
            candidates = ctx.driver.floating_ips(status="DOWN")
        except OpenStackError as exc:
            raise BuildError(f"Error searching for floating IP: {exc}") from exc
        for ip in candidates:
            if not ip.port_id:
                return ip
        raise BuildError("Error searching for floating IP: no free floating IPs found")

    def _create(self, ctx: OpenStackRun, network: str) -> FloatingIP:
        driver = ctx.driver
        try:
            if _is_uuid(network):
                network_id = network
            else:
                found = driver.find_network(network)
                if not found.external:
                    raise BuildError(
                        "Error using the provided floating_ip_network: network "
                        f"{network} is not external"
                    )
                network_id = found.id
        except OpenStackError as exc:
            raise BuildError(f"Error using the provided floating_ip_network: {exc}") from exc
        ctx.ui.say(f"Creating floating IP using network {network_id} ...")
        res = ctx.record("floating_ip", network=network_id)
        try:
            ip = driver.create_floating_ip(network_id, ctx.run_description())
        except OpenStackError as exc:
            ctx.not_created(res, exc)
            raise BuildError(
                f"Error creating floating IP from floating network '{network_id}': {exc}"
            ) from exc
        res.created(ip.id, address=ip.address)
        self._created, self._address = res, ip.address
        return ip

    def _port(self, ctx: OpenStackRun, server_id: str, preferred_net: str) -> str:
        try:
            interfaces = ctx.driver.server_interfaces(server_id)
        except OpenStackError as exc:
            raise BuildError(
                f"Error getting interfaces of the instance '{server_id}': {exc}"
            ) from exc
        if not interfaces:
            raise BuildError(
                f"Error getting interfaces of the instance '{server_id}': instance "
                f"'{server_id}' has no interfaces"
            )
        chosen = interfaces[0]
        for interface in interfaces:
            if preferred_net and interface.net_id == preferred_net:
                chosen = interface
        return chosen.port_id

    def cleanup(self, ctx: OpenStackRun) -> None:
        res = self._created
        if res is None:
            return
        label = f"'{res.id}' ({self._address})"
        try:
            ctx.driver.delete_floating_ip(res.id)
        except OpenStackError:
            ctx.ui.error(f"Error deleting temporary floating IP {label}")
            return
        ctx.ui.say(f"Deleted temporary floating IP {label}")
        res.released()
        self._created = None
        ctx.floating_ip = None
