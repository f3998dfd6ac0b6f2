"""compress post-processor: format detection and archives that read back with the stdlib."""

from __future__ import annotations

import gzip
import io
import lzma
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from builder.artifact import Artifact
from builder.components import PluginOptions
from builder.errors import PostProcessorError
from builder.events import Say
from builder.template.funcs import RenderContext
from builder.testing import RecordingSink
from builder.ui import Ui
from postprocessors.compress import CompressPostProcessor, detect

A = b"hello\n"
C = bytes(range(256)) * 700  # ~175 KiB: several BGZF blocks


def options() -> PluginOptions:
    ctx = RenderContext(user_vars={}, template_path=None, build_name="b", build_type="null")
    return PluginOptions(build_name="b", build_type="null", render=ctx, run_uuid="u")


def run(raw: dict[str, Any] | None = None, files: list[str] | None = None) -> tuple[Any, list[str]]:
    pp = CompressPostProcessor(CompressPostProcessor.Config.model_validate(raw or {}), options())
    pp.prepare()
    sink = RecordingSink()
    art = Artifact("x", "y", ["a.txt", "sub/c.bin"] if files is None else files)
    return pp.post_process(Ui(sink, "b (compress)"), art), sink.texts(Say)


@pytest.fixture(autouse=True)
def _files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("a.txt").write_bytes(A)
    Path("sub").mkdir()
    Path("sub/c.bin").write_bytes(C)


def tar_contents(path: str) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        out = {}
        for m in tar.getmembers():
            assert m.mtime == 0
            f = tar.extractfile(m)
            assert f is not None
            out[m.name] = f.read()
        return out


@pytest.mark.parametrize(
    ("path", "fmt", "expected"),
    [
        ("packer_{{.BuildName}}_{{.BuilderType}}", "", ("tar", "pgzip")),
        ("out", "", ("tar", "pgzip")),
        ("out.tar", "", ("tar", "")),
        ("out.zip", "", ("zip", "")),
        ("out.gz", "", ("", "pgzip")),
        ("out.tar.gz", "", ("tar", "pgzip")),
        ("out.tgz", "", ("tar", "pgzip")),
        ("out.tar.xz", "", ("tar", "xz")),
        ("out.xz", "", ("", "xz")),
        ("out.lz4", "", ("", "lz4")),
        ("out.tar.bgzf", "", ("tar", "bgzf")),
        ("out.zip.gz", "", ("", "pgzip")),
        ("out", "zip", ("zip", "")),
        ("out", "tar.gz", ("tar", "pgzip")),
        ("v1.2/out.img", "", ("tar", "pgzip")),
    ],
)
def test_detect(path: str, fmt: str, expected: tuple[str, str]) -> None:
    assert detect(path, fmt) == expected


def test_default_is_a_tar_gz_named_after_the_build() -> None:
    (out, keep, force_keep), says = run()
    assert says == [
        "Using pgzip compression with 1 core for packer_b_null",
        "Tarring packer_b_null with pgzip",
        "Archive packer_b_null completed",
    ]
    assert Path("packer_b_null").read_bytes()[:2] == b"\x1f\x8b"  # gzip
    assert tar_contents("packer_b_null") == {"a.txt": A, "c.bin": C}
    assert (keep, force_keep) == (False, False)
    assert out.builder_id == "packer.post-processor.compress"
    assert out.id == ""
    assert out.files == ["packer_b_null"]
    assert out.string() == "compressed artifacts in: packer_b_null"
    out.destroy()
    assert not Path("packer_b_null").exists()
    assert Path("a.txt").exists()


def test_plain_tar_in_a_new_directory() -> None:
    (out, _, _), says = run({"output": "dist/{{.BuildName}}/x.tar"})
    assert says[0] == "Tarring dist/b/x.tar with no compression"
    with tarfile.open("dist/b/x.tar", "r:") as tar:
        assert tar.getnames() == ["a.txt", "c.bin"]
        assert tar.getmember("a.txt").size == len(A)
    assert tar_contents("dist/b/x.tar") == {"a.txt": A, "c.bin": C}


