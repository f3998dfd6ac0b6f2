"""Run (instance) and AMI options shared by amazon builders, with Packer's validation messages.

Each block's cross-field checks are `@config_check` methods; `AmazonConfig` is every block
an amazon builder has, and what the amazon steps read.
"""

from __future__ import annotations

import ipaddress
import os
import re
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from builder.amazon.common.access import AccessConfig
from builder.communicator.config import CommunicatorConfig
from builder.config import PluginConfig, StrList, config_check, option_error
from builder.errors import TemplateError
from builder.template.funcs import clean_resource_name


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, coerce_numbers_to_str=True)


Filters = dict[str, str | list[str]]


class AmiFilter(_Block):
    """`source_ami_filter`: DescribeImages filters, owners, and most_recent."""

    filters: Filters = Field(default_factory=dict)
    owners: StrList = Field(default_factory=list)
    most_recent: bool = False

    def empty(self) -> bool:
        return not self.filters and not self.owners


class SubnetFilter(_Block):
    """`subnet_filter`: filters, and how to pick one subnet of several."""

    filters: Filters = Field(default_factory=dict)
    most_free: bool = False
    random: bool = False


class Filter(_Block):
    """`vpc_filter` / `security_group_filter`."""

    filters: Filters = Field(default_factory=dict)


class KeyValue(_Block):
    """One element of the singular block forms (`tag`, `run_tag`, ...)."""

    key: str = ""
    value: str = ""


class BlockDevice(_Block):
    """One entry of launch_block_device_mappings / ami_block_device_mappings."""

    device_name: str = ""
    delete_on_termination: bool = False
    encrypted: bool | None = None
    iops: int = 0
    throughput: int = 0
    kms_key_id: str = ""
    no_device: bool = False
    snapshot_id: str = ""
    virtual_name: str = ""
    volume_type: str = ""
    volume_size: int = 0

    def problems(self) -> list[tuple[str, str]]:
        """(relative option, message) for Packer's BlockDevice.Prepare checks."""
        out: list[tuple[str, str]] = []
        if not self.device_name:
            out.append(
                (
                    "device_name",
                    "The `device_name` must be specified for every device in the block "
                    "device mapping.",
                )
            )
        if self.kms_key_id and self.encrypted is False:
            out.append(
                (
                    "kms_key_id",
                    f"The device {self.device_name}, must also have `encrypted: true` when "
                    "setting a kms_key_id.",
                )
            )
        if self.throughput and self.volume_type != "gp3":
            out.append(
                (
                    "throughput",
                    f"The device {self.device_name}: throughput is only valid for gp3 volumes",
                )
            )
        return out


_INTERFACES = ("public_ip", "private_ip", "public_dns", "private_dns")
_UNSUPPORTED = (
    "spot_price",
    "spot_instance_types",
    "spot_tags",
    "temporary_iam_instance_profile_policy_document",
)


