"""StepDiscoverNetwork: the server's NICs from ports and networks, or a discovered network."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from builder.errors import BuildError
from builder.openstack.driver import NetworkRef, OpenStackError

if TYPE_CHECKING:
    from builder.openstack.run import OpenStackRun


@dataclass
class StepDiscoverNetwork:
    """`ports` then `networks`; with neither, the network whose subnet lies in one of
    `network_discovery_cidrs`. None of them: the server gets no NIC."""

    name: ClassVar[str] = "StepDiscoverNetwork"

    def run(self, ctx: OpenStackRun) -> None:
        cfg = ctx.config
        refs = [NetworkRef(port=p) for p in cfg.ports]
        refs += [NetworkRef(uuid=n) for n in cfg.networks]
        if not refs and cfg.network_discovery_cidrs:
            ctx.ui.say("Discovering provisioning network...")
            network_id = self._discover(ctx, cfg.network_discovery_cidrs)
            ctx.ui.message(f"Found network ID: {network_id}")
            refs.append(NetworkRef(uuid=network_id))
        ctx.networks = refs

    def _discover(self, ctx: OpenStackRun, cidrs: list[str]) -> str:
        try:
            wanted = [ipaddress.ip_network(c, strict=False) for c in cidrs]
        except ValueError as exc:
            raise BuildError(f"invalid network_discovery_cidrs: {exc}") from exc
        try:
            subnets = ctx.driver.subnets()
        except OpenStackError as exc:
            raise BuildError(f"Error listing subnets: {exc}") from exc
        for subnet in subnets:
            try:
                net = ipaddress.ip_network(subnet.cidr, strict=False)
            except ValueError:
                continue
            for candidate in wanted:
                if net.version == candidate.version and net.subnet_of(candidate):  # type: ignore[arg-type]
                    return subnet.network_id
        raise BuildError("failed to discover a provisioning network")

    def cleanup(self, ctx: OpenStackRun) -> None:
        """Nothing to undo."""
