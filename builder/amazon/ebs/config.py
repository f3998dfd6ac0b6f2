"""Options of amazon-ebs: access, run, AMI and communicator settings, plus EBS mappings."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from builder.amazon.common.access import AccessConfig
from builder.amazon.common.config import AMIConfig, BlockDevice, RunConfig
from builder.communicator.config import CommunicatorConfig


class EbsConfig(AccessConfig, AMIConfig, RunConfig, CommunicatorConfig):
    """Every amazon-ebs option under Packer's name; cross-field checks run in prepare()."""

    secret_fields: ClassVar[tuple[str, ...]] = (
        *AccessConfig.secret_fields,
        *CommunicatorConfig.secret_fields,
    )

    communicator: Literal["ssh", "none"] = "ssh"  # type: ignore[assignment]
    ami_block_device_mappings: list[BlockDevice] = Field(default_factory=list)
    skip_create_ami: bool = False
