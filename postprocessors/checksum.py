"""The `checksum` post-processor: appends `<hex>\\t<basename>` lines per file and hash type."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Sequence
from typing import ClassVar

from pydantic import field_validator

from builder.artifact import Artifact
from builder.common.plan import Writes, planned_path
from builder.components import PostProcessor
from builder.config import PluginConfig, StrList
from builder.errors import PostProcessorError, PybuildError
from builder.ui import Ui
from postprocessors.manifest import generated_data

BUILDER_ID = "packer.post-processor.checksum"
DEFAULT_OUTPUT = "packer_{{.BuildName}}_{{.BuilderType}}_{{.ChecksumType}}.checksum"
CHECKSUM_TYPES = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512")
_CHUNK = 1024 * 1024


class ChecksumConfig(PluginConfig):
    """Options of the `checksum` post-processor."""

    deferred: ClassVar[frozenset[str]] = frozenset({"output"})

    checksum_types: StrList = ["md5"]
    output: str = DEFAULT_OUTPUT

    @field_validator("checksum_types")
    @classmethod
    def _known_types(cls, value: list[str]) -> list[str]:
        for name in value:
            if name not in CHECKSUM_TYPES:
                raise ValueError(
                    f"unsupported checksum type '{name}' (supported: {', '.join(CHECKSUM_TYPES)})"
                )
        return value

    @field_validator("output")
    @classmethod
    def _default_output(cls, value: str) -> str:
        return value or DEFAULT_OUTPUT


class ChecksumPostProcessor(PostProcessor):
    """Writes checksum files; the new artifact holds the input files plus the new sums."""

    Config = ChecksumConfig
    config: ChecksumConfig
    keeps_input = (True, True)

    def plan_writes(self) -> list[Writes]:
        out: list[Writes] = []
        for kind in self.config.checksum_types:
            data = {
                "BuildName": self.options.build_name,
                "BuilderType": self.options.build_type,
                "ChecksumType": kind,
            }
            out.append(
                Writes(planned_path(self, self.config.output, data), f"{kind} sums", "append")
            )
        return out

    def post_process(self, ui: Ui, artifact: Artifact) -> tuple[Artifact | None, bool, bool]:
        generated = generated_data(artifact)
        files = list(artifact.files)
        out_files = list(files)
        for kind in self.config.checksum_types:
            data = {
                **generated,
                "BuildName": self.options.build_name,
                "BuilderType": self.options.build_type,
                "ChecksumType": kind,
            }
            try:
                target = self.options.render_text(
                    self.config.output, data=data, build_data=generated
                )
            except (PybuildError, ValueError) as exc:
                raise PostProcessorError(f"Error interpolating output value: {exc}") from exc
            for path in files:
                if not os.path.exists(target) and target not in out_files:
                    out_files.append(target)
                _append_sum(target, kind, path)
        # Packer's quirk, kept on purpose: destroying this artifact removes the inputs too.
        return (
            Artifact(
                BUILDER_ID,
                "",
                out_files,
                text=f"Created artifact from files: {', '.join(out_files)}",
                destroy=lambda: remove_all(out_files),
            ),
            True,
            True,
        )


def file_digest(kind: str, path: str) -> str:
    """Hex digest of a file, read in chunks."""
    h = hashlib.new(kind)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _append_sum(target: str, kind: str, path: str) -> None:
    """Append `<hex>\\t<basename>\\n` for `path` to `target`, creating its directory."""
    parent = os.path.dirname(target)
    try:
        if parent:
            os.makedirs(parent, mode=0o755, exist_ok=True)
    except OSError as exc:
        raise PostProcessorError(f"unable to create dir: {exc}") from exc
    try:
        digest = file_digest(kind, path)
    except OSError as exc:
        raise PostProcessorError(f"unable to open file {path}: {exc}") from exc
    try:
        fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(f"{digest}\t{os.path.basename(path)}\n")
    except OSError as exc:
        raise PostProcessorError(f"unable to create file {target}: {exc}") from exc


def remove_all(paths: Sequence[str]) -> None:
    """Remove files and directories like Go's os.RemoveAll; missing paths are fine."""
    for path in paths:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            try:
                os.remove(path)
            except FileNotFoundError:
                pass