def test_zip_keeps_the_paths_as_given() -> None:
    (out, _, _), says = run({"output": "x.zip", "compression_level": 9})
    assert says == ["Zipping x.zip", "Archive x.zip completed"]
    with zipfile.ZipFile("x.zip") as zf:
        assert zf.namelist() == ["a.txt", "sub/c.bin"]
        assert zf.read("sub/c.bin") == C
        assert zf.testzip() is None


def test_single_file_gzip() -> None:
    (out, _, _), says = run({"output": "a.txt.gz"}, ["a.txt"])
    assert says[1] == "Archiving a.txt with pgzip"
    assert gzip.decompress(Path("a.txt.gz").read_bytes()) == A


def test_single_file_mode_refuses_several_files_and_leaves_nothing() -> None:
    with pytest.raises(PostProcessorError, match=r"Found 2 files: \[a.txt sub/c.bin\]"):
        run({"output": "x.gz"})
    assert not Path("x.gz").exists()
    with pytest.raises(PostProcessorError, match="Found 0 files"):
        run({"output": "x.gz"}, [])


def test_format_overrides_detection_but_not_the_name() -> None:
    (out, _, _), says = run({"output": "z", "format": "xz"}, ["sub/c.bin"])
    assert says[0] == "Using xz compression with 1 core for z"
    assert out.files == ["z"]
    assert lzma.decompress(Path("z").read_bytes()) == C


def test_tar_xz() -> None:
    run({"output": "x.tar.xz"})
    assert Path("x.tar.xz").read_bytes()[:6] == b"\xfd7zXZ\x00"
    assert tar_contents("x.tar.xz") == {"a.txt": A, "c.bin": C}


def test_bgzf_is_blocked_gzip_any_gzip_reader_can_read() -> None:
    run({"output": "c.bgzf"}, ["sub/c.bin"])
    raw = Path("c.bgzf").read_bytes()
    assert gzip.decompress(raw) == C
    assert raw.endswith(bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000"))
    assert raw.count(b"BC\x02\x00") >= 4  # three data blocks and the EOF block


def test_tar_bgzf() -> None:
    run({"output": "t.tar.bgzf"})
    with gzip.open("t.tar.bgzf") as f:
        data = f.read()
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert tar.getnames() == ["a.txt", "c.bin"]
        member = tar.extractfile("c.bin")
        assert member is not None and member.read() == C


def test_no_files_in_archive_mode_gives_an_empty_archive() -> None:
    (out, _, _), _ = run({"output": "e.tar.gz"}, [])
    assert tar_contents("e.tar.gz") == {}


def test_missing_input_is_an_error_and_removes_the_partial_output() -> None:
    with pytest.raises(PostProcessorError, match="Error creating tar"):
        run({"output": "m.tar"}, ["a.txt", "nope.bin"])
    assert not Path("m.tar").exists()


@pytest.mark.parametrize(
    ("given", "level"), [(None, 6), (0, 6), (-1, 6), (1, 1), (12, 9), ("3", 3)]
)
def test_compression_level_normalised(given: Any, level: int) -> None:
    raw = {} if given is None else {"compression_level": given}
    assert CompressPostProcessor.Config.model_validate(raw).compression_level == level


def test_compression_level_below_minus_one_is_rejected() -> None:
    with pytest.raises(ValidationError, match="from -1 to 9"):
        CompressPostProcessor.Config.model_validate({"compression_level": -2})


def test_output_is_deferred() -> None:
    assert "output" in CompressPostProcessor.Config.deferred
    assert CompressPostProcessor.Config.model_validate({"output": ""}).output == (
        "packer_{{.BuildName}}_{{.BuilderType}}"
    )


def test_cancel_stops_compression_and_removes_the_partial_archive(tmp_path: Path) -> None:
    from builder.errors import BuildCancelled

    opts = options()
    opts.cancel.cancel()
    cfg = CompressPostProcessor.Config.model_validate({"output": "out.tar.gz"})
    pp = CompressPostProcessor(cfg, opts)
    with pytest.raises(BuildCancelled):
        pp.post_process(Ui(RecordingSink(), "b (compress)"), Artifact("x", "y", ["a.txt"]))
    assert not (tmp_path / "out.tar.gz").exists()
