"""StepUpdateImageTags: replace the new image's tags with `image_tags`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from builder.errors import BuildError
from builder.openstack.driver import OpenStackError

if TYPE_CHECKING:
    from builder.openstack.run import OpenStackRun


@dataclass
class StepUpdateImageTags:
    name: ClassVar[str] = "stepUpdateImageTags"

    def run(self, ctx: OpenStackRun) -> None:
        tags = ctx.config.image_tags
        if not tags or not ctx.image_id:
            return
        ctx.ui.say(f"Updating image tags to {', '.join(tags)}")
        try:
            ctx.driver.update_image(ctx.image_id, tags=list(tags))
        except OpenStackError as exc:
            raise BuildError(f"Error updating image tags: {exc}") from exc

    def cleanup(self, ctx: OpenStackRun) -> None:
        """Nothing to undo."""
