"""The file builder: write `content` to `target`, or copy `source` there; no machine."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from builder.artifact import Artifact
from builder.common.builder import PlatformBuilder
from builder.common.plan import Creates, Writes
from builder.common.run import BuildRun, RunArgs
from builder.errors import BuildError
from builder.file.config import FileConfig
from builder.ledger import LOCAL, Resource
from builder.multistep import Step

BUILDER_ID = "packer.file"


@dataclass(kw_only=True)
class FileRun(BuildRun[FileConfig]):
    """A file build: nothing beyond the shared context."""


@dataclass
class StepWriteFile:
    """Write the target (parent directories made); a failed build removes what it wrote."""

    name: ClassVar[str] = "StepWriteFile"
    _written: Resource | None = None

    def plan(self, config: FileConfig, build_name: str) -> list[Creates]:
        return [Creates(f"{LOCAL}.file", f"file {config.target}", config.target)]

    def run(self, ctx: FileRun) -> None:
        cfg = ctx.config
        try:
            src = open(cfg.source, "rb") if cfg.source else None  # noqa: SIM115 - closed below
        except OSError as exc:
            raise BuildError(f"open {cfg.source}: {exc.strerror}") from exc
        try:
            if cfg.source:
                ctx.ui.say(f"Copying {cfg.source} to {cfg.target}")
            self._written = self._create(ctx)
            with os.fdopen(self._open_target(cfg.target, 0o644 if src else 0o600), "wb") as dst:
                if src is not None:
                    ctx.ui.say(f"Copied {_copy(src, dst, ctx)} bytes")
                else:
                    dst.write(cfg.content.encode())
        except OSError as exc:
            raise BuildError(f"{cfg.target}: {exc.strerror or exc}") from exc
        finally:
            if src is not None:
                src.close()
        self._written.created(cfg.target)

    @staticmethod
    def _create(ctx: FileRun) -> Resource:
        parent = os.path.dirname(ctx.config.target)
        if parent:
            os.makedirs(parent, mode=0o755, exist_ok=True)
        return ctx.resources.creating(LOCAL, "file", name=ctx.config.target)

    @staticmethod
    def _open_target(path: str, mode: int) -> int:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)

    def cleanup(self, ctx: FileRun) -> None:
        res, self._written = self._written, None
        if res is None:
            return
        if not ctx.state.failed:
            res.kept()
            return
        try:
            os.remove(res.name)
        except FileNotFoundError:
            pass
        res.released()


def _copy(src: Any, dst: Any, ctx: FileRun) -> int:
    size = 0
    while chunk := src.read(1 << 20):
        ctx.cancel.check()
        dst.write(chunk)
        size += len(chunk)
    return size


class FileArtifact(Artifact):
    """`Stored file: <target>`; destroy() deletes it."""

    def __init__(self, target: str):
        super().__init__(BUILDER_ID, "File", [target], text=f"Stored file: {target}")


class Builder(PlatformBuilder[FileRun]):
    """Packer's `file` builder."""

    Config = FileConfig
    builder_id = BUILDER_ID
    runs_provisioners = False  # as Packer's: it never calls the provisioning hook
    config: FileConfig

    def warnings(self) -> list[str]:
        if not self.config.source and not self.config.content:
            return ["Both source file and contents are blank; target will have no content"]
        return []

    def new_run(self, args: RunArgs, driver: Any) -> FileRun:
        return FileRun(**args, config=self.config)

    def plan_writes(self) -> list[Writes]:
        return [Writes(self.config.target, "the file", "overwrite")]

    def steps(self) -> Sequence[Step[FileRun] | None]:
        return [StepWriteFile()]

    def artifact(self, ctx: FileRun) -> Artifact | None:
        return FileArtifact(self.config.target)


__all__ = ["BUILDER_ID", "Builder", "FileArtifact"]
