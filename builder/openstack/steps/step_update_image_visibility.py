"""StepUpdateImageVisibility: set the new image's `image_visibility`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from builder.errors import BuildError
from builder.openstack.driver import OpenStackError

if TYPE_CHECKING:
    from builder.openstack.run import OpenStackRun


@dataclass
class StepUpdateImageVisibility:
    name: ClassVar[str] = "stepUpdateImageVisibility"

    def run(self, ctx: OpenStackRun) -> None:
        visibility = ctx.config.visibility()
        if not visibility or not ctx.image_id:
            return
        ctx.ui.say(f"Updating image visibility to {visibility}")
        try:
            ctx.driver.update_image(ctx.image_id, visibility=visibility)
        except OpenStackError as exc:
            raise BuildError(f"Error updating image visibility: {exc}") from exc

    def cleanup(self, ctx: OpenStackRun) -> None:
        """Nothing to undo."""
