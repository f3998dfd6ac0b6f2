"""How the communicator reaches the instance: the address by `ssh_interface` (Packer's SSHHost)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from builder.errors import BuildError

if TYPE_CHECKING:
    from builder.amazon.common.ec2 import Instance
    from builder.amazon.common.state import AmazonRun


def _address(instance: Instance, interface: str) -> str:
    if interface:
        return {
            "public_ip": instance.public_ip,
            "private_ip": instance.private_ip,
            "public_dns": instance.public_dns,
            "private_dns": instance.private_dns,
        }[interface]
    if instance.vpc_id:
        return instance.public_ip or instance.private_ip
    return instance.public_dns


def instance_host(interface: str, tries: int = 2, pause: float = 2.0) -> Callable[[AmazonRun], str]:
    """The instance's address for `ssh_interface`; re-describes it while the address is empty.

    Auto (no interface): public IP in a VPC if there is one, else the private IP; the
    public DNS name outside a VPC. `ssh_host` in the template wins before this is asked.
    """

    def host(ctx: AmazonRun) -> str:
        for attempt in range(tries + 1):
            instance = ctx.instance
            if instance is None:
                break
            address = _address(instance, interface)
            if address:
                return address
            fresh = ctx.driver.describe_instance(instance.id)
            if fresh is None:
                raise BuildError(f"instance not found: {instance.id}")
            ctx.instance = fresh
            if attempt < tries and ctx.cancel.wait(pause):
                break
        raise BuildError("couldn't determine address for instance")

    return host
