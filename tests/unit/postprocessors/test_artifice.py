"""artifice post-processor: replaces the artifact's files, never deletes the old ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from builder.artifact import Artifact
from builder.components import PluginOptions
from builder.events import Say
from builder.template.funcs import RenderContext
from builder.testing import RecordingSink
from builder.ui import Ui
from postprocessors.artifice import ArtificePostProcessor


def options() -> PluginOptions:
    ctx = RenderContext(user_vars={}, template_path=None, build_name="b", build_type="null")
    return PluginOptions(build_name="b", build_type="null", render=ctx, run_uuid="u")


def run(raw: dict[str, Any], artifact: Artifact | None = None) -> tuple[Any, list[str]]:
    pp = ArtificePostProcessor(ArtificePostProcessor.Config.model_validate(raw), options())
    pp.prepare()
    sink = RecordingSink()
    art = artifact or Artifact("fnoeding.null", "Null")
    return pp.post_process(Ui(sink, "b (artifice)"), art), sink.texts(Say)


@pytest.fixture(autouse=True)
def _files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("old.tar", "a.txt", "dist/x.bin", "dist/y.bin", "dist/.hidden.bin"):
        Path(name).parent.mkdir(exist_ok=True)
        Path(name).write_text(name)


def test_replaces_the_files_and_keeps_the_old_ones() -> None:
    (out, keep, force_keep), says = run(
        {"files": ["a.txt", "dist/x.bin"]}, Artifact("packer.docker", "c", ["old.tar"])
    )
    assert says == [
        "Discarding files from artifact: old.tar",
        "Using these artifact files: a.txt, dist/x.bin",
    ]
    assert (keep, force_keep) == (True, False)
    assert out.builder_id == "packer.post-processor.artifice"
    assert out.id == ""
    assert out.files == ["a.txt", "dist/x.bin"]
    assert out.string() == "Created artifact from files: a.txt, dist/x.bin"
    assert Path("old.tar").exists()


def test_nothing_to_discard_says_only_what_it_uses() -> None:
    _, says = run({"files": "a.txt"})
    assert says == ["Using these artifact files: a.txt"]


def test_globs_expand_sorted_and_missing_files_drop_out() -> None:
    (out, _, _), says = run({"files": ["dist/*.bin", "missing.txt", "a.txt"]})
    assert out.files == ["dist/.hidden.bin", "dist/x.bin", "dist/y.bin", "a.txt"]


def test_destroy_removes_the_new_files() -> None:
    (out, _, _), _ = run({"files": ["a.txt", "dist"]})
    out.destroy()
    assert not Path("a.txt").exists()
    assert not Path("dist").exists()
    assert Path("old.tar").exists()


@pytest.mark.parametrize("raw", [{}, {"files": []}, {"files": ""}])
def test_files_are_required(raw: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ArtificePostProcessor.Config.model_validate(raw)