class RunConfig(PluginConfig):
    """Packer's RunConfig: the source instance and where it runs."""

    source_ami: str = ""
    source_ami_filter: AmiFilter = Field(default_factory=AmiFilter)
    instance_type: str = ""
    availability_zone: str = ""
    subnet_id: str = ""
    subnet_filter: SubnetFilter = Field(default_factory=SubnetFilter)
    vpc_id: str = ""
    vpc_filter: Filter = Field(default_factory=Filter)
    security_group_id: str = ""
    security_group_ids: StrList = Field(default_factory=list)
    security_group_filter: Filter = Field(default_factory=Filter)
    temporary_security_group_source_cidrs: StrList = Field(default_factory=list)
    associate_public_ip_address: bool = False
    iam_instance_profile: str = ""
    user_data: str = ""
    user_data_file: str = ""
    ebs_optimized: bool = False
    enable_t2_unlimited: bool = False
    shutdown_behavior: str = "stop"
    tenancy: str = ""
    no_ephemeral: bool = False
    disable_stop_instance: bool = False
    launch_block_device_mappings: list[BlockDevice] = Field(default_factory=list)
    run_tags: dict[str, str] = Field(default_factory=dict)
    run_tag: list[KeyValue] = Field(default_factory=list)
    run_volume_tags: dict[str, str] = Field(default_factory=dict)
    run_volume_tag: list[KeyValue] = Field(default_factory=list)
    ssh_interface: str = ""
    windows_password_timeout: str = ""
    spot_price: str = ""
    spot_instance_types: StrList = Field(default_factory=list)
    spot_tags: dict[str, str] = Field(default_factory=dict)
    temporary_iam_instance_profile_policy_document: dict[str, Any] | None = None

    @field_validator("shutdown_behavior", mode="before")
    @classmethod
    def _default_shutdown(cls, value: Any) -> Any:
        return value or "stop"

    @config_check
    def merge_run_tag_blocks(self) -> list[TemplateError]:
        """`run_tag` / `run_volume_tag` blocks onto their maps (Packer's CopyOn)."""
        return merge_pairs("run_tag", self.run_tag, self.run_tags) + merge_pairs(
            "run_volume_tag", self.run_volume_tag, self.run_volume_tags
        )

    @config_check
    def check_run(self) -> list[TemplateError]:
        """Packer's RunConfig.Prepare checks (the communicator's are its own)."""
        errs: list[TemplateError] = []

        def err(key: str, message: str, *more: str | int) -> None:
            errs.append(option_error(message, key, *more))

        for name in _UNSUPPORTED:
            if self.was_set(name) and getattr(self, name):
                err(name, f"{name} is not supported by pybuild (no spot or temporary IAM support)")
        if self.ssh_interface == "session_manager":
            err("ssh_interface", "session_manager connectivity is not supported by pybuild")
        elif self.ssh_interface not in ("", *_INTERFACES):
            err("ssh_interface", f"Unknown interface type: {self.ssh_interface}")
        if not self.source_ami and self.source_ami_filter.empty():
            err("source_ami", "A source_ami or source_ami_filter must be specified")
        if not self.source_ami and not self.source_ami_filter.owners:
            if not self.source_ami_filter.empty():
                err(
                    "source_ami_filter",
                    "For security reasons, your source AMI filter must declare an owner.",
                    "owners",
                )
        if not self.instance_type:
            err("instance_type", "either instance_type or spot_instance_types must be specified")
        if self.user_data and self.user_data_file:
            err("user_data_file", "Only one of user_data or user_data_file can be specified.")
        elif self.user_data_file and not os.path.exists(self.user_data_file):
            err("user_data_file", f"user_data_file not found: {self.user_data_file}")
        if self.security_group_id and self.security_group_ids:
            err(
                "security_group_id",
                "Only one of security_group_id or security_group_ids can be specified.",
            )
        for i, cidr in enumerate(self.temporary_security_group_source_cidrs):
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                err(
                    "temporary_security_group_source_cidrs",
                    "Error parsing CIDR in temporary_security_group_source_cidrs: "
                    f"invalid CIDR address: {cidr}",
                    i,
                )
        if self.shutdown_behavior not in ("stop", "terminate"):
            err("shutdown_behavior", "shutdown_behavior only accepts 'stop' or 'terminate' values.")
        if self.enable_t2_unlimited:
            family = self.instance_type.split(".", 1)[0] if "." in self.instance_type else ""
            if not family:
                err(
                    "instance_type",
                    f"Error determining main Instance Type from: {self.instance_type}",
                )
            elif family != "t2":
                err(
                    "enable_t2_unlimited",
                    "Error: T2 Unlimited enabled with a non-T2 Instance Type: "
                    f"{self.instance_type}",
                )
        if self.tenancy not in ("", "default", "dedicated", "host"):
            err("tenancy", f"Error: Unknown tenancy type {self.tenancy}")
        return errs

    @config_check
    def check_launch_devices(self) -> list[TemplateError]:
        return check_devices("launch_block_device_mappings", self.launch_block_device_mappings)

    def security_groups(self) -> list[str]:
        """security_group_id folded into security_group_ids."""
        return [self.security_group_id] if self.security_group_id else list(self.security_group_ids)

    def source_cidrs(self) -> list[str]:
        return list(self.temporary_security_group_source_cidrs) or ["0.0.0.0/0"]


