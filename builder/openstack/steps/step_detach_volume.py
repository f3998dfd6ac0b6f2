"""StepDetachVolume: with use_blockstorage_volume, detach the boot volume for the upload."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from builder.common.wait import WaitFailed
from builder.errors import BuildError
from builder.openstack.driver import OpenStackError
from builder.openstack.waits import wait_volume_available

if TYPE_CHECKING:
    from builder.openstack.run import OpenStackRun


@dataclass
class StepDetachVolume:
    name: ClassVar[str] = "StepDetachVolume"
    volume_name: str = ""

    def run(self, ctx: OpenStackRun) -> None:
        if not ctx.config.use_blockstorage_volume:
            return
        volume_id = ctx.volume_id
        ctx.ui.say(f"Detaching volume {self.volume_name} (volume id: {volume_id})")
        try:
            ctx.driver.detach_volume(volume_id)
        except OpenStackError as exc:
            raise BuildError(f"Error detaching block storage volume: {exc}") from exc
        ctx.ui.say(
            f"Waiting for volume {self.volume_name} (volume id: {volume_id}) to become available..."
        )
        try:
            wait_volume_available(ctx.driver, volume_id, ctx.polling, ctx.cancel)
        except (WaitFailed, OpenStackError) as exc:
            raise BuildError(f"Error waiting for volume: {exc}") from exc

    def cleanup(self, ctx: OpenStackRun) -> None:
        """Nothing to undo."""
