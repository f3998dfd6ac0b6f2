"""StepCreateImage: snapshot the stopped server (or upload its volume), wait until active."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from builder.common.plan import Creates
from builder.common.wait import WaitFailed
from builder.errors import BuildError
from builder.openstack.driver import PLATFORM, OpenStackError
from builder.openstack.waits import wait_image_active

if TYPE_CHECKING:
    from builder.ledger import Resource
    from builder.openstack.config import OpenStackConfig
    from builder.openstack.run import OpenStackRun


def utc_stamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass
class StepCreateImage:
    """Nova's createImage with `metadata` as properties, or Cinder's upload-to-image.

    The image is recorded in the ledger under its name before the call; when the build
    fails or is cancelled afterwards, cleanup deletes it (1.6.6 leaves it behind). The
    finished image is kept by the builder.
    """

    name: ClassVar[str] = "stepCreateImage"
    _image: Resource | None = None

    def plan(self, config: OpenStackConfig, build_name: str) -> list[Creates]:
        if config.skip_create_image:
            return []
        return [Creates(f"{PLATFORM}.image", f"image {config.image_name}", config.image_name)]

    def run(self, ctx: OpenStackRun) -> None:
        cfg, ui, driver = ctx.config, ctx.ui, ctx.driver
        if cfg.skip_create_image:
            ui.say("Skipping image creation...")
            return
        server = ctx.require_server()
        ui.say(f"Creating the image: {cfg.image_name}")
        res = ctx.record("image", cfg.image_name, not_before=utc_stamp())
        try:
            if cfg.use_blockstorage_volume:
                image_id = self._upload_volume(ctx)
            else:
                image_id = driver.create_server_image(
                    server.id, cfg.image_name, cfg.image_metadata()
                )
        except OpenStackError as exc:
            ctx.not_created(res, exc)
            raise BuildError(f"Error creating image: {exc}") from exc
        res.created(image_id)
        self._image = ctx.image_resource = res
        ctx.image_id = image_id
        ui.message(f"Image: {image_id}")
        ui.say(f"Waiting for image {cfg.image_name} (image id: {image_id}) to become ready...")
        try:
            wait_image_active(driver, image_id, ctx.polling, ctx.cancel)
        except (WaitFailed, OpenStackError) as exc:
            raise BuildError(f"Error waiting for image: {exc}") from exc

    def _upload_volume(self, ctx: OpenStackRun) -> str:
        cfg, driver = ctx.config, ctx.driver
        metadata = cfg.image_metadata()
        if metadata:
            try:
                driver.set_volume_image_metadata(ctx.volume_id, metadata)
            except OpenStackError as exc:  # 1.6.6 reports it and goes on
                ctx.ui.error(f"Error setting image metadata: {exc}")
        return driver.upload_volume_to_image(ctx.volume_id, cfg.image_name, cfg.image_disk_format)

    def cleanup(self, ctx: OpenStackRun) -> None:
        res = self._image
        if res is None or not ctx.state.failed:
            return
        ctx.ui.say(f"Deleting the image {res.id} because of cancellation, or error...")
        try:
            ctx.driver.delete_image(res.id)
        except OpenStackError as exc:
            ctx.ui.error(f"Error deleting image, may still be around: {exc}")
            return
        res.released()
        self._image = ctx.image_resource = None
        ctx.image_id = ""