class AMIConfig(PluginConfig):
    """Packer's AMIConfig: the image made, where it is copied, who may use it, its tags."""

    ami_name: str = ""
    ami_description: str = ""
    ami_virtualization_type: str = ""
    ami_users: StrList = Field(default_factory=list)
    ami_groups: StrList = Field(default_factory=list)
    ami_product_codes: StrList = Field(default_factory=list)
    ami_regions: StrList = Field(default_factory=list)
    region_kms_key_ids: dict[str, str] = Field(default_factory=dict)
    encrypt_boot: bool | None = None
    kms_key_id: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    tag: list[KeyValue] = Field(default_factory=list)
    snapshot_tags: dict[str, str] = Field(default_factory=dict)
    snapshot_tag: list[KeyValue] = Field(default_factory=list)
    snapshot_users: StrList = Field(default_factory=list)
    snapshot_groups: StrList = Field(default_factory=list)
    ena_support: bool | None = None
    sriov_support: bool = False
    force_deregister: bool = False
    force_delete_snapshot: bool = False
    skip_save_build_region: bool = False

    @config_check
    def merge_tag_blocks(self) -> list[TemplateError]:
        """`tag` / `snapshot_tag` blocks onto their maps (Packer's CopyOn)."""
        return merge_pairs("tag", self.tag, self.tags) + merge_pairs(
            "snapshot_tag", self.snapshot_tag, self.snapshot_tags
        )

    @config_check
    def check_ami(self) -> list[TemplateError]:
        """Packer's AMIConfig.Prepare checks; the name is checked as far as it is known now."""
        errs: list[TemplateError] = []

        def err(key: str, message: str, *more: str | int) -> None:
            errs.append(option_error(message, key, *more))

        if not self.ami_name:
            err("ami_name", "ami_name must be specified")
        else:
            errs.extend(check_ami_name(self.ami_name, partial=True))
        for region in self.region_kms_key_ids:
            if region not in self.ami_regions:
                err(
                    "region_kms_key_ids",
                    f"Region {region} is in region_kms_key_ids but not in ami_regions",
                    region,
                )
        if self.region_kms_key_ids:
            for i, region in enumerate(self.ami_regions):
                if region not in self.region_kms_key_ids:
                    err(
                        "ami_regions",
                        f"Region {region} is in ami_regions but not in region_kms_key_ids",
                        i,
                    )
        if self.ami_users and self.encrypt_boot:
            if not self.kms_key_id and not self.region_kms_key_ids:
                err("ami_users", "Cannot share AMI encrypted with default KMS key")
            if any(not k for k in self.region_kms_key_ids.values()):
                err(
                    "ami_users", "Cannot share AMI encrypted with default KMS key for other regions"
                )
        keys = [self.kms_key_id] if self.kms_key_id else []
        keys += [k for k in self.region_kms_key_ids.values() if k]
        if keys and not self.encrypt_boot:
            err(
                "encrypt_boot",
                "If you have set either region_kms_key_ids or kms_key_id, encrypt_boot must "
                "also be true.",
            )
        for key in keys:
            if not valid_kms_key(key):
                err("kms_key_id", f'"{key}" is not a valid KMS Key Id.')
        if self.snapshot_users and self.encrypt_boot:
            if not self.kms_key_id and not self.region_kms_key_ids:
                err(
                    "snapshot_users",
                    "Cannot share snapshot encrypted with default KMS key",
                )
        if self.ami_virtualization_type not in ("", "hvm", "paravirtual"):
            err("ami_virtualization_type", "ami_virtualization_type must be hvm or paravirtual")
        return errs

    def copy_regions(self, build_region: str) -> list[str]:
        """ami_regions without duplicates and without the build region (Packer drops it)."""
        out: list[str] = []
        for region in self.ami_regions:
            if region and region != build_region and region not in out:
                out.append(region)
        return out


