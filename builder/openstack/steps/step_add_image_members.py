"""StepAddImageMembers: share the new image with `image_members` (and accept for them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from builder.errors import BuildError
from builder.openstack.driver import OpenStackError

if TYPE_CHECKING:
    from builder.openstack.run import OpenStackRun


@dataclass
class StepAddImageMembers:
    name: ClassVar[str] = "stepAddImageMembers"

    def run(self, ctx: OpenStackRun) -> None:
        cfg, image_id = ctx.config, ctx.image_id
        if not cfg.image_members or not image_id:
            return
        for member in cfg.image_members:
            ctx.ui.say(f"Adding member '{member}' to image {image_id}")
            try:
                ctx.driver.add_image_member(image_id, member)
            except OpenStackError as exc:
                raise BuildError(f"Error adding member to image: {exc}") from exc
        if not cfg.image_auto_accept_members:
            return
        for member in cfg.image_members:
            ctx.ui.say(f"Accepting image {image_id} for member '{member}'")
            try:
                ctx.driver.accept_image_member(image_id, member)
            except OpenStackError as exc:
                raise BuildError(f"Error accepting image for member: {exc}") from exc

    def cleanup(self, ctx: OpenStackRun) -> None:
        """Nothing to undo."""
