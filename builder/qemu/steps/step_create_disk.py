"""StepCreateDisk: the VM's disks in the output directory (qemu-img create)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import ClassVar

from builder.errors import BuildError, DriverError
from builder.qemu.run import QemuRun


def disk_paths(ctx: QemuRun) -> list[str]:
    """The main disk, then one `<vm_name>-N` per disk_additional_size."""
    extra = [f"{ctx.disk_path}-{i}" for i in range(1, len(ctx.config.disk_additional_size) + 1)]
    return [ctx.disk_path, *extra]


def backing_format(ctx: QemuRun, path: str) -> str:
    """The format qemu-img sees in a backing file (newer qemu-img needs it named: -F)."""
    try:
        info = json.loads(ctx.driver.qemu_img(["info", "--output=json", path]))
    except (DriverError, ValueError):
        return ""
    return str(info.get("format", "")) if isinstance(info, dict) else ""


@dataclass
class StepCreateDisk:
    """Create each disk; with disk_image the main one comes from StepCopyDisk instead."""

    name: ClassVar[str] = "StepCreateDisk"

    def run(self, ctx: QemuRun) -> None:
        cfg = ctx.config
        if cfg.disk_additional_size or cfg.use_backing_file:
            ctx.ui.say("Creating required virtual machine disks")
        paths = disk_paths(ctx)
        sizes = [cfg.disk_size, *cfg.disk_additional_size]
        for i, (path, size) in enumerate(zip(paths, sizes, strict=True)):
            if cfg.disk_image and not cfg.use_backing_file and i == 0:
                continue  # StepCopyDisk makes it from the image
            command = ["create", "-f", cfg.format]
            if cfg.disk_image and cfg.use_backing_file and i == 0:
                base = os.path.abspath(ctx.iso_path)
                command += ["-b", base]
                fmt = backing_format(ctx, base)
                if fmt:
                    command += ["-F", fmt]
            command += [*cfg.qemu_img_args.create, path, size]
            try:
                ctx.driver.qemu_img(command)
            except DriverError as exc:
                raise BuildError(f"Error creating hard drive: {exc}") from exc
        ctx.disk_paths = paths

    def cleanup(self, ctx: QemuRun) -> None:
        """The disks are in the output directory, which goes with its own step."""