_TEMPLATE = re.compile(r"\{\{.*?\}\}", re.S)
NAME_RULE = (
    "AMIName should only contain alphanumeric characters, parentheses (()), square brackets "
    "([]), spaces ( ), periods (.), slashes (/), dashes (-), single quotes ('), at-signs (@), "
    "or underscores(_). You can use the `clean_resource_name` template filter to automatically "
    "clean your ami name."
)


def check_ami_name(name: str, *, partial: bool = False) -> list[TemplateError]:
    """AWS's rules for an AMI name; with `partial`, `{{ }}` parts still to render are skipped."""
    static = _TEMPLATE.sub("", name) if partial else name
    deferred = static != name
    errs: list[TemplateError] = []
    if not deferred and not 3 <= len(name) <= 128:
        errs.append(option_error("ami_name must be between 3 and 128 characters long", "ami_name"))
    if static != clean_resource_name(static):
        errs.append(option_error(NAME_RULE, "ami_name"))
    return errs


_KMS_ID = r"[a-f0-9]+[a-f0-9-]+$"
_KMS_MRK = r"mrk-[a-f0-9]+[a-f0-9-]+$"
_KMS_ALIAS = r"alias/[a-zA-Z0-9:/_-]+$"
_KMS_ARN = r"^arn:aws(-us-gov)?:kms:([a-z]{2}-(gov-)?[a-z]+-\d{1})?:(\d{12}):"


def valid_kms_key(key: str) -> bool:
    """A KMS key id, alias or ARN in the forms CopyImage accepts."""
    if any(re.match("^" + p, key) for p in (_KMS_ID, _KMS_MRK, _KMS_ALIAS)):
        return True
    return any(
        re.match(_KMS_ARN + tail, key) for tail in ("key/" + _KMS_ID, "key/" + _KMS_MRK, _KMS_ALIAS)
    )


def check_devices(option: str, devices: list[BlockDevice]) -> list[TemplateError]:
    """Packer's BlockDevice.Prepare checks for each device of one mapping option."""
    return [
        option_error(message, option, i, rel)
        for i, device in enumerate(devices)
        for rel, message in device.problems()
    ]


def merge_pairs(block: str, items: list[KeyValue], into: dict[str, str]) -> list[TemplateError]:
    """Copy a singular block (`tag: [{key, value}]`) onto its map, in place (Packer's CopyOn)."""
    errs: list[TemplateError] = []
    for i, kv in enumerate(items):
        if not kv.key:
            errs.append(option_error("Key cannot be empty", block, i, "key"))
            continue
        into[kv.key] = kv.value
    return errs


class AmazonConfig(AccessConfig, AMIConfig, RunConfig, CommunicatorConfig):
    """Every block an amazon builder shares: access, run, AMI and communicator options.

    The builder supplies the address (the instance's) and, unless the template names a
    way in, a temporary EC2 key pair.
    """

    host_required: ClassVar[bool] = False
    generates_key: ClassVar[bool] = True

    communicator: Literal["ssh", "none"] = "ssh"  # type: ignore[assignment]

    def wants_temporary_key_pair(self) -> bool:
        """Packer makes a temporary key pair unless the template names a way in already."""
        if self.temporary_key_pair_name:
            return True
        return not (self.ssh_keypair_name or self.ssh_private_key_file or self.ssh_password)

    @config_check
    def check_temporary_key_pair(self) -> list[TemplateError]:
        if self.wants_temporary_key_pair() and self.temporary_key_pair_type not in (
            "rsa",
            "ed25519",
        ):
            return [
                option_error(
                    "temporary_key_pair_type requires either rsa or ed25519 as its value",
                    "temporary_key_pair_type",
                )
            ]
        return []
