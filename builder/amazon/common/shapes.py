"""EC2 API shapes: our records and options to and from the request/response dictionaries.

Pure functions, no SDK import; only `sdk.py` uses them, on boto3's dictionaries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from builder.amazon.common.driver import (
    Attachment,
    Image,
    Instance,
    KeyPairInfo,
    SecurityGroup,
)

if TYPE_CHECKING:
    from builder.amazon.common.config import BlockDevice


def api_filters(filters: Mapping[str, str | Sequence[str]] | None) -> list[dict[str, Any]]:
    out = []
    for name in sorted(filters or {}):
        value = (filters or {})[name]
        out.append({"Name": name, "Values": [value] if isinstance(value, str) else list(value)})
    return out


def api_device(d: BlockDevice) -> dict[str, Any]:
    """Packer's BuildEC2BlockDeviceMapping."""
    mapping: dict[str, Any] = {"DeviceName": d.device_name}
    if d.no_device:
        mapping["NoDevice"] = ""
        return mapping
    if d.virtual_name:
        if d.virtual_name.startswith("ephemeral"):
            mapping["VirtualName"] = d.virtual_name
        return mapping
    ebs: dict[str, Any] = {"DeleteOnTermination": d.delete_on_termination}
    if d.volume_type:
        ebs["VolumeType"] = d.volume_type
    if d.volume_size > 0:
        ebs["VolumeSize"] = d.volume_size
    if d.volume_type in ("io1", "io2", "gp3") and d.iops:
        ebs["Iops"] = d.iops
    if d.throughput and d.volume_type == "gp3":
        ebs["Throughput"] = d.throughput
    if d.snapshot_id:
        ebs["SnapshotId"] = d.snapshot_id
    if d.encrypted is not None:
        ebs["Encrypted"] = d.encrypted
    if d.kms_key_id:
        ebs["KmsKeyId"] = d.kms_key_id
    mapping["Ebs"] = ebs
    return mapping


def api_tags(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": tags[k]} for k in sorted(tags)]


def tag_specs(*kinds: tuple[str, Mapping[str, str]]) -> list[dict[str, Any]]:
    """TagSpecifications: tags given to resources at create time, by resource type."""
    return [{"ResourceType": kind, "Tags": api_tags(tags)} for kind, tags in kinds if tags]


def tags_of(raw: Mapping[str, Any]) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in raw.get("Tags") or []}


def image_of(raw: Mapping[str, Any]) -> Image:
    snaps = tuple(
        b["Ebs"]["SnapshotId"]
        for b in raw.get("BlockDeviceMappings") or []
        if (b.get("Ebs") or {}).get("SnapshotId")
    )
    return Image(
        id=raw["ImageId"],
        name=raw.get("Name") or "",
        state=raw.get("State") or "",
        owner_id=raw.get("OwnerId") or "",
        owner_alias=raw.get("ImageOwnerAlias") or "",
        creation_date=raw.get("CreationDate") or "",
        virtualization_type=raw.get("VirtualizationType") or "",
        root_device_type=raw.get("RootDeviceType") or "",
        snapshot_ids=snaps,
        tags=tags_of(raw),
        state_reason=(raw.get("StateReason") or {}).get("Message") or "",
    )


def instance_of(raw: Mapping[str, Any]) -> Instance:
    volumes = tuple(
        Attachment(
            b.get("DeviceName", ""),
            b["Ebs"]["VolumeId"],
            bool(b["Ebs"].get("DeleteOnTermination", True)),
        )
        for b in raw.get("BlockDeviceMappings") or []
        if (b.get("Ebs") or {}).get("VolumeId")
    )
    return Instance(
        id=raw["InstanceId"],
        state=(raw.get("State") or {}).get("Name", ""),
        vpc_id=raw.get("VpcId") or "",
        subnet_id=raw.get("SubnetId") or "",
        public_ip=raw.get("PublicIpAddress") or "",
        private_ip=raw.get("PrivateIpAddress") or "",
        public_dns=raw.get("PublicDnsName") or "",
        private_dns=raw.get("PrivateDnsName") or "",
        volumes=volumes,
        state_reason=(raw.get("StateReason") or {}).get("Message") or "",
        transition_reason=raw.get("StateTransitionReason") or "",
        client_token=raw.get("ClientToken") or "",
        tags=tags_of(raw),
    )


def group_of(raw: Mapping[str, Any]) -> SecurityGroup:
    return SecurityGroup(
        raw["GroupId"], raw.get("GroupName") or "", raw.get("VpcId") or "", tags_of(raw)
    )


def key_pair_of(raw: Mapping[str, Any]) -> KeyPairInfo:
    return KeyPairInfo(raw["KeyName"], raw.get("KeyPairId") or "", tags_of(raw))
