"""StepCreateAMI: CreateImage from the stopped instance, wait; deregister it if the build fails."""

from __future__ import annotations

import secrets
import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from builder.amazon.common.driver import PLATFORM, AwsError
from builder.amazon.common.lifecycle import destroy_images, wait_image_available
from builder.amazon.common.steps.helpers import record_snapshots, resolve_ami_name, utc_stamp
from builder.common.plan import Creates
from builder.common.wait import WaitFailed
from builder.errors import BuildError

if TYPE_CHECKING:
    from builder.amazon.common.config import AmazonConfig, BlockDevice
    from builder.amazon.common.run import AmazonRun
    from builder.ledger import Resource


@dataclass
class StepCreateAMI:
    """CreateImage from the stopped instance and wait; deregister it if the build fails.

    The image is recorded under its name before CreateImage, its snapshots once it is
    available; the finished AMI is kept by the builder, never tagged with the run id.
    """

    name: ClassVar[str] = "StepCreateAMI"
    skip: bool = False  # skip_create_ami
    devices: Sequence[BlockDevice] = field(default_factory=list)  # ami_block_device_mappings
    _image: Resource | None = None
    _region: str = ""

    def plan(self, config: AmazonConfig, build_name: str) -> list[Creates]:
        if self.skip:
            return []
        temporary = config.encrypt_boot or config.skip_save_build_region
        what = f"AMI {config.ami_name}" + (
            " (temporary: copied, then removed)" if temporary else ""
        )
        return [
            Creates(f"{PLATFORM}.image", what, config.ami_name),
            Creates(f"{PLATFORM}.snapshot", "a snapshot of each of the AMI's volumes"),
        ]

    def run(self, ctx: AmazonRun) -> None:
        cfg, ui, driver = ctx.config, ctx.ui, ctx.driver
        if self.skip:
            ui.say("Skipping AMI creation...")
            return
        name = ctx.ami_name or resolve_ami_name(ctx)
        ctx.intermediary_image = bool(cfg.encrypt_boot or cfg.skip_save_build_region)
        if ctx.intermediary_image:  # a temporary image, copied with the wanted encryption
            name = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(7))
        ui.say(f"Creating AMI {name} from instance {ctx.instance_id}")
        res = ctx.record("image", name, not_before=utc_stamp())
        try:
            image_id = driver.create_image(ctx.instance_id, name, "", list(self.devices))
        except AwsError as exc:
            ctx.not_created(res, exc)
            raise BuildError(f"Error creating AMI: {exc}") from exc
        res.created(image_id)
        self._image, self._region = res, ctx.region  # recorded before any wait
        ui.message(f"AMI: {image_id}")
        ctx.amis[ctx.region] = image_id
        ui.say("Waiting for AMI to become ready...")
        try:
            image = wait_image_available(driver, image_id, ctx.polling, ctx.cancel)
        except (WaitFailed, AwsError) as exc:
            message = f"Error waiting for AMI: {exc}"
            try:
                found = driver.describe_images(image_ids=[image_id])
                if found and found[0].state_reason:
                    message += (
                        f". DescribeImages returned the state reason: {found[0].state_reason}"
                    )
            except AwsError as describe_error:
                message = (
                    f"Unknown error waiting for AMI; {exc}. DescribeImages returned an error: "
                    f"{describe_error}"
                )
            raise BuildError(message) from exc
        ctx.snapshots[ctx.region] = list(image.snapshot_ids)
        record_snapshots(ctx, ctx.region, image_id, list(image.snapshot_ids))

    def cleanup(self, ctx: AmazonRun) -> None:
        res = self._image
        if res is None or not ctx.state.failed:
            return
        ctx.ui.say(
            "Deregistering the AMI and deleting associated snapshots because of cancellation, "
            "or error..."
        )
        driver = ctx.driver.in_region(self._region)
        for error in destroy_images(driver, [res.id], ctx.ui.say, gone=ctx.released):
            ctx.ui.error(error)
        self._image = None
