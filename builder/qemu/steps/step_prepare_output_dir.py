"""StepPrepareOutputDir: the output directory, made fresh; removed when the build fails."""

from __future__ import annotations

import os
import shutil
import threading
from dataclasses import dataclass
from typing import ClassVar

from builder.common.plan import Creates
from builder.errors import BuildError
from builder.ledger import LOCAL, Resource
from builder.qemu.config import QemuConfig
from builder.qemu.run import QemuRun


def output_dir(config: QemuConfig, build_name: str) -> str:
    """`output_directory`, or Packer's `output-<build name>`."""
    return config.output_directory or f"output-{build_name}"


@dataclass
class StepPrepareOutputDir:
    """Make the output directory (deleting an old one with -force).

    Recorded in the ledger before it is made: a killed build's directory is removed by
    `pybuild cleanup`. A failed or cancelled build deletes it, a finished one keeps it.
    """

    name: ClassVar[str] = "StepPrepareOutputDir"
    _res: Resource | None = None

    def plan(self, config: QemuConfig, build_name: str) -> list[Creates]:
        path = os.path.abspath(output_dir(config, build_name))
        return [Creates(f"{LOCAL}.dir", f"output directory {path} (kept when the build ends)",
                        path)]  # fmt: skip

    def run(self, ctx: QemuRun) -> None:
        path = ctx.output_dir
        if os.path.lexists(path):
            if not ctx.options.force:
                raise BuildError(
                    f"Output directory '{path}' already exists. It must not exist. "
                    "(use -force to delete it first)"
                )
            ctx.ui.say("Deleting previous output directory...")
            _remove(path)
        self._res = ctx.resources.creating(LOCAL, "dir", name=os.path.abspath(path))
        try:
            os.makedirs(path, 0o755)
        except OSError as exc:
            self._res.released()
            self._res = None
            raise BuildError(f"Error creating output directory {path}: {exc}") from exc
        self._res.created(os.path.abspath(path))

    def cleanup(self, ctx: QemuRun) -> None:
        res, self._res = self._res, None
        if res is None:
            return
        if not ctx.state.failed:
            res.kept()
            return
        ctx.ui.say("Deleting output directory...")
        pause = threading.Event()  # not the cancel token: it is set when cancelled
        for _ in range(5):
            _remove(ctx.output_dir)
            if not os.path.lexists(ctx.output_dir):
                res.released()
                return
            pause.wait(0.5)
        ctx.ui.error(f"Error removing output directory {ctx.output_dir}")


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
