"""After the image exists: copy it to other regions, set its attributes, tag it and its snapshots."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from builder.amazon.common.ec2 import AwsError
from builder.amazon.common.steps.ami import ImageSet, destroy_images, halted, wait_image_available
from builder.amazon.common.waiter import WaitFailed, retry
from builder.errors import BuildCancelled, BuildError

if TYPE_CHECKING:
    from builder.amazon.common.state import AmazonRun


def multi_error(errors: list[str]) -> str:
    """Packer's MultiError text."""
    return f"{len(errors)} error(s) occurred:\n\n" + "\n".join(f"* {e}" for e in errors)


@dataclass
class StepAMIRegionCopy:
    """Copy (and encrypt) the AMI into ami_regions in parallel and wait for every copy."""

    name: ClassVar[str] = "StepAMIRegionCopy"
    _copies: ImageSet = field(default_factory=ImageSet)
    _intermediary: str = ""

    def run(self, ctx: AmazonRun) -> None:
        cfg, ui = ctx.config, ctx.ui
        original = ctx.region
        ami = ctx.amis.get(original)
        if not ami:
            return
        if self._copies.by_region:  # retried after a failure: drop the first attempt's copies
            self._copies.destroy(ctx)
        regions = cfg.copy_regions(original)
        if ctx.intermediary_image:
            if not cfg.skip_save_build_region:
                regions.append(original)  # the final, named copy in the build region
            self._intermediary = ami
        keys = dict(cfg.region_kms_key_ids)
        if cfg.encrypt_boot:
            keys.setdefault(original, cfg.kms_key_id)
        if not regions:
            return
        ui.say(f"Copying/Encrypting AMI ({ami}) to other regions...")
        for region in regions:
            ui.message(f"Copying to: {region}")
        ui.message("Waiting for all copies to complete...")
        lock = threading.Lock()
        errors: list[str] = []

        def copy(region: str) -> None:
            try:
                self._copy_one(
                    ctx, region, ami, keys.get(region, "") if cfg.encrypt_boot else "", lock
                )
            except BuildCancelled:
                return
            except (BuildError, AwsError) as exc:
                with lock:
                    errors.append(str(exc))

        with ThreadPoolExecutor(max_workers=len(regions), thread_name_prefix="ami-copy") as pool:
            list(pool.map(copy, regions))
        ctx.cancel.check()
        if errors:
            raise BuildError(multi_error(errors))
        if cfg.skip_save_build_region:
            ctx.amis.pop(original, None)
            ctx.snapshots.pop(original, None)

    def _copy_one(
        self, ctx: AmazonRun, region: str, ami: str, key: str, lock: threading.Lock
    ) -> None:
        cfg, original = ctx.config, ctx.region
        target = ctx.driver.in_region(region)
        try:
            copy_id = target.copy_image(original, ami, ctx.ami_name, "", cfg.encrypt_boot, key)
        except AwsError as exc:
            raise BuildError(f"Error Copying AMI ({ami}) to region ({region}): {exc}") from exc
        with lock:
            self._copies.by_region[region] = copy_id
        try:
            image = wait_image_available(target, copy_id, ctx.polling, ctx.cancel)
        except (WaitFailed, AwsError) as exc:
            raise BuildError(
                f"Error waiting for AMI ({copy_id}) in region ({region}): {exc}"
            ) from exc
        with lock:
            ctx.amis[region] = copy_id
            ctx.snapshots[region] = list(image.snapshot_ids)

    def cleanup(self, ctx: AmazonRun) -> None:
        if halted(ctx) and self._copies.by_region:
            ctx.ui.say(
                "Deregistering the AMI copies and their snapshots because of cancellation, or error..."
            )
            self._copies.destroy(ctx)
        if self._intermediary:
            ctx.ui.say(
                "Deregistering the AMI and deleting unencrypted temporary AMIs and snapshots"
            )
            for error in destroy_images(ctx.driver, [self._intermediary]):
                ctx.ui.error(error)
            self._intermediary = ""


