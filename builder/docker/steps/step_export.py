"""StepExport: `docker export` of the container to export_path."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import ClassVar

from builder.common.plan import Creates
from builder.docker.config import DockerConfig
from builder.docker.run import DockerRun
from builder.errors import BuildError, DriverError
from builder.ledger import LOCAL, Resource


@dataclass
class StepExport:
    """`docker export` streamed to export_path (parent dirs made); a failed build deletes it.

    The file is recorded in the ledger before it is opened; it is kept when the build
    succeeds.
    """

    name: ClassVar[str] = "StepExport"
    _path: str = ""
    _res: Resource | None = None

    def plan(self, config: DockerConfig, build_name: str) -> list[Creates]:
        path = os.path.abspath(config.export_path)
        return [Creates(f"{LOCAL}.file", f"the container's filesystem as a tar in {path}", path)]

    def run(self, ctx: DockerRun) -> None:
        path = os.path.abspath(ctx.config.export_path)
        res = ctx.resources.creating(LOCAL, "file", name=path)
        try:
            os.makedirs(os.path.dirname(path) or ".", mode=0o755, exist_ok=True)
            f = open(path, "wb")
        except OSError as exc:
            res.released()
            raise BuildError(f"Error creating output file: {exc}") from exc
        self._path, self._res = path, res
        res.created(path)
        ctx.ui.say("Exporting the container")
        with f:
            try:
                ctx.driver.export(ctx.container_id, f, ctx.cancel)
            except DriverError as exc:
                raise BuildError(f"Error exporting: {exc}") from exc

    def cleanup(self, ctx: DockerRun) -> None:
        res = self._res
        if res is None:
            return
        if not ctx.state.failed:
            res.kept()
        else:
            try:
                os.remove(self._path)
            except FileNotFoundError:
                pass
            res.released()
        self._path, self._res = "", None
