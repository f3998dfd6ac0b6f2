"""StepCreateVolume: with use_blockstorage_volume, a boot volume made from the source image."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from builder.common.plan import Creates
from builder.common.wait import WaitFailed
from builder.errors import BuildError
from builder.multistep import CancelToken
from builder.openstack.driver import PLATFORM, OpenStackError, VolumeSpec
from builder.openstack.waits import wait_volume_available

if TYPE_CHECKING:
    from builder.ledger import Resource
    from builder.openstack.config import OpenStackConfig
    from builder.openstack.run import OpenStackRun


def volume_size(ctx: OpenStackRun) -> int:
    """`volume_size`, else the source image's min_disk, else its size rounded up to GiB."""
    if ctx.config.volume_size:
        return ctx.config.volume_size
    image = ctx.driver.get_image(ctx.source_image_id)
    if image is None:
        raise BuildError(f"Error creating volume: source image {ctx.source_image_id} not found")
    if image.min_disk:
        return image.min_disk
    gib = 1024**3
    return max(1, (image.size + gib - 1) // gib)


@dataclass
class StepCreateVolume:
    """Create the volume and wait until it is available; delete it in cleanup."""

    name: ClassVar[str] = "StepCreateVolume"
    volume_name: str = ""  # volume_name, or Packer's packer_<uuid>
    _created: Resource | None = None

    def plan(self, config: OpenStackConfig, build_name: str) -> list[Creates]:
        if not config.use_blockstorage_volume:
            return []
        name = config.volume_name or "packer_<uuid>"
        return [Creates(f"{PLATFORM}.volume", f"boot volume {name} from the source image", name)]

    def run(self, ctx: OpenStackRun) -> None:
        cfg, ui, driver = ctx.config, ctx.ui, ctx.driver
        if not cfg.use_blockstorage_volume:
            return
        try:
            size = volume_size(ctx)
        except OpenStackError as exc:
            raise BuildError(f"Error creating volume: {exc}") from exc
        ui.say("Creating volume...")
        spec = VolumeSpec(
            name=self.volume_name,
            size=size,
            image_id=ctx.source_image_id,
            volume_type=cfg.volume_type,
            availability_zone=cfg.volume_zone(),
            metadata={**cfg.image_metadata(), **ctx.run_metadata()},
        )
        res = ctx.record("volume", self.volume_name)
        try:
            volume_id = driver.create_volume(spec)
        except OpenStackError as exc:
            ctx.not_created(res, exc)
            raise BuildError(f"Error creating volume: {exc}") from exc
        res.created(volume_id)
        self._created = res
        ctx.volume_id = volume_id
        ui.say(
            f"Waiting for volume {self.volume_name} (volume id: {volume_id}) to become available..."
        )
        try:
            wait_volume_available(driver, volume_id, ctx.polling, ctx.cancel)
        except (WaitFailed, OpenStackError) as exc:
            raise BuildError(f"Error waiting for volume: {exc}") from exc
        ui.message(f"Volume ID: {volume_id}")

    def cleanup(self, ctx: OpenStackRun) -> None:
        res = self._created
        if res is None:
            return
        ui, driver, volume_id = ctx.ui, ctx.driver, res.id
        try:
            volume = driver.get_volume(volume_id)
            if volume is not None and volume.status != "available":
                ui.say(
                    f"Waiting for volume {self.volume_name} (volume id: {volume_id}) to "
                    "become available..."
                )
                wait_volume_available(driver, volume_id, ctx.polling, CancelToken())
            if volume is not None:
                ui.say(f"Deleting volume: {volume_id} ...")
                driver.delete_volume(volume_id)
        except (WaitFailed, OpenStackError) as exc:
            ui.error(
                f"Error cleaning up volume. Please delete the volume manually: {volume_id} ({exc})"
            )
            return
        res.released()
        self._created = None
