"""StepResizeDisk: with disk_image, grow the copied disk to disk_size (qemu-img resize)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from builder.errors import BuildError, DriverError
from builder.qemu.run import QemuRun


@dataclass
class StepResizeDisk:
    """Resize the main disk unless skip_resize_disk (only with disk_image)."""

    name: ClassVar[str] = "StepResizeDisk"

    def run(self, ctx: QemuRun) -> None:
        cfg = ctx.config
        if not cfg.disk_image or cfg.skip_resize_disk:
            return
        ctx.ui.say("Resizing hard drive...")
        command = ["resize", "-f", cfg.format, *cfg.qemu_img_args.resize, ctx.disk_path,
                   cfg.disk_size]  # fmt: skip
        try:
            ctx.driver.qemu_img(command)
        except DriverError as exc:
            raise BuildError(f"Error creating hard drive: {exc}") from exc

    def cleanup(self, ctx: QemuRun) -> None:
        """Nothing of its own to undo."""
