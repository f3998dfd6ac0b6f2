"""Media tests: a real BuildRun with the image fields, temp files under tmp_path."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from builder.common.media import CDConfig, FloppyConfig, MediaRunFields
from builder.common.run import BuildRun
from builder.components import PluginOptions
from builder.ledger import BuildLedger, Ledger
from builder.multistep import CancelToken
from builder.template.funcs import RenderContext
from builder.testing import RecordingSink
from builder.ui import Ui


class NoHook:
    def provision(self, ui: Any, communicator: Any, data: dict[str, str]) -> None:
        raise AssertionError("not expected")

    def error_cleanup(self, ui: Any, communicator: Any, data: dict[str, str], error: Any) -> None:
        raise AssertionError("not expected")


class MediaTestConfig(FloppyConfig, CDConfig):
    """A builder config with both blocks, as qemu's will have."""


@dataclass(kw_only=True)
class MediaTestRun(BuildRun[MediaTestConfig], MediaRunFields):
    """A platform run: BuildRun plus floppy_path and cd_path."""


def make_run(
    sink: RecordingSink, *, resources: BuildLedger | None = None, **options: Any
) -> MediaTestRun:
    render = RenderContext(user_vars={}, template_path=None, build_name="b", build_type="t")
    return MediaTestRun(
        ui=Ui(sink, "b"),
        cancel=CancelToken(),
        hook=NoHook(),
        options=PluginOptions(build_name="b", build_type="t", render=render),
        resources=resources or Ledger.memory("run").build("b"),
        config=MediaTestConfig.model_validate(options),
    )


@pytest.fixture
def tmpdir_images(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """$TMPDIR for the images (tempfile caches its choice, so that is reset too)."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setenv("TMPDIR", str(root))
    monkeypatch.setattr(tempfile, "tempdir", None)
    return root


def tree(root: Path, files: dict[str, str | bytes]) -> Path:
    """Write `files` (relative path -> content) under root; a path ending in / is a dir."""
    for rel, content in files.items():
        path = root / rel
        if rel.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root
