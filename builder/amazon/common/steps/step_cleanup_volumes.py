"""StepCleanupVolumes: after the instance is gone, delete the volumes it left `available`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from builder.amazon.common.driver import PLATFORM, AwsError

if TYPE_CHECKING:
    from builder.amazon.common.run import AmazonRun


@dataclass
class StepCleanupVolumes:
    """Cleanup only: delete launch volumes left `available` (not delete-on-termination).

    Volumes of a launch mapping are left alone: their `delete_on_termination` decides.
    """

    name: ClassVar[str] = "StepCleanupVolumes"

    def run(self, ctx: AmazonRun) -> None:
        """Nothing to do until cleanup."""

    def cleanup(self, ctx: AmazonRun) -> None:
        ui, instance = ctx.ui, ctx.instance
        by_id = {v.volume_id: v.device for v in instance.volumes} if instance else {}
        recorded = [
            r.id
            for r in ctx.resources.outstanding()
            if r.platform == PLATFORM and r.kind == "volume"
        ]
        for volume_id in recorded:  # an earlier instance's (a retried launch)
            by_id.setdefault(volume_id, "")
        if not by_id:
            ui.say("No volumes to clean up, skipping")
            return
        ui.say("Cleaning up any extra volumes...")
        try:
            found = ctx.driver.describe_volumes(list(by_id))
        except AwsError as exc:
            ui.say(f"Error describing volumes: {exc}")
            return
        for volume_id in set(recorded) - {v for v, _ in found}:
            ctx.released(volume_id)  # deleted on termination after all
        if not found:
            ui.say("No volumes to clean up, skipping")
            return
        keep = {d.device_name for d in ctx.config.launch_block_device_mappings}
        for volume_id, state in found:
            if state != "available" or by_id.get(volume_id) in keep:
                continue
            ui.say(f"Destroying volume ({volume_id})...")
            try:
                ctx.driver.delete_volume(volume_id)
            except AwsError as exc:
                ui.say(f"Error deleting volume: {exc}")
                continue
            ctx.released(volume_id)
