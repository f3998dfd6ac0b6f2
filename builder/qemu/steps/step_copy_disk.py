"""StepCopyDisk: with disk_image, the main disk is the source image, copied or converted."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import ClassVar

from builder.errors import BuildError, DriverError
from builder.qemu.run import QemuRun


@dataclass
class StepCopyDisk:
    """Copy the image when its extension already says the format, else qemu-img convert."""

    name: ClassVar[str] = "StepCopyDisk"

    def run(self, ctx: QemuRun) -> None:
        cfg = ctx.config
        if not cfg.disk_image or cfg.use_backing_file:
            return
        source, target = ctx.iso_path, ctx.disk_path
        ext = os.path.splitext(source)[1]
        if ext[1:] == cfg.format and not cfg.qemu_img_args.convert:
            ctx.ui.message(
                "File extension already matches desired output format. "
                "Skipping qemu-img convert step"
            )
            try:
                ctx.driver.copy(source, target)
            except DriverError as exc:
                raise BuildError(str(exc)) from exc
            return
        ctx.ui.say("Copying hard drive...")
        command = ["convert", *cfg.qemu_img_args.convert, "-O", cfg.format, source, target]
        try:
            ctx.driver.qemu_img(command)
        except DriverError as exc:
            raise BuildError(f"Error creating hard drive: {exc}") from exc

    def cleanup(self, ctx: QemuRun) -> None:
        """The copy is in the output directory, which goes with its own step."""
