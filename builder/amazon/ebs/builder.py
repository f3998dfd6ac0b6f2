"""amazon-ebs: launch an instance from a source AMI, provision it, make an EBS-backed AMI."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from builder.amazon.common.artifact import AmiArtifact
from builder.amazon.common.config import check_devices, merge_tag_blocks
from builder.amazon.common.state import AmazonRun
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
from builder.amazon.common.waiter import Polling
from builder.amazon.ebs.config import EbsConfig
from builder.artifact import Artifact
from builder.common.steps import StepProvision
from builder.common.steps import StepCleanupTempKeys, StepConnect
from builder.components import Builder as BaseBuilder
from builder.components import Hook
from builder.errors import ConfigErrors, Location, TemplateError
from builder.multistep import CancelToken, Step, run_build_steps

if TYPE_CHECKING:
    from builder.amazon.common.ec2 import Ec2Driver
    from builder.ui import Ui

BUILDER_ID = "mitchellh.amazonebs"


class Builder(BaseBuilder):
    """Packer's amazon-ebs, step for step."""

    Config = EbsConfig
    builder_id = BUILDER_ID
    config: EbsConfig

    def prepare(self) -> list[str]:
        cfg = self.config
        errs: list[TemplateError] = merge_tag_blocks(cfg)
        errs += cfg.check_access()
        errs += cfg.check_run()
        errs += cfg.check_ami(cfg.build_region())
        errs += check_devices("ami_block_device_mappings", cfg.ami_block_device_mappings)
        errs += cfg.check_communicator(host_required=False, generates_key=True)
        if self.temporary_key_name() and cfg.temporary_key_pair_type not in ("rsa", "ed25519"):
            errs.append(
                TemplateError(
                    "temporary_key_pair_type requires either rsa or ed25519 as its value",
                    Location(path="temporary_key_pair_type"),
                )
            )
        if errs:
            raise ConfigErrors(errs)
        warnings = []
        if cfg.skip_metadata_api_check:
            warnings.append("skip_metadata_api_check ignored.")
        return warnings

    def temporary_key_name(self) -> str:
        """Packer makes a temporary key pair unless the template names a way in already."""
        cfg = self.config
        if cfg.temporary_key_pair_name:
            return cfg.temporary_key_pair_name
        if cfg.ssh_keypair_name or cfg.ssh_private_key_file or cfg.ssh_password:
            return ""
        if not getattr(self, "_temp_key", ""):
            self._temp_key = f"packer_{packer_uuid()}"
        return self._temp_key

    def make_driver(self) -> Ec2Driver:
        """The boto3 driver (boto3 is imported when the first call is made)."""
        from builder.amazon.common.driver import make_driver

        return make_driver(self.config.session_settings())

    def steps(self) -> list[Step | None]:
        """Packer 1.6.6's amazon-ebs step list."""
        cfg, opts = self.config, self.options
        return [
            StepPreValidate(),
            StepSourceAMIInfo(check_name=name_checked_late(cfg)),
            StepNetworkInfo(),
            StepKeyPair(self.temporary_key_name(), f"ec2_{opts.build_name}.pem"),
            StepSecurityGroup(),
            StepCleanupVolumes(),
            StepRunSourceInstance(),
            StepConnect(host=instance_host(cfg.ssh_interface)),  # type: ignore[arg-type]
            StepProvision(),
            StepCleanupTempKeys(),
            StepStopInstance(),
            StepModifyInstance(),
            StepDeregisterAMI(),
            StepCreateAMI(),
            StepAMIRegionCopy(),
            StepModifyAMIAttributes(),
            StepCreateTags(),
        ]

    def run(self, ui: Ui, hook: Hook, cancel: CancelToken) -> Artifact | None:
        opts = self.options
        driver = self.make_driver()

        def render(text: str, data: Any) -> str:
            return opts.render_text(text, data=data)

        ctx = AmazonRun(
            ui,
            cancel,
            hook,
            self.config,
            driver,
            render,
            build_name=opts.build_name,
            debug=opts.debug,
            polling=Polling.from_config(self.config.aws_polling),
        )
        run_build_steps(self.steps(), ctx, opts)
        if not ctx.amis:
            return None
        return AmiArtifact(BUILDER_ID, ctx.amis, driver, ctx.generated_data())
