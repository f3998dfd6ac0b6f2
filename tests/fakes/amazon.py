"""A stateful fake of our Ec2Driver protocol: dictionaries per region, injectable faults.

cloud = FakeCloud()
cloud.add_image("us-east-1", "ami-source", name="debian-12", owner_id="self")
driver = cloud.driver("us-east-1")
cloud.fail["CreateImage"] = AwsError("CreateImage", "UnauthorizedOperation", "no")
with AMAZON.override(cloud.factory): ...   # every amazon driver is FakeCloud's
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from builder.amazon.common.driver import (
    Attachment,
    AwsError,
    Ec2Driver,
    Filters,
    Image,
    Instance,
    KeyPairInfo,
    LaunchSpec,
    SecurityGroup,
    SessionSettings,
    Subnet,
    Vpc,
)

DEFAULT_REGIONS = ("us-east-1", "us-west-2", "eu-west-1")


@dataclass
class Region:
    """What one region holds."""

    images: dict[str, Image] = field(default_factory=dict)
    instances: dict[str, Instance] = field(default_factory=dict)
    launches: dict[str, LaunchSpec] = field(default_factory=dict)
    key_pairs: dict[str, str] = field(default_factory=dict)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    snapshots: dict[str, dict[str, Any]] = field(default_factory=dict)
    volumes: dict[str, str] = field(default_factory=dict)
    tags: dict[str, dict[str, str]] = field(default_factory=dict)
    vpcs: dict[str, Vpc] = field(default_factory=dict)
    subnets: dict[str, Subnet] = field(default_factory=dict)


class FakeCloud:
    """One account: regions, a call journal, faults by operation name."""

    def __init__(self, regions: Sequence[str] = DEFAULT_REGIONS, pending_polls: int = 1):
        self.regions = {r: Region() for r in regions}
        self.calls: list[tuple[str, str]] = []  # (region, operation)
        self.fail: dict[str, AwsError | list[AwsError]] = {}
        self.pending_polls = pending_polls  # describes before a transition completes
        self.root_delete_on_termination = True  # the root volume's DeleteOnTermination
        self._ids = itertools.count(1)
        self._countdown: dict[str, int] = {}
        self.on_call: dict[str, Any] = {}  # operation -> callable(region) run before it
        self.opened: list[SessionSettings] = []  # settings of every driver `factory` made
        self.closed = 0  # drivers closed

    def factory(self, settings: SessionSettings) -> FakeEc2Driver:
        """A `DriverFactory` override: a driver for the settings' region."""
        self.opened.append(settings)
        return FakeEc2Driver(self, settings.region)

    def new_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids):08x}"

    def driver(self, region: str = "us-east-1") -> FakeEc2Driver:
        return FakeEc2Driver(self, region)

    def add_image(self, region: str, image_id: str = "", **kw: Any) -> Image:
        image_id = image_id or self.new_id("ami")
        snap = self.new_id("snap")
        self.regions[region].snapshots[snap] = {"users": [], "groups": []}
        kw.setdefault("snapshot_ids", (snap,))
        kw.setdefault("creation_date", "2024-01-01T00:00:00.000Z")
        image = Image(id=image_id, **kw)
        self.regions[region].images[image_id] = image
        return image

    def record(self, region: str, operation: str) -> None:
        self.calls.append((region, operation))
        hook = self.on_call.get(operation)
        if hook is not None:
            hook(region)
        fault = self.fail.get(operation)
        if isinstance(fault, list):
            if fault:
                raise fault.pop(0)
        elif fault is not None:
            raise fault

    def operations(self) -> list[str]:
        return [op for _, op in self.calls]

    def leftovers(self) -> dict[str, list[str]]:
        """Instances not terminated, key pairs, groups, volumes, snapshots of no image."""
        out: dict[str, list[str]] = {}
        for name, r in self.regions.items():
            used = {s for i in r.images.values() for s in i.snapshot_ids}
            found = [i for i, inst in r.instances.items() if inst.state != "terminated"]
            found += list(r.key_pairs) + list(r.groups) + list(r.volumes)
            found += [s for s in r.snapshots if s not in used]
            if found:
                out[name] = found
        return out


