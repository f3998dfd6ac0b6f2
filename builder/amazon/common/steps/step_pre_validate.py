"""StepPreValidate: before anything is created, check the regions, the VPC and the AMI name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from builder.amazon.common.driver import AwsError
from builder.amazon.common.steps.helpers import go_list, needs_source_data, prevalidate_name
from builder.errors import BuildError

if TYPE_CHECKING:
    from builder.amazon.common.run import AmazonRun


@dataclass
class StepPreValidate:
    """Regions exist, the VPC is usable, the AMI name is free (unless force_deregister)."""

    name: ClassVar[str] = "StepPreValidate"
    skip_create_ami: bool = False

    def run(self, ctx: AmazonRun) -> None:
        cfg, ui = ctx.config, ctx.ui
        if not cfg.skip_region_validation:
            self._check_regions(ctx)
        if cfg.force_deregister:
            ui.say("Force Deregister flag found, skipping prevalidating AMI Name")
            return
        if cfg.skip_save_build_region:
            ui.say("skip_build_region was set; not prevalidating AMI name")
            return
        if self.skip_create_ami:
            ui.say("skip_create_ami was set; not prevalidating AMI name")
            return
        ui.say("Prevalidating any provided VPC information")
        self._check_vpc(ctx)
        if not needs_source_data(cfg.ami_name):
            prevalidate_name(ctx)  # else StepSourceAMIInfo checks it once the source is known

    def _check_regions(self, ctx: AmazonRun) -> None:
        wanted = [*ctx.config.copy_regions(ctx.region), ctx.region]
        try:
            valid = ctx.driver.list_regions()
        except AwsError as exc:
            raise BuildError(f"error validating regions: {exc}") from exc
        invalid = [r for r in wanted if r not in valid]
        if invalid:
            raise BuildError(
                f"error validating regions: Invalid region(s): {go_list(invalid)}, "
                f"available regions: {go_list(valid)}"
            )

    def _check_vpc(self, ctx: AmazonRun) -> None:
        cfg = ctx.config
        if not cfg.vpc_id or cfg.subnet_id or cfg.subnet_filter.filters:
            return
        try:
            vpcs = ctx.driver.describe_vpcs(vpc_ids=[cfg.vpc_id])
        except AwsError as exc:
            raise BuildError(
                f"Error retrieving VPC information for vpc_id {cfg.vpc_id}: {exc}"
            ) from exc
        if len(vpcs) == 1 and not vpcs[0].is_default:
            raise BuildError(
                "Error: subnet_id or subnet_filter must be provided for non-default VPCs "
                f"({cfg.vpc_id})"
            )

    def cleanup(self, ctx: AmazonRun) -> None:
        """Nothing was created."""
