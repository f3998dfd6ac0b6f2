"""checksum post-processor: sums match hashlib, file naming, artifact contents, destroy quirk."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from builder.artifact import Artifact
from builder.components import PluginOptions
from builder.config import config_errors
from builder.errors import PostProcessorError
from builder.template.funcs import RenderContext
from builder.testing import RecordingSink
from builder.ui import Ui
from postprocessors.checksum import ChecksumPostProcessor

A = b"hello\n"
C = b"some other bytes" * 1000


def options() -> PluginOptions:
    ctx = RenderContext(
        user_vars={"dir": "sums"}, template_path=None, build_name="b", build_type="null"
    )
    return PluginOptions(build_name="b", build_type="null", render=ctx, run_uuid="u")


def run(raw: dict[str, Any] | None = None, artifact: Artifact | None = None) -> Any:
    pp = ChecksumPostProcessor(ChecksumPostProcessor.Config.model_validate(raw or {}), options())
    pp.prepare()
    art = artifact or Artifact("packer.post-processor.artifice", "", ["a.txt", "sub/c.bin"])
    return pp.post_process(Ui(RecordingSink(), "b (checksum)"), art)


def line(kind: str, data: bytes, name: str) -> str:
    return f"{hashlib.new(kind, data).hexdigest()}\t{name}\n"


@pytest.fixture(autouse=True)
def _files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("a.txt").write_bytes(A)
    Path("sub").mkdir()
    Path("sub/c.bin").write_bytes(C)


def test_default_md5_file() -> None:
    out, keep, force_keep = run()
    name = "packer_b_null_md5.checksum"
    assert Path(name).read_text() == line("md5", A, "a.txt") + line("md5", C, "c.bin")
    assert (keep, force_keep) == (True, True)
    assert out.builder_id == "packer.post-processor.checksum"
    assert out.id == ""
    assert out.files == ["a.txt", "sub/c.bin", name]
    assert out.string() == f"Created artifact from files: a.txt, sub/c.bin, {name}"


@pytest.mark.parametrize("kind", ["md5", "sha1", "sha224", "sha256", "sha384", "sha512"])
def test_every_type_matches_hashlib(kind: str) -> None:
    run({"checksum_types": [kind]})
    text = Path(f"packer_b_null_{kind}.checksum").read_text()
    assert text == line(kind, A, "a.txt") + line(kind, C, "c.bin")


def test_several_types_with_templated_output_in_new_directories() -> None:
    out, _, _ = run(
        {
            "checksum_types": "sha256,sha1",
            "output": "{{user `dir`}}/{{.BuildName}}-{{.BuilderType}}/{{.ChecksumType}}.sum",
        }
    )
    assert Path("sums/b-null/sha256.sum").read_text() == line("sha256", A, "a.txt") + line(
        "sha256", C, "c.bin"
    )
    assert Path("sums/b-null/sha1.sum").read_text().startswith(line("sha1", A, "a.txt"))
    assert out.files[2:] == ["sums/b-null/sha256.sum", "sums/b-null/sha1.sum"]


def test_existing_file_is_appended_to_and_not_claimed() -> None:
    Path("packer_b_null_md5.checksum").write_text("old\tline\n")
    out, _, _ = run()
    assert Path("packer_b_null_md5.checksum").read_text() == (
        "old\tline\n" + line("md5", A, "a.txt") + line("md5", C, "c.bin")
    )
    assert out.files == ["a.txt", "sub/c.bin"]


def test_generated_data_is_available_to_output() -> None:
    art = Artifact("x", "y", ["a.txt"], state={"generated_data": {"ImageSha256": "abc"}})
    run({"output": "{{.ImageSha256}}-{{build `ImageSha256`}}.{{.ChecksumType}}"}, art)
    assert Path("abc-abc.md5").read_text() == line("md5", A, "a.txt")


def test_destroying_the_artifact_removes_the_inputs_too() -> None:
    out, _, _ = run()
    out.destroy()
    assert not Path("a.txt").exists()
    assert not Path("sub/c.bin").exists()
    assert not Path("packer_b_null_md5.checksum").exists()


def test_no_files_writes_nothing() -> None:
    out, _, _ = run(artifact=Artifact("fnoeding.null", "Null"))
    assert out.files == []
    assert not Path("packer_b_null_md5.checksum").exists()


def test_unknown_type_is_a_config_error() -> None:
    with pytest.raises(ValidationError) as info:
        ChecksumPostProcessor.Config.model_validate({"checksum_types": ["md5", "crc32"]})
    errors = config_errors(info.value, ChecksumPostProcessor.Config, "", lambda loc: None)
    assert len(errors.errors) == 1
    assert errors.errors[0].message.startswith("unsupported checksum type 'crc32'")


def test_output_is_deferred_and_defaults_when_empty() -> None:
    cfg = ChecksumPostProcessor.Config.model_validate({"output": ""})
    assert "output" in ChecksumPostProcessor.Config.deferred
    assert cfg.output == "packer_{{.BuildName}}_{{.BuilderType}}_{{.ChecksumType}}.checksum"
    assert cfg.checksum_types == ["md5"]


def test_unreadable_input_is_an_error() -> None:
    with pytest.raises(PostProcessorError, match="missing.txt"):
        run(artifact=Artifact("x", "y", ["missing.txt"]))
    assert "missing.txt" not in os.listdir(".")
