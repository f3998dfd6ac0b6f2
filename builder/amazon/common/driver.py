"""EC2 in our own words: the driver protocol, the records it returns, how it is reached.

Steps talk to EC2 only through `Ec2Driver`; `sdk.py` implements it with boto3 (the only
module that imports it) and the tests' `FakeEc2Driver` with dictionaries. `AMAZON` makes
drivers from `SessionSettings`, and is where tests put their fake in.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from builder.common.drivers import DriverFactory, secret
from builder.errors import DriverError

if TYPE_CHECKING:
    from builder.amazon.common.config import BlockDevice
    from builder.multistep import CancelToken

PLATFORM = "amazon"  # the ledger's name for EC2 resources
DEFAULT_RETRIES = 3

Filters = Mapping[str, str | Sequence[str]]


class AwsError(DriverError):
    """An EC2/STS call failed: `operation` and AWS's error `code` are kept for decisions.

    `answered`: AWS answered with an error, so the call changed nothing; False when the
    answer never came (a timeout, a broken connection) and a create may have happened.
    """

    def __init__(self, operation: str, code: str, message: str, *, answered: bool = True):
        self.operation, self.code, self.detail = operation, code, message
        self.answered = answered
        super().__init__(f"{operation}: {code}: {message}" if code else f"{operation}: {message}")


@dataclass(frozen=True)
class SessionSettings:
    """How to reach AWS: credentials, region, endpoint, retry policy, role to assume.

    The secret fields never go into the ledger; `pybuild cleanup` gets them the way the
    build did (the template, or the AWS_* environment).
    """

    region: str
    access_key: str = secret()
    secret_key: str = secret()
    token: str = secret()
    profile: str = ""
    shared_credentials_file: str = ""
    endpoint: str = ""
    verify_tls: bool = True
    max_retries: int = 0
    retry_mode: str = "standard"
    mfa_code: str = secret()
    decode_authorization_messages: bool = False
    role_arn: str = ""
    role_session_name: str = ""
    role_duration: int = 0
    role_external_id: str = ""
    role_policy: str = ""
    role_policy_arns: tuple[str, ...] = ()
    role_tags: tuple[tuple[str, str], ...] = ()
    role_transitive_tag_keys: tuple[str, ...] = ()

    def retries(self) -> int:
        """Retries per API call: `max_retries`, else the 3 of the Go SDK under Packer 1.6.6."""
        return self.max_retries if self.max_retries > 0 else DEFAULT_RETRIES

    @classmethod
    def from_record(cls, recorded: Mapping[str, object]) -> SessionSettings:
        """Settings as the ledger kept them (no secrets: those come from the environment)."""
        known = {f for f in cls.__dataclass_fields__}
        values: dict[str, Any] = {}
        for key, value in recorded.items():
            if key not in known:
                continue
            if isinstance(value, list):
                value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
            values[key] = value
        region = str(values.pop("region", "") or "") or default_region()
        return cls(region=region, **values)


def default_region() -> str:
    """AWS_REGION, else AWS_DEFAULT_REGION (what boto3 and Packer read)."""
    return os.environ.get("AWS_REGION", "") or os.environ.get("AWS_DEFAULT_REGION", "")


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
class Attachment:
    """An EBS volume attached to an instance."""

    device: str
    volume_id: str
    delete_on_termination: bool = True


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
    volumes: tuple[Attachment, ...] = ()
    state_reason: str = ""
    transition_reason: str = ""
    client_token: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SecurityGroup:
    id: str
    name: str = ""
    vpc_id: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class KeyPairInfo:
    """An EC2 key pair as DescribeKeyPairs returns it (never its private key)."""

    name: str
    id: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)


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
    client_token: str = ""  # makes the launch idempotent; the ledger records it first
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


@dataclass(frozen=True)
class ImportSpec:
    """One ImportImage request: a disk image in S3 to become an AMI."""

    bucket: str
    key: str
    format: str  # ova | raw | vhd | vhdx | vmdk
    encrypted: bool = False
    kms_key_id: str = ""
    role_name: str = ""
    license_type: str = ""
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)  # on the import task


@dataclass(frozen=True)
class ImportTask:
    """An import task as DescribeImportImageTasks returns it."""

    id: str
    status: str  # active | completed | deleting | deleted
    status_message: str = ""
    progress: str = ""
    image_id: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Upload:
    """One S3 PUT of a local file (multipart above the threshold)."""

    path: str
    bucket: str
    key: str
    encryption: str = ""  # AES256 | aws:kms
    kms_key_id: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)


class Ec2Driver(Protocol):
    """EC2 in one region; `in_region` gives the same account elsewhere (same sessions)."""

    region: str

    def in_region(self, region: str) -> Ec2Driver: ...

    def close(self) -> None:
        """Close the sessions and clients (those of every region's driver)."""

    def list_regions(self) -> list[str]: ...

    # images
    def describe_images(
        self,
        *,
        image_ids: Sequence[str] = (),
        owners: Sequence[str] = (),
        filters: Filters | None = None,
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
        self, *, vpc_ids: Sequence[str] = (), filters: Filters | None = None
    ) -> list[Vpc]: ...

    def describe_subnets(
        self, *, subnet_ids: Sequence[str] = (), filters: Filters | None = None
    ) -> list[Subnet]: ...

    def describe_security_groups(
        self, *, group_ids: Sequence[str] = (), filters: Filters | None = None
    ) -> list[SecurityGroup]: ...

    def create_security_group(
        self, name: str, description: str, vpc_id: str, tags: Mapping[str, str]
    ) -> str: ...

    def authorize_ingress(self, group_id: str, port: int, cidrs: Sequence[str]) -> None: ...

    def delete_security_group(self, group_id: str) -> None: ...

    # key pairs
    def create_key_pair(self, name: str, key_type: str, tags: Mapping[str, str]) -> str:
        """Create the pair; returns its private key material."""

    def describe_key_pairs(self, *, filters: Filters | None = None) -> list[KeyPairInfo]: ...

    def delete_key_pair(self, name: str) -> None: ...

    # instances and volumes
    def run_instance(self, spec: LaunchSpec) -> str: ...

    def describe_instance(self, instance_id: str) -> Instance | None: ...

    def describe_instances(self, *, filters: Filters | None = None) -> list[Instance]: ...

    def stop_instance(self, instance_id: str) -> None: ...

    def terminate_instance(self, instance_id: str) -> None: ...

    def modify_instance(
        self, instance_id: str, *, sriov: bool = False, ena: bool | None = None
    ) -> None: ...

    def describe_volumes(self, volume_ids: Sequence[str]) -> list[tuple[str, str]]: ...

    def delete_volume(self, volume_id: str) -> None: ...

    # VM Import (amazon-import)
    def import_image(self, spec: ImportSpec) -> str:
        """Start an ImportImage task; its id."""
        ...

    def describe_import_task(self, task_id: str) -> ImportTask | None: ...

    def describe_import_tasks(self) -> list[ImportTask]:
        """Every import task of the account in this region (cleanup finds its own by tag)."""
        ...

    def cancel_import_task(self, task_id: str) -> None: ...

    # S3, in this driver's region and with its credentials
    def upload_file(
        self, upload: Upload, progress: Callable[[int], None], cancel: CancelToken
    ) -> None:
        """PUT the file (multipart when large); `progress` gets bytes sent so far. A failed
        or cancelled multipart upload is aborted before this raises."""
        ...

    def object_exists(self, bucket: str, key: str) -> bool: ...

    def delete_object(self, bucket: str, key: str) -> None: ...

    def abort_multipart_uploads(self, bucket: str, key: str) -> int:
        """Abort unfinished multipart uploads of `key` (a killed upload's parts); how many."""
        ...


# The one place amazon drivers are made (and where tests put FakeCloud's in).
AMAZON: DriverFactory[SessionSettings, Ec2Driver] = DriverFactory(
    PLATFORM, "builder.amazon.common.sdk:make_driver"
)
