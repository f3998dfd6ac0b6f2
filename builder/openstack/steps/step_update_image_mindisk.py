"""StepUpdateImageMinDisk: set the new image's `image_min_disk`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from builder.errors import BuildError
from builder.openstack.driver import OpenStackError

if TYPE_CHECKING:
    from builder.openstack.run import OpenStackRun


@dataclass
class StepUpdateImageMinDisk:
    name: ClassVar[str] = "stepUpdateImageMinDisk"

    def run(self, ctx: OpenStackRun) -> None:
        min_disk = ctx.config.image_min_disk
        if not min_disk or not ctx.image_id:
            return
        ctx.ui.say(f"Updating image min disk to {min_disk}")
        try:
            ctx.driver.update_image(ctx.image_id, min_disk=min_disk)
        except OpenStackError as exc:
            raise BuildError(f"Error updating image min disk: {exc}") from exc

    def cleanup(self, ctx: OpenStackRun) -> None:
        """Nothing to undo."""
