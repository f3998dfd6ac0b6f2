"""StepAMIRegionCopy: copy (and encrypt) the AMI into other regions in parallel."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from builder.amazon.common.driver import PLATFORM, AwsError
from builder.amazon.common.lifecycle import destroy_images, wait_image_available
from builder.amazon.common.steps.helpers import multi_error, record_snapshots, utc_stamp
from builder.common.plan import Creates
from builder.common.wait import WaitFailed
from builder.errors import BuildCancelled, BuildError

if TYPE_CHECKING:
    from builder.amazon.common.config import AmazonConfig
    from builder.amazon.common.run import AmazonRun


@dataclass
class StepAMIRegionCopy:
    """Copy (and encrypt) the AMI into ami_regions in parallel and wait for every copy.

    Each copy is recorded (name and region) before CopyImage. With encrypt_boot or
    skip_save_build_region the image StepCreateAMI made is an intermediary: it goes in
    cleanup, whatever happened.
    """

    name: ClassVar[str] = "StepAMIRegionCopy"
    skip: bool = False  # skip_create_ami: no AMI, nothing to copy (for the plan)
    _copies: dict[str, str] = field(default_factory=dict)  # region -> copy id
    _intermediary: str = ""

    def plan(self, config: AmazonConfig, build_name: str) -> list[Creates]:
        if self.skip:
            return []
        build_region = config.build_region()
        regions = config.copy_regions(build_region)
        temporary = config.encrypt_boot or config.skip_save_build_region
        if temporary and not config.skip_save_build_region:
            regions.append(build_region)
        out: list[Creates] = []
        for region in regions:
            encrypted = " (encrypted)" if config.encrypt_boot else ""
            what = f"copy of the AMI in {region or 'the build region'}{encrypted}"
            out.append(Creates(f"{PLATFORM}.image", what, config.ami_name))
            out.append(Creates(f"{PLATFORM}.snapshot", f"the copy's snapshots in {region}"))
        return out

    def run(self, ctx: AmazonRun) -> None:
        cfg, ui = ctx.config, ctx.ui
        original = ctx.region
        ami = ctx.amis.get(original)
        if not ami:
            return
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
        res = ctx.record("image", ctx.ami_name, region=region, not_before=utc_stamp())
        try:
            copy_id = target.copy_image(original, ami, ctx.ami_name, "", cfg.encrypt_boot, key)
        except AwsError as exc:
            ctx.not_created(res, exc)
            raise BuildError(f"Error Copying AMI ({ami}) to region ({region}): {exc}") from exc
        res.created(copy_id, region=region)
        with lock:
            self._copies[region] = copy_id
        try:
            image = wait_image_available(target, copy_id, ctx.polling, ctx.cancel)
        except (WaitFailed, AwsError) as exc:
            raise BuildError(
                f"Error waiting for AMI ({copy_id}) in region ({region}): {exc}"
            ) from exc
        with lock:
            ctx.amis[region] = copy_id
            ctx.snapshots[region] = list(image.snapshot_ids)
            record_snapshots(ctx, region, copy_id, list(image.snapshot_ids))

    def cleanup(self, ctx: AmazonRun) -> None:
        if ctx.state.failed and self._copies:
            ctx.ui.say(
                "Deregistering the AMI copies and their snapshots because of cancellation, or error..."
            )
            for region, image_id in sorted(self._copies.items()):
                driver = ctx.driver.in_region(region)
                for error in destroy_images(driver, [image_id], ctx.ui.say, gone=ctx.released):
                    ctx.ui.error(error)
            self._copies.clear()
        if self._intermediary:
            ctx.ui.say(
                "Deregistering the AMI and deleting unencrypted temporary AMIs and snapshots"
            )
            for error in destroy_images(ctx.driver, [self._intermediary], gone=ctx.released):
                ctx.ui.error(error)
            self._intermediary = ""
