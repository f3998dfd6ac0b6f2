"""amazon-ebs: launch an instance from a source AMI, provision it, make an EBS-backed AMI."""

from __future__ import annotations

from collections.abc import Sequence

from builder.amazon.common.artifact import AmiArtifact
from builder.amazon.common.driver import AMAZON, Ec2Driver, SessionSettings
from builder.amazon.common.polling import Polling
from builder.amazon.common.run import AmazonRun
from builder.amazon.common.steps import (
    StepAMIRegionCopy,
    StepCleanupVolumes,
    StepCreateAMI,
    StepCreateTags,
    StepDeregisterAMI,
    StepKeyPair,
    StepModifyAMIAttributes,
    StepModifyInstance,
    StepNetworkInfo,
    StepPreValidate,
    StepRunSourceInstance,
    StepSecurityGroup,
    StepSourceAMIInfo,
    StepStopInstance,
    instance_host,
    name_checked_late,
    packer_uuid,
)
from builder.amazon.ebs.config import EbsConfig
from builder.artifact import Artifact
from builder.common.builder import PlatformBuilder
from builder.common.run import RunArgs
from builder.common.steps import StepCleanupTempKeys, StepConnect, StepProvision
from builder.multistep import Step

BUILDER_ID = "mitchellh.amazonebs"


class Builder(PlatformBuilder[AmazonRun]):
    """Packer's amazon-ebs, step for step."""

    Config = EbsConfig
    builder_id = BUILDER_ID
    config: EbsConfig
    drivers = AMAZON
    _temp_key: str = ""

    def warnings(self) -> list[str]:
        return ["skip_metadata_api_check ignored."] if self.config.skip_metadata_api_check else []

    def temporary_key_name(self) -> str:
        """`temporary_key_pair_name`, or Packer's `packer_<uuid>`; empty when not needed."""
        cfg = self.config
        if not cfg.wants_temporary_key_pair():
            return ""
        if not self._temp_key:
            self._temp_key = cfg.temporary_key_pair_name or f"packer_{packer_uuid()}"
        return self._temp_key

    def driver_settings(self) -> SessionSettings:
        return self.config.session_settings()

    def new_run(self, args: RunArgs, driver: Ec2Driver) -> AmazonRun:
        polling = Polling.from_config(self.config.aws_polling)
        return AmazonRun(**args, config=self.config, driver=driver, polling=polling)

    def steps(self) -> Sequence[Step[AmazonRun] | None]:
        """Packer 1.6.6's amazon-ebs step list."""
        cfg, opts = self.config, self.options
        return [
            StepPreValidate(skip_create_ami=cfg.skip_create_ami),
            StepSourceAMIInfo(
                check_name=name_checked_late(cfg, skip_create_ami=cfg.skip_create_ami)
            ),
            StepNetworkInfo(),
            StepKeyPair(self.temporary_key_name(), f"ec2_{opts.build_name}.pem"),
            StepSecurityGroup(),
            StepCleanupVolumes(),
            StepRunSourceInstance(),
            StepConnect(host=instance_host(cfg.ssh_interface)),
            StepProvision(),
            StepCleanupTempKeys(),
            StepStopInstance(),
            StepModifyInstance(),
            StepDeregisterAMI(),
            StepCreateAMI(skip=cfg.skip_create_ami, devices=list(cfg.ami_block_device_mappings)),
            StepAMIRegionCopy(skip=cfg.skip_create_ami),
            StepModifyAMIAttributes(),
            StepCreateTags(),
        ]

    def artifact(self, ctx: AmazonRun) -> Artifact | None:
        if not ctx.amis:
            return None
        ctx.keep_artifact()
        return AmiArtifact(BUILDER_ID, ctx.amis, self.driver_settings(), ctx.generated_data())