@dataclass
class StepModifyAMIAttributes:
    """Description, launch permissions and product codes on every AMI; snapshot permissions."""

    name: ClassVar[str] = "StepModifyAMIAttributes"

    def run(self, ctx: AmazonRun) -> None:
        cfg, ui = ctx.config, ctx.ui
        wanted = (
            cfg.ami_description,
            cfg.ami_users,
            cfg.ami_groups,
            cfg.ami_product_codes,
            cfg.snapshot_users,
            cfg.snapshot_groups,
        )
        if not any(wanted) or not ctx.amis:
            return
        try:
            description = ctx.render_text(cfg.ami_description)
        except Exception as exc:
            raise BuildError(f"Error interpolating AMI description: {exc}") from exc
        image_changes = [
            ("description", {"description": description} if description else None),
            ("groups", {"groups": list(cfg.ami_groups)} if cfg.ami_groups else None),
            ("users", {"users": list(cfg.ami_users)} if cfg.ami_users else None),
            (
                "product codes",
                {"product_codes": list(cfg.ami_product_codes)} if cfg.ami_product_codes else None,
            ),
        ]
        snapshot_changes = [
            ("groups", {"groups": list(cfg.snapshot_groups)} if cfg.snapshot_groups else None),
            ("users", {"users": list(cfg.snapshot_users)} if cfg.snapshot_users else None),
        ]
        for region, ami in sorted(ctx.amis.items()):
            ui.say(f"Modifying attributes on AMI ({ami})...")
            driver = ctx.driver.in_region(region)
            for label, change in image_changes:
                if change is None:
                    continue
                ui.message(f"Modifying: {label}")
                try:
                    driver.modify_image(ami, **change)  # type: ignore[arg-type]
                except AwsError as exc:
                    raise BuildError(f"Error modify AMI attributes: {exc}") from exc
        if not any(change for _, change in snapshot_changes):
            return
        for region, snapshots in sorted(ctx.snapshots.items()):
            driver = ctx.driver.in_region(region)
            for snapshot in snapshots:
                ui.say(f"Modifying attributes on snapshot ({snapshot})...")
                for label, change in snapshot_changes:
                    if change is None:
                        continue
                    ui.message(f"Modifying: {label}")
                    try:
                        driver.modify_snapshot(snapshot, **change)  # type: ignore[arg-type]
                    except AwsError as exc:
                        raise BuildError(f"Error modify snapshot attributes: {exc}") from exc

    def cleanup(self, ctx: AmazonRun) -> None:
        """Attributes go with the AMIs."""


@dataclass
class StepCreateTags:
    """tags on every AMI and its snapshots, snapshot_tags on the snapshots, in each region."""

    name: ClassVar[str] = "StepCreateTags"

    def run(self, ctx: AmazonRun) -> None:
        cfg = ctx.config
        if not cfg.tags and not cfg.snapshot_tags:
            return
        for region, ami in sorted(ctx.amis.items()):
            self._tag(ctx, region, ami)

    def _tag(self, ctx: AmazonRun, region: str, ami: str) -> None:
        cfg, ui = ctx.config, ctx.ui
        ui.say(f"Adding tags to AMI ({ami})...")
        driver = ctx.driver.in_region(region)
        snapshot_ids = ctx.snapshots.get(region)
        if snapshot_ids is None:  # the waits return the image; ask only when they did not
            try:
                found = driver.describe_images(image_ids=[ami])
            except AwsError as exc:
                raise BuildError(f"Error retrieving details for AMI ({ami}): {exc}") from exc
            if not found:
                raise BuildError(f"Error retrieving details for AMI ({ami}), no images found")
            snapshot_ids = list(found[0].snapshot_ids)
        for snapshot in snapshot_ids:
            ui.say(f"Tagging snapshot: {snapshot}")
        ui.say("Creating AMI tags")
        ami_tags = ctx.render_tags(cfg.tags)  # Packer renders with the build region
        ctx.report_tags(ami_tags)
        ui.say("Creating snapshot tags")
        snapshot_tags = ctx.render_tags(cfg.snapshot_tags)
        ctx.report_tags(snapshot_tags)
        resources = [ami, *snapshot_ids]

        def tag() -> None:
            if ami_tags:
                driver.create_tags(resources, ami_tags)
            if snapshot_tags and snapshot_ids:
                driver.create_tags(snapshot_ids, snapshot_tags)

        try:
            retry(
                tag,
                retry_on=lambda e: (
                    isinstance(e, AwsError)
                    and e.code in ("InvalidAMIID.NotFound", "InvalidSnapshot.NotFound")
                ),
                cancel=ctx.cancel,
            )
        except AwsError as exc:
            raise BuildError(f"Error adding tags to Resources ({resources}): {exc}") from exc

    def cleanup(self, ctx: AmazonRun) -> None:
        """Tags go with the AMIs."""
