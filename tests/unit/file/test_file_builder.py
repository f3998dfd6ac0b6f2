"""Packer 1.6.6's `file` builder: target, content or source, its errors, warning and artifact."""

from __future__ import annotations

import json
import os
from pathlib import Path


def test_content_is_written_with_parents_made(template, cli, tmp_path: Path) -> None:
    template(
        {
            "builders": [{"type": "file", "target": "out/dir/x.txt", "content": "hi there"}],
            "post-processors": [{"type": "manifest"}],
        }
    )
    r = cli("build", "t.json")
    assert r.returncode == 0, r.stdout + r.stderr
    target = tmp_path / "out" / "dir" / "x.txt"
    assert target.read_text() == "hi there"
    assert oct(target.stat().st_mode & 0o777) == "0o600"  # as packer writes it
    assert "--> file: Stored file: out/dir/x.txt" in r.stdout
    [built] = json.loads((tmp_path / "packer-manifest.json").read_text())["builds"]
    assert built["artifact_id"] == "File" and built["builder_type"] == "file"
    assert built["files"] == [{"name": "out/dir/x.txt", "size": 8}]


def test_source_is_copied(template, cli, tmp_path: Path) -> None:
    (tmp_path / "src.txt").write_text("hello\n")
    template({"builders": [{"type": "file", "target": "y.txt", "source": "src.txt"}]})
    r = cli("build", "t.json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "y.txt").read_text() == "hello\n"
    assert "==> file: Copying src.txt to y.txt" in r.stdout
    assert "==> file: Copied 6 bytes" in r.stdout


def test_a_missing_source_fails_the_build_and_writes_nothing(template, cli, tmp_path) -> None:
    template({"builders": [{"type": "file", "target": "y.txt", "source": "nope"}]})
    r = cli("build", "t.json")
    assert r.returncode == 1
    assert "--> file: open nope: No such file or directory" in r.stdout
    assert not (tmp_path / "y.txt").exists()


def test_target_is_required_and_source_excludes_content(template, cli) -> None:
    template({"builders": [{"type": "file"}, {"type": "file", "name": "b", "target": "a",
                                              "source": "s", "content": "c"}]})  # fmt: skip
    r = cli("validate", "t.json")
    assert r.returncode == 1
    assert "builders[0].target: target required (t.json:" in r.stdout
    assert "builders[1].content: Cannot specify source file AND content (t.json:" in r.stdout


def test_nothing_to_write_is_a_warning(template, cli, tmp_path: Path) -> None:
    template({"builders": [{"type": "file", "target": "a"}]})
    r = cli("validate", "t.json")
    assert r.returncode == 0
    assert r.stdout.startswith(
        'Warning: Warning when preparing build: "file"\n\n'
        "Both source file and contents are blank; target will have no content\n"
    )
    assert cli("build", "t.json").returncode == 0
    assert (tmp_path / "a").read_bytes() == b""


def test_destroying_the_artifact_removes_the_file(template, tmp_path: Path) -> None:
    import builder

    path = template({"builders": [{"type": "file", "target": str(tmp_path / "a"), "content": "x"}]})
    report = builder.build(str(path))
    [art] = report.artifacts["file"]
    assert art.files == [str(tmp_path / "a")] and os.path.exists(art.files[0])
    art.destroy()
    assert not os.path.exists(art.files[0])
