"""The `artifice` post-processor: replaces the artifact with files named in the template."""

from __future__ import annotations

import glob
import os

from pydantic import field_validator

from builder.artifact import Artifact
from builder.components import PostProcessor
from builder.config import PluginConfig, StrList
from builder.errors import PostProcessorError
from builder.ui import Ui
from postprocessors.checksum import remove_all

BUILDER_ID = "packer.post-processor.artifice"


class ArtificeConfig(PluginConfig):
    """Options of the `artifice` post-processor."""

    files: StrList

    @field_validator("files")
    @classmethod
    def _not_empty(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("No files specified in artifice configuration")
        return value


class ArtificePostProcessor(PostProcessor):
    """Makes an artifact of the listed files (glob patterns allowed); old files stay."""

    Config = ArtificeConfig
    config: ArtificeConfig
    keeps_input = (True, False)

    def post_process(self, ui: Ui, artifact: Artifact) -> tuple[Artifact | None, bool, bool]:
        if artifact.files:
            ui.say(f"Discarding files from artifact: {', '.join(artifact.files)}")
        files = expand(self.config.files)
        ui.say(f"Using these artifact files: {', '.join(files)}")
        return (
            Artifact(
                BUILDER_ID,
                "",
                files,
                text=f"Created artifact from files: {', '.join(files)}",
                destroy=lambda: remove_all(files),
            ),
            True,
            False,
        )


def expand(patterns: list[str]) -> list[str]:
    """Each pattern's matches in sorted order (Go's filepath.Glob); no match adds nothing."""
    out: list[str] = []
    for pattern in patterns:
        if any(c in pattern for c in "*?["):
            matches = sorted(glob.glob(pattern, include_hidden=True))
        else:
            matches = [pattern] if os.path.lexists(pattern) else []
        for path in matches:
            try:
                os.stat(path)
            except OSError as exc:
                raise PostProcessorError(f"artifice: cannot use {path}: {exc}") from exc
            out.append(path)
    return out
