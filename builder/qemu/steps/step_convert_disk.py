"""StepConvertDisk: compact (and with disk_compression, compress) the disk: qemu-img convert."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import ClassVar

from builder.common.wait import retry
from builder.errors import BuildError, DriverError
from builder.qemu.run import QemuRun

LOCK_ERROR = 'Failed to get shared "write" lock'


@dataclass
class StepConvertDisk:
    """Convert the main disk into `<disk>.convert`, then rename it over the original."""

    name: ClassVar[str] = "StepConvertDisk"
    _target: str = ""

    def run(self, ctx: QemuRun) -> None:
        cfg = ctx.config
        if cfg.skip_compaction and not cfg.disk_compression:
            return
        source = ctx.disk_path
        self._target = target = f"{source}.convert"
        command = ["convert", *(["-c"] if cfg.disk_compression else []),
                   *cfg.qemu_img_args.convert, "-O", cfg.format, source, target]  # fmt: skip
        ctx.ui.say("Converting hard drive...")

        def locked(exc: Exception) -> bool:
            if LOCK_ERROR in str(exc):
                ctx.ui.say("Error getting file lock for conversion; retrying...")
                return True
            return False

        try:
            retry(lambda: ctx.driver.qemu_img(command), retry_on=locked, cancel=ctx.cancel,
                  tries=10, first_delay=1.0, max_delay=10.0)  # fmt: skip
        except DriverError as exc:
            if LOCK_ERROR in str(exc):
                raise BuildError(f"Exhausted retries for getting file lock: {exc}") from exc
            raise BuildError(f"Error converting hard drive: {exc}") from exc
        try:
            os.replace(target, source)
        except OSError as exc:
            raise BuildError(f"Error moving converted hard drive: {exc}") from exc
        self._target = ""

    def cleanup(self, ctx: QemuRun) -> None:
        """A conversion that did not finish leaves no half-written copy."""
        if self._target:
            try:
                os.remove(self._target)
            except FileNotFoundError:
                pass
            self._target = ""
