"""Options of amazon-ebs: every amazon block, plus the AMI's block devices and skip_create_ami."""

from __future__ import annotations

from pydantic import Field

from builder.amazon.common.config import AmazonConfig, BlockDevice, check_devices
from builder.config import config_check
from builder.errors import TemplateError


class EbsConfig(AmazonConfig):
    """Every amazon-ebs option under Packer's name; the checks are collected by `check()`."""

    ami_block_device_mappings: list[BlockDevice] = Field(default_factory=list)
    skip_create_ami: bool = False

    @config_check
    def check_ami_devices(self) -> list[TemplateError]:
        return check_devices("ami_block_device_mappings", self.ami_block_device_mappings)
