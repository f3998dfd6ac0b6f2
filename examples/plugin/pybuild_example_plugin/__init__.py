"""An example pybuild plugin: the `file-image` builder writes a text "image" to disk.

It shows the whole plugin contract: a pydantic Config, a typed run context, steps that
record what they create in the run's ledger and undo it in cleanup, the provision hook,
and an Artifact whose destroy() removes what the build made.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from builder import Artifact, BuildRun, PlatformBuilder, PluginConfig, RunArgs, Step
from builder.common.steps import StepConnectNone, StepProvision
from builder.ledger import LOCAL, Resource


class FileImageConfig(PluginConfig):
    """Options of the file-image builder."""

    output: str
    content: str = "hello from file-image\n"
    fail_after_write: bool = False


@dataclass(kw_only=True)
class FileImageRun(BuildRun[FileImageConfig]):
    """The typed run context: the shared fields, and the work file once written."""

    work_file: str = ""

    def machine_id(self) -> str:
        return self.config.output


@dataclass
class WriteWorkFile:
    """Writes `<output>.partial`; cleanup removes it (it is temporary)."""

    name: ClassVar[str] = "WriteWorkFile"
    _made: Resource | None = None

    def run(self, ctx: FileImageRun) -> None:
        path = ctx.config.output + ".partial"
        # recorded before it exists: `pybuild cleanup` removes it if the process dies
        self._made = ctx.resources.creating(LOCAL, "file", name=path)
        with open(path, "w") as fh:
            fh.write(ctx.config.content)
        self._made.created(path)
        ctx.work_file = path
        ctx.ui.say(f"Wrote work file {path}")
        if ctx.config.fail_after_write:
            raise RuntimeError("failing on purpose (fail_after_write)")

    def cleanup(self, ctx: FileImageRun) -> None:
        made, self._made = self._made, None
        if made is None:
            return
        if os.path.exists(made.name):
            os.remove(made.name)
            ctx.ui.say(f"Removed work file {made.name}")
        made.released()


@dataclass
class PublishImage:
    """Copies the work file to `output`: the image."""

    name: ClassVar[str] = "PublishImage"

    def run(self, ctx: FileImageRun) -> None:
        with open(ctx.work_file) as src, open(ctx.config.output, "w") as dst:
            dst.write(src.read())
        ctx.ui.say(f"Image written to {ctx.config.output}")

    def cleanup(self, ctx: FileImageRun) -> None:
        pass


class FileImageBuilder(PlatformBuilder[FileImageRun]):
    """Builds a text file as its "image"."""

    Config = FileImageConfig
    builder_id = "example.file-image"
    config: FileImageConfig

    def new_run(self, args: RunArgs, driver: Any) -> FileImageRun:
        return FileImageRun(**args, config=self.config)

    def steps(self) -> Sequence[Step[FileImageRun] | None]:
        return [WriteWorkFile(), StepConnectNone(), StepProvision(), PublishImage()]

    def artifact(self, ctx: FileImageRun) -> Artifact | None:
        return Artifact(
            self.builder_id,
            self.config.output,
            [self.config.output],
            text=f"File image: {self.config.output}",
        )
