"""StepCreateTags: tags on every AMI and its snapshots, snapshot_tags on the snapshots."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from builder.amazon.common.driver import AwsError
from builder.common.wait import retry
from builder.errors import BuildError

if TYPE_CHECKING:
    from builder.amazon.common.run import AmazonRun


@dataclass
class StepCreateTags:
    """tags on every AMI and its snapshots, snapshot_tags on the snapshots, in each region."""

    name: ClassVar[str] = "StepCreateTags"

    def run(self, ctx: AmazonRun) -> None:
        cfg = ctx.config
        if not cfg.tags and not cfg.snapshot_tags:
            return
        for region, ami in sorted(ctx.amis.items()):
            self._tag(ctx, region, ami)

    def _tag(self, ctx: AmazonRun, region: str, ami: str) -> None:
        cfg, ui = ctx.config, ctx.ui
        ui.say(f"Adding tags to AMI ({ami})...")
        driver = ctx.driver.in_region(region)
        snapshot_ids = ctx.snapshots.get(region)
        if snapshot_ids is None:  # the waits return the image; ask only when they did not
            try:
                found = driver.describe_images(image_ids=[ami])
            except AwsError as exc:
                raise BuildError(f"Error retrieving details for AMI ({ami}): {exc}") from exc
            if not found:
                raise BuildError(f"Error retrieving details for AMI ({ami}), no images found")
            snapshot_ids = list(found[0].snapshot_ids)
        for snapshot in snapshot_ids:
            ui.say(f"Tagging snapshot: {snapshot}")
        ui.say("Creating AMI tags")
        ami_tags = ctx.render_tags(cfg.tags)  # Packer renders with the build region
        ctx.report_tags(ami_tags)
        ui.say("Creating snapshot tags")
        snapshot_tags = ctx.render_tags(cfg.snapshot_tags)
        ctx.report_tags(snapshot_tags)
        resources = [ami, *snapshot_ids]

        def tag() -> None:
            if ami_tags:
                driver.create_tags(resources, ami_tags)
            if snapshot_tags and snapshot_ids:
                driver.create_tags(snapshot_ids, snapshot_tags)

        try:
            retry(
                tag,
                retry_on=lambda e: (
                    isinstance(e, AwsError)
                    and e.code in ("InvalidAMIID.NotFound", "InvalidSnapshot.NotFound")
                ),
                cancel=ctx.cancel,
            )
        except AwsError as exc:
            raise BuildError(f"Error adding tags to Resources ({resources}): {exc}") from exc

    def cleanup(self, ctx: AmazonRun) -> None:
        """Tags go with the AMIs."""
