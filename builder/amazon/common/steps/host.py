"""How the communicator reaches the instance: its address by `ssh_interface` (Packer's SSHHost)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from builder.amazon.common.run import AmazonRun
from builder.errors import BuildError

if TYPE_CHECKING:
    from builder.amazon.common.driver import Ec2Driver, Instance
    from builder.common.run import BuildRun
    from builder.communicator.config import CommunicatorConfig
    from builder.multistep import CancelToken


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


def instance_address(
    driver: Ec2Driver,
    instance: Instance,
    interface: str,
    cancel: CancelToken,
    tries: int = 2,
    pause: float = 2.0,
) -> tuple[str, Instance]:
    """The instance's address for `ssh_interface`, re-describing it while that is empty.

    Auto (no interface): public IP in a VPC if there is one, else the private IP; the
    public DNS name outside a VPC. Returns the address and the freshest description.
    """
    for attempt in range(tries + 1):
        address = _address(instance, interface)
        if address:
            return address, instance
        fresh = driver.describe_instance(instance.id)
        if fresh is None:
            raise BuildError(f"instance not found: {instance.id}")
        instance = fresh
        if attempt < tries and cancel.wait(pause):
            break
    raise BuildError("couldn't determine address for instance")


def instance_host(
    interface: str, tries: int = 2, pause: float = 2.0
) -> Callable[[BuildRun[CommunicatorConfig]], str]:
    """StepConnect's `host`: the amazon run's instance address (`ssh_host` wins before)."""

    def host(ctx: BuildRun[CommunicatorConfig]) -> str:
        if not isinstance(ctx, AmazonRun) or ctx.instance is None:
            raise BuildError("couldn't determine address for instance")
        address, ctx.instance = instance_address(
            ctx.driver, ctx.instance, interface, ctx.cancel, tries, pause
        )
        return address

    return host