class FakeEc2Driver:
    """Ec2Driver over a FakeCloud, for one region."""

    def __init__(self, cloud: FakeCloud, region: str):
        self.cloud, self.region = cloud, region

    @property
    def r(self) -> Region:
        return self.cloud.regions[self.region]

    def _op(self, operation: str) -> None:
        self.cloud.record(self.region, operation)

    def in_region(self, region: str) -> FakeEc2Driver:
        return FakeEc2Driver(self.cloud, region)

    def close(self) -> None:
        self.cloud.closed += 1

    def list_regions(self) -> list[str]:
        self._op("DescribeRegions")
        return sorted(self.cloud.regions)

    # ------------------------------------------------------------------ images
    def describe_images(
        self,
        *,
        image_ids: Sequence[str] = (),
        owners: Sequence[str] = (),
        filters: Filters | None = None,
    ) -> list[Image]:
        self._op("DescribeImages")
        self._advance_images()
        for image_id in image_ids:
            if image_id not in self.r.images:
                raise AwsError(
                    "DescribeImages",
                    "InvalidAMIID.NotFound",
                    f"The image id '[{image_id}]' does not exist",
                )
        out = []
        for image in self.r.images.values():
            if image_ids and image.id not in image_ids:
                continue
            if owners and image.owner_id not in owners and image.owner_alias not in owners:
                continue
            name_filter = (filters or {}).get("name")
            if name_filter is not None and not _glob(image.name, name_filter):
                continue
            out.append(replace(image, tags=dict(self.r.tags.get(image.id, image.tags))))
        return out

    def _advance_images(self) -> None:
        for image_id, image in list(self.r.images.items()):
            if image.state != "pending":
                continue
            left = self.cloud._countdown.get(image_id, 0)
            if left <= 0:
                self.r.images[image_id] = replace(image, state="available")
            else:
                self.cloud._countdown[image_id] = left - 1

    def create_image(
        self, instance_id: str, name: str, description: str, devices: Sequence[Any]
    ) -> str:
        self._op("CreateImage")
        if instance_id not in self.r.instances:
            raise AwsError("CreateImage", "InvalidInstanceID.NotFound", instance_id)
        snap = self.cloud.new_id("snap")
        self.r.snapshots[snap] = {"users": [], "groups": []}
        image = Image(
            id=self.cloud.new_id("ami"),
            name=name,
            state="pending",
            owner_id="self",
            snapshot_ids=(snap,),
        )
        self.r.images[image.id] = image
        self.cloud._countdown[image.id] = self.cloud.pending_polls
        return image.id

    def copy_image(
        self,
        source_region: str,
        source_image_id: str,
        name: str,
        description: str,
        encrypted: bool | None,
        kms_key_id: str,
    ) -> str:
        self._op("CopyImage")
        if source_image_id not in self.cloud.regions[source_region].images:
            raise AwsError("CopyImage", "InvalidAMIID.NotFound", source_image_id)
        snap = self.cloud.new_id("snap")
        self.r.snapshots[snap] = {"users": [], "groups": [], "encrypted": encrypted}
        image = Image(
            id=self.cloud.new_id("ami"),
            name=name,
            state="pending",
            owner_id="self",
            snapshot_ids=(snap,),
        )
        self.r.images[image.id] = image
        self.cloud._countdown[image.id] = self.cloud.pending_polls
        return image.id

    def deregister_image(self, image_id: str) -> None:
        self._op("DeregisterImage")
        if self.r.images.pop(image_id, None) is None:
            raise AwsError("DeregisterImage", "InvalidAMIID.NotFound", image_id)

    def delete_snapshot(self, snapshot_id: str) -> None:
        self._op("DeleteSnapshot")
        if self.r.snapshots.pop(snapshot_id, None) is None:
            raise AwsError("DeleteSnapshot", "InvalidSnapshot.NotFound", snapshot_id)

    def modify_image(
        self,
        image_id: str,
        *,
        description: str | None = None,
        users: Sequence[str] = (),
        groups: Sequence[str] = (),
        product_codes: Sequence[str] = (),
    ) -> None:
        self._op("ModifyImageAttribute")
        image = self.r.images[image_id]
        tags = dict(image.tags)
        if description is not None:
            tags["__description"] = description
        for name, values in (("__users", users), ("__groups", groups), ("__codes", product_codes)):
            if values:
                tags[name] = ",".join(values)
        self.r.images[image_id] = replace(image, tags=tags)

    def modify_snapshot(
        self, snapshot_id: str, *, users: Sequence[str] = (), groups: Sequence[str] = ()
    ) -> None:
        self._op("ModifySnapshotAttribute")
        snap = self.r.snapshots[snapshot_id]
        snap["users"] += list(users)
        snap["groups"] += list(groups)

    def create_tags(self, resource_ids: Sequence[str], tags: Mapping[str, str]) -> None:
        self._op("CreateTags")
        for rid in resource_ids:
            self.r.tags.setdefault(rid, {}).update(tags)

    # ------------------------------------------------------------------ network
    def describe_vpcs(
        self,
        *,
        vpc_ids: Sequence[str] = (),
        filters: Filters | None = None,
    ) -> list[Vpc]:
        self._op("DescribeVpcs")
        return [v for v in self.r.vpcs.values() if not vpc_ids or v.id in vpc_ids]

    def describe_subnets(
        self,
        *,
        subnet_ids: Sequence[str] = (),
        filters: Filters | None = None,
    ) -> list[Subnet]:
        self._op("DescribeSubnets")
        return [s for s in self.r.subnets.values() if not subnet_ids or s.id in subnet_ids]

    def describe_security_groups(
        self, *, group_ids: Sequence[str] = (), filters: Filters | None = None
    ) -> list[SecurityGroup]:
        self._op("DescribeSecurityGroups")
        for gid in group_ids:
            if gid not in self.r.groups:
                raise AwsError("DescribeSecurityGroups", "InvalidGroup.NotFound", gid)
        out = []
        for gid, group in self.r.groups.items():
            tags = self.r.tags.get(gid, {})
            if group_ids and gid not in group_ids:
                continue
            if not _matches(filters, tags, {"group-name": group["name"]}):
                continue
            out.append(SecurityGroup(gid, group["name"], group["vpc"], dict(tags)))
        return out

    def create_security_group(
        self, name: str, description: str, vpc_id: str, tags: Mapping[str, str]
    ) -> str:
        self._op("CreateSecurityGroup")
        gid = self.cloud.new_id("sg")
        self.r.groups[gid] = {"name": name, "vpc": vpc_id, "ingress": []}
        self.r.tags[gid] = dict(tags)
        return gid

    def authorize_ingress(self, group_id: str, port: int, cidrs: Sequence[str]) -> None:
        self._op("AuthorizeSecurityGroupIngress")
        self.r.groups[group_id]["ingress"].append((port, list(cidrs)))

    def delete_security_group(self, group_id: str) -> None:
        self._op("DeleteSecurityGroup")
        in_use = any(
            group_id in spec.security_group_ids and self.r.instances[i].state != "terminated"
            for i, spec in self.r.launches.items()
        )
        if in_use:
            raise AwsError("DeleteSecurityGroup", "DependencyViolation", f"{group_id} in use")
        if self.r.groups.pop(group_id, None) is None:
            raise AwsError("DeleteSecurityGroup", "InvalidGroup.NotFound", group_id)

    # ------------------------------------------------------------------ key pairs
    def create_key_pair(self, name: str, key_type: str, tags: Mapping[str, str]) -> str:
        self._op("CreateKeyPair")
        if name in self.r.key_pairs:
            raise AwsError("CreateKeyPair", "InvalidKeyPair.Duplicate", name)
        self.r.key_pairs[name] = key_type
        self.r.tags[name] = dict(tags)
        return f"-----BEGIN FAKE {key_type.upper()} KEY-----\n{name}\n-----END-----\n"

    def describe_key_pairs(self, *, filters: Filters | None = None) -> list[KeyPairInfo]:
        self._op("DescribeKeyPairs")
        return [
            KeyPairInfo(name, f"key-{name}", dict(self.r.tags.get(name, {})))
            for name in self.r.key_pairs
            if _matches(filters, self.r.tags.get(name, {}), {"key-name": name})
        ]

    def delete_key_pair(self, name: str) -> None:
        self._op("DeleteKeyPair")
        self.r.key_pairs.pop(name, None)

    # ------------------------------------------------------------------ instances
    def run_instance(self, spec: LaunchSpec) -> str:
        self._op("RunInstances")
        if spec.image_id not in self.r.images:
            raise AwsError("RunInstances", "InvalidAMIID.NotFound", spec.image_id)
        iid = self.cloud.new_id("i")
        vol = self.cloud.new_id("vol")
        self.r.volumes[vol] = "in-use"
        self.r.instances[iid] = Instance(
            id=iid,
            state="pending",
            vpc_id="vpc-1",
            subnet_id=spec.subnet_id or "subnet-1",
            public_ip="203.0.113.10",
            private_ip="10.0.0.10",
            volumes=(Attachment("/dev/sda1", vol, self.cloud.root_delete_on_termination),),
            client_token=spec.client_token,
        )
        self.r.launches[iid] = spec
        self.r.tags[iid] = dict(spec.tags)
        self.r.tags[vol] = dict(spec.volume_tags)
        self.cloud._countdown[iid] = self.cloud.pending_polls
        return iid

    def _settle(self, iid: str, after: dict[str, str]) -> Instance:
        inst = self.r.instances[iid]
        left = self.cloud._countdown.get(iid, 0)
        if inst.state in after:
            if left <= 0:
                inst = replace(inst, state=after[inst.state])
                self.r.instances[iid] = inst
            else:
                self.cloud._countdown[iid] = left - 1
        return inst

    def describe_instance(self, instance_id: str) -> Instance | None:
        self._op("DescribeInstances")
        return self._view(instance_id)

    def _view(self, instance_id: str) -> Instance | None:
        if instance_id not in self.r.instances:
            return None
        transitions = {"pending": "running", "stopping": "stopped", "shutting-down": "terminated"}
        inst = self._settle(instance_id, transitions)
        if inst.state == "terminated":
            for volume in inst.volumes:
                if volume.delete_on_termination:
                    self.r.volumes.pop(volume.volume_id, None)
                elif volume.volume_id in self.r.volumes:
                    self.r.volumes[volume.volume_id] = "available"
        return replace(inst, tags=dict(self.r.tags.get(instance_id, {})))

    def describe_instances(self, *, filters: Filters | None = None) -> list[Instance]:
        self._op("DescribeInstances")
        out = []
        for iid in list(self.r.instances):
            inst = self._view(iid)
            if inst is not None and _matches(
                filters, inst.tags, {"instance-state-name": inst.state}
            ):
                out.append(inst)
        return out

    def _set(self, iid: str, state: str, operation: str) -> None:
        if iid not in self.r.instances:
            raise AwsError(operation, "InvalidInstanceID.NotFound", iid)
        self.r.instances[iid] = replace(self.r.instances[iid], state=state)
        self.cloud._countdown[iid] = self.cloud.pending_polls

    def stop_instance(self, instance_id: str) -> None:
        self._op("StopInstances")
        self._set(instance_id, "stopping", "StopInstances")

    def terminate_instance(self, instance_id: str) -> None:
        self._op("TerminateInstances")
        self._set(instance_id, "shutting-down", "TerminateInstances")

    def modify_instance(
        self, instance_id: str, *, sriov: bool = False, ena: bool | None = None
    ) -> None:
        self._op("ModifyInstanceAttribute")

    def describe_volumes(self, volume_ids: Sequence[str]) -> list[tuple[str, str]]:
        self._op("DescribeVolumes")
        return [(v, self.r.volumes[v]) for v in volume_ids if v in self.r.volumes]

    def delete_volume(self, volume_id: str) -> None:
        self._op("DeleteVolume")
        self.r.volumes.pop(volume_id, None)


def _matches(filters: Filters | None, tags: Mapping[str, str], fields: Mapping[str, str]) -> bool:
    """EC2's filters as far as the fake models them: tag:K, tag-key and the named fields."""
    for name, wanted in (filters or {}).items():
        values = [wanted] if isinstance(wanted, str) else list(wanted)
        if name == "tag-key":
            if not any(v in tags for v in values):
                return False
        elif name.startswith("tag:"):
            if tags.get(name[4:]) not in values:
                return False
        elif name in fields and fields[name] not in values:
            return False
    return True


if TYPE_CHECKING:  # mypy checks that the fake implements the protocol
    _checked: Ec2Driver = FakeEc2Driver(FakeCloud(), "us-east-1")


def _glob(name: str, pattern: str | Sequence[str]) -> bool:
    import fnmatch

    patterns = [pattern] if isinstance(pattern, str) else list(pattern)
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)
