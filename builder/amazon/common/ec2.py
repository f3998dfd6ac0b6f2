"""The EC2 driver protocol in our own words, and the plain records it returns.

Steps talk to EC2 only through `Ec2Driver`; `driver.py` implements it with boto3
and the tests' `FakeEc2Driver` implements it with dictionaries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from builder.errors import DriverError

if TYPE_CHECKING:
    from builder.amazon.common.config import BlockDevice


class AwsError(DriverError):
    """An EC2/STS call failed: `operation` and AWS's error `code` are kept for decisions."""

    def __init__(self, operation: str, code: str, message: str):
        self.operation, self.code, self.detail = operation, code, message
        super().__init__(f"{operation}: {code}: {message}" if code else f"{operation}: {message}")


@dataclass(frozen=True)
class Image:
    """An AMI as DescribeImages returns it."""

    id: str
    name: str = ""
    state: str = "available"
    owner_id: str = ""
    owner_alias: str = ""
    creation_date: str = ""
    virtualization_type: str = "hvm"
    root_device_type: str = "ebs"
    snapshot_ids: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    state_reason: str = ""


@dataclass(frozen=True)
class Instance:
    """An instance as DescribeInstances returns it."""

    id: str
    state: str = "pending"
    vpc_id: str = ""
    subnet_id: str = ""
    public_ip: str = ""
    private_ip: str = ""
    public_dns: str = ""
    private_dns: str = ""
    volumes: tuple[tuple[str, str], ...] = ()  # (device name, volume id)
    state_reason: str = ""
    transition_reason: str = ""


@dataclass(frozen=True)
class Subnet:
    id: str
    vpc_id: str = ""
    availability_zone: str = ""
    available_ips: int = 0


@dataclass(frozen=True)
class Vpc:
    id: str
    is_default: bool = False


@dataclass
class LaunchSpec:
    """Everything RunInstances needs, in our words."""

    image_id: str
    instance_type: str
    user_data: bytes = b""
    key_name: str = ""
    security_group_ids: Sequence[str] = ()
    subnet_id: str = ""
    availability_zone: str = ""
    associate_public_ip: bool = False
    iam_instance_profile: str = ""
    ebs_optimized: bool = False
    t2_unlimited: bool = False
    shutdown_behavior: str = ""
    tenancy: str = ""
    block_devices: Sequence[BlockDevice] = ()
    no_ephemeral: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)
    volume_tags: Mapping[str, str] = field(default_factory=dict)


class Ec2Driver(Protocol):
    """EC2 in one region; `in_region` gives the same account elsewhere."""

    region: str

    def in_region(self, region: str) -> Ec2Driver: ...

    def list_regions(self) -> list[str]: ...

    # images
    def describe_images(
        self,
        *,
        image_ids: Sequence[str] = (),
        owners: Sequence[str] = (),
        filters: Mapping[str, str | Sequence[str]] | None = None,
    ) -> list[Image]: ...

    def create_image(
        self, instance_id: str, name: str, description: str, devices: Sequence[BlockDevice]
    ) -> str: ...

    def copy_image(
        self,
        source_region: str,
        source_image_id: str,
        name: str,
        description: str,
        encrypted: bool | None,
        kms_key_id: str,
    ) -> str: ...

    def deregister_image(self, image_id: str) -> None: ...

    def delete_snapshot(self, snapshot_id: str) -> None: ...

    def modify_image(
        self,
        image_id: str,
        *,
        description: str | None = None,
        users: Sequence[str] = (),
        groups: Sequence[str] = (),
        product_codes: Sequence[str] = (),
    ) -> None: ...

    def modify_snapshot(
        self, snapshot_id: str, *, users: Sequence[str] = (), groups: Sequence[str] = ()
    ) -> None: ...

    def create_tags(self, resource_ids: Sequence[str], tags: Mapping[str, str]) -> None: ...

    # network
    def describe_vpcs(
        self,
        *,
        vpc_ids: Sequence[str] = (),
        filters: Mapping[str, str | Sequence[str]] | None = None,
    ) -> list[Vpc]: ...

    def describe_subnets(
        self,
        *,
        subnet_ids: Sequence[str] = (),
        filters: Mapping[str, str | Sequence[str]] | None = None,
    ) -> list[Subnet]: ...

    def describe_security_groups(
        self,
        *,
        group_ids: Sequence[str] = (),
        filters: Mapping[str, str | Sequence[str]] | None = None,
    ) -> list[str]: ...

    def create_security_group(self, name: str, description: str, vpc_id: str) -> str: ...

    def authorize_ingress(self, group_id: str, port: int, cidrs: Sequence[str]) -> None: ...

    def delete_security_group(self, group_id: str) -> None: ...

    # key pairs
    def create_key_pair(self, name: str, key_type: str) -> str: ...

    def delete_key_pair(self, name: str) -> None: ...

    # instances and volumes
    def run_instance(self, spec: LaunchSpec) -> str: ...

    def describe_instance(self, instance_id: str) -> Instance | None: ...

    def stop_instance(self, instance_id: str) -> None: ...

    def terminate_instance(self, instance_id: str) -> None: ...

    def modify_instance(
        self, instance_id: str, *, sriov: bool = False, ena: bool | None = None
    ) -> None: ...

    def describe_volumes(self, volume_ids: Sequence[str]) -> list[tuple[str, str]]: ...

    def delete_volume(self, volume_id: str) -> None: ...
