"""StepModifyAMIAttributes: description, launch permissions, product codes; snapshot users."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from builder.amazon.common.driver import AwsError
from builder.errors import BuildError

if TYPE_CHECKING:
    from builder.amazon.common.driver import Ec2Driver
    from builder.amazon.common.run import AmazonRun

# One attribute change of an AMI or snapshot: (driver of its region, its id).
Change = Callable[["Ec2Driver", str], None]


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
        image_changes: list[tuple[str, Change]] = []
        if description:
            image_changes.append(
                ("description", lambda d, i: d.modify_image(i, description=description))
            )
        if cfg.ami_groups:
            image_changes.append(("groups", lambda d, i: d.modify_image(i, groups=cfg.ami_groups)))
        if cfg.ami_users:
            image_changes.append(("users", lambda d, i: d.modify_image(i, users=cfg.ami_users)))
        if cfg.ami_product_codes:
            codes = cfg.ami_product_codes
            image_changes.append(
                ("product codes", lambda d, i: d.modify_image(i, product_codes=codes))
            )
        snapshot_changes: list[tuple[str, Change]] = []
        if cfg.snapshot_groups:
            groups = cfg.snapshot_groups
            snapshot_changes.append(("groups", lambda d, s: d.modify_snapshot(s, groups=groups)))
        if cfg.snapshot_users:
            users = cfg.snapshot_users
            snapshot_changes.append(("users", lambda d, s: d.modify_snapshot(s, users=users)))
        for region, ami in sorted(ctx.amis.items()):
            ui.say(f"Modifying attributes on AMI ({ami})...")
            driver = ctx.driver.in_region(region)
            for label, change in image_changes:
                ui.message(f"Modifying: {label}")
                try:
                    change(driver, ami)
                except AwsError as exc:
                    raise BuildError(f"Error modify AMI attributes: {exc}") from exc
        if not snapshot_changes:
            return
        for region, snapshots in sorted(ctx.snapshots.items()):
            driver = ctx.driver.in_region(region)
            for snapshot in snapshots:
                ui.say(f"Modifying attributes on snapshot ({snapshot})...")
                for label, change in snapshot_changes:
                    ui.message(f"Modifying: {label}")
                    try:
                        change(driver, snapshot)
                    except AwsError as exc:
                        raise BuildError(f"Error modify snapshot attributes: {exc}") from exc

    def cleanup(self, ctx: AmazonRun) -> None:
        """Attributes go with the AMIs."""
