"""An example pybuild plugin: the `file-image` builder writes a text "image" to disk.

It shows the whole plugin contract: a pydantic Config, steps with cleanup, the
provision hook, and an Artifact whose destroy() removes what the build made.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, ClassVar

from builder import Artifact, Builder, PluginConfig
from builder.common.steps import StepConnectNone, StepProvision
from builder.multistep import RunState, run_build_steps


class FileImageConfig(PluginConfig):
    """Options of the file-image builder."""

    output: str
    content: str = "hello from file-image\n"
    fail_after_write: bool = False


@dataclass
class WriteWorkFile:
    """Writes `<output>.partial`; cleanup removes it (it is temporary)."""

    name: ClassVar[str] = "WriteWorkFile"
    created: str | None = None

    def run(self, ctx: Any) -> None:
        self.created = ctx.config.output + ".partial"
        with open(self.created, "w") as fh:
            fh.write(ctx.config.content)
        ctx.ui.say(f"Wrote work file {self.created}")
        if ctx.config.fail_after_write:
            raise RuntimeError("failing on purpose (fail_after_write)")

    def cleanup(self, ctx: Any) -> None:
        if self.created and os.path.exists(self.created):
            os.remove(self.created)
            ctx.ui.say(f"Removed work file {self.created}")
        self.created = None


@dataclass
class PublishImage:
    """Copies the work file to `output`: the image."""

    name: ClassVar[str] = "PublishImage"

    def run(self, ctx: Any) -> None:
        with open(ctx.config.output + ".partial") as src, open(ctx.config.output, "w") as dst:
            dst.write(src.read())
        ctx.ui.say(f"Image written to {ctx.config.output}")

    def cleanup(self, ctx: Any) -> None:
        pass


@dataclass
class FileImageRun:
    ui: Any
    cancel: Any
    hook: Any
    config: FileImageConfig
    communicator: Any = None
    state: RunState = field(default_factory=RunState)

    def build_data(self) -> dict[str, str]:
        return {"ID": self.config.output}


class FileImageBuilder(Builder):
    """Builds a text file as its "image"."""

    Config = FileImageConfig
    builder_id = "example.file-image"

    def run(self, ui: Any, hook: Any, cancel: Any) -> Artifact | None:
        ctx = FileImageRun(ui, cancel, hook, self.config)
        steps = [WriteWorkFile(), StepConnectNone(), StepProvision(), PublishImage()]
        run_build_steps(steps, ctx, self.options)
        return Artifact(
            self.builder_id,
            self.config.output,
            [self.config.output],
            text=f"File image: {self.config.output}",
        )
