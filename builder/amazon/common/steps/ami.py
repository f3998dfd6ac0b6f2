"""The image: deregister an old one, create, wait, and undo on failure; shared AMI helpers."""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from builder.amazon.common.ec2 import AwsError
from builder.amazon.common.steps.source import resolve_ami_name
from builder.amazon.common.waiter import WaitFailed, wait_until
from builder.errors import BuildError

if TYPE_CHECKING:
    from builder.amazon.common.ec2 import Ec2Driver, Image
    from builder.amazon.common.state import AmazonRun
    from builder.amazon.common.waiter import Polling
    from builder.multistep import CancelToken

_NOT_FOUND = ("InvalidAMIID.NotFound", "InvalidAMIID.Unavailable", "InvalidSnapshot.NotFound")


def halted(ctx: AmazonRun) -> bool:
    """The build failed or was cancelled: undo-on-failure cleanups act."""
    return ctx.state.halted or ctx.state.cancelled or ctx.cancel.cancelled


def wait_image_available(
    driver: Ec2Driver, image_id: str, polling: Polling, cancel: CancelToken
) -> Image:
    """Poll DescribeImages until the AMI is `available`; WaitFailed if it fails."""

    def check() -> Image | None:
        try:
            found = driver.describe_images(image_ids=[image_id])
        except AwsError as exc:
            if exc.code in _NOT_FOUND:
                return None  # eventual consistency: not visible yet
            raise
        if not found:
            return None
        if found[0].state == "available":
            return found[0]
        if found[0].state == "failed":
            raise WaitFailed("ResourceNotReady: failed waiting for successful resource state")
        return None

    return wait_until("image_available", check, polling, cancel)


def destroy_images(
    driver: Ec2Driver, image_ids: Sequence[str], say: Callable[[str], None] | None = None
) -> list[str]:
    """Deregister AMIs and delete their snapshots; returns the errors (gone counts as done)."""
    errors: list[str] = []
    for image_id in image_ids:
        try:
            found = driver.describe_images(image_ids=[image_id])
        except AwsError as exc:
            if exc.code not in _NOT_FOUND:
                errors.append(f"Error describing AMI: {exc}")
            continue
        for image in found:
            try:
                driver.deregister_image(image.id)
            except AwsError as exc:
                if exc.code not in _NOT_FOUND:
                    errors.append(f"Error deregistering existing AMI: {exc}")
                    continue
            if say:
                say(f"Deregistered AMI id: {image.id}")
            for snapshot in image.snapshot_ids:
                try:
                    driver.delete_snapshot(snapshot)
                except AwsError as exc:
                    if exc.code not in _NOT_FOUND:
                        errors.append(f"Error deleting existing snapshot: {exc}")
                    continue
                if say:
                    say(f"Deleted snapshot: {snapshot}")
    return errors


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


@dataclass
class StepCreateAMI:
    """CreateImage from the stopped instance and wait; deregister it if the build fails."""

    name: ClassVar[str] = "StepCreateAMI"
    _image_id: str = ""
    _region: str = ""

    def run(self, ctx: AmazonRun) -> None:
        cfg, ui, driver = ctx.config, ctx.ui, ctx.driver
        if cfg.skip_create_ami:
            ui.say("Skipping AMI creation...")
            return
        if self._image_id:  # retried after a failure: the first attempt's image goes
            for error in destroy_images(driver.in_region(self._region), [self._image_id]):
                ui.error(error)
            self._image_id = ""
        name = ctx.ami_name or resolve_ami_name(ctx)
        ctx.intermediary_image = bool(cfg.encrypt_boot or cfg.skip_save_build_region)
        if ctx.intermediary_image:  # a temporary image, copied with the wanted encryption
            name = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(7))
        ui.say(f"Creating AMI {name} from instance {ctx.instance_id}")
        try:
            image_id = driver.create_image(
                ctx.instance_id, name, "", list(cfg.ami_block_device_mappings)
            )
        except AwsError as exc:
            raise BuildError(f"Error creating AMI: {exc}") from exc
        self._image_id, self._region = image_id, ctx.region  # recorded before any wait
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

    def cleanup(self, ctx: AmazonRun) -> None:
        if not self._image_id or not halted(ctx):
            return
        ctx.ui.say(
            "Deregistering the AMI and deleting associated snapshots because of cancellation, "
            "or error..."
        )
        driver = ctx.driver.in_region(self._region)
        for error in destroy_images(driver, [self._image_id], ctx.ui.say):
            ctx.ui.error(error)
        self._image_id = ""


@dataclass
class ImageSet:
    """AMIs one step made, by region, so its cleanup removes exactly those."""

    by_region: dict[str, str] = field(default_factory=dict)

    def destroy(self, ctx: AmazonRun) -> None:
        for region, image_id in sorted(self.by_region.items()):
            for error in destroy_images(ctx.driver.in_region(region), [image_id], ctx.ui.say):
                ctx.ui.error(error)
        self.by_region.clear()
