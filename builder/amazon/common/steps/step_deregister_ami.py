"""StepDeregisterAMI: with force_deregister, remove the AMIs that carry the name already."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from builder.amazon.common.driver import AwsError
from builder.amazon.common.steps.helpers import resolve_ami_name
from builder.errors import BuildError

if TYPE_CHECKING:
    from builder.amazon.common.run import AmazonRun


@dataclass
class StepDeregisterAMI:
    """force_deregister: remove same-named AMIs (and with force_delete_snapshot, snapshots)."""

    name: ClassVar[str] = "StepDeregisterAMI"

    def run(self, ctx: AmazonRun) -> None:
        cfg, ui = ctx.config, ctx.ui
        if not cfg.force_deregister:
            return
        name = ctx.ami_name or resolve_ami_name(ctx)
        for region in [*cfg.copy_regions(ctx.region), ctx.region]:
            driver = ctx.driver.in_region(region)
            try:
                images = driver.describe_images(owners=["self"], filters={"name": name})
            except AwsError as exc:
                raise BuildError(f"Error describing AMI: {exc}") from exc
            for image in images:
                try:
                    driver.deregister_image(image.id)
                except AwsError as exc:
                    raise BuildError(f"Error deregistering existing AMI: {exc}") from exc
                ui.say(f"Deregistered AMI {name}, id: {image.id}")
                if not cfg.force_delete_snapshot:
                    continue
                for snapshot in image.snapshot_ids:
                    try:
                        driver.delete_snapshot(snapshot)
                    except AwsError as exc:
                        raise BuildError(f"Error deleting existing snapshot: {exc}") from exc
                    ui.say(f"Deleted snapshot: {snapshot}")

    def cleanup(self, ctx: AmazonRun) -> None:
        """What was deregistered stays deregistered."""
