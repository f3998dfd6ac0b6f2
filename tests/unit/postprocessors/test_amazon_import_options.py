"""amazon-import's options: Packer 1.6.6's checks, located at the template path; the plan;
which file of an artifact is imported (the disk choice that needs no AWS)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from builder.artifact import Artifact
from builder.engine import RunOptions, load_template, prepare
from postprocessors.amazon_import import _one_disk


def errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **pp: Any) -> list[str]:
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    template = {
        "builders": [{"type": "file", "content": "x", "target": str(tmp_path / "out.raw")}],
        "post-processors": [{"type": "amazon-import", **pp}],
    }
    path = tmp_path / "t.json"
    path.write_text(json.dumps(template, indent=2))
    prepared = prepare(load_template(str(path)), RunOptions())
    return [str(e) for e in prepared.all_errors]


def test_the_bucket_is_required_and_format_and_encryption_are_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = errors(tmp_path, monkeypatch, format="qcow2", s3_encryption="rot13")
    text = "\n".join(found)
    assert "post-processors[0].s3_bucket_name: s3_bucket_name must be set" in text
    assert ("post-processors[0].format: invalid format 'qcow2'. Only 'ova', 'raw', 'vhd', "
            "'vhdx', or 'vmdk' are allowed") in text  # fmt: skip
    assert "post-processors[0].s3_encryption: invalid s3 encryption format 'rot13'" in text
    assert "t.json:" in text  # the line is named


def test_a_valid_block_prepares(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert errors(tmp_path, monkeypatch, s3_bucket_name="b", format="vmdk") == []


def test_the_access_options_are_the_amazon_builders_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = errors(tmp_path, monkeypatch, s3_bucket_name="b", access_key="AKIA")
    assert any("`access_key` and `secret_key` must both be either set or not set." in e
               for e in found)  # fmt: skip


def test_the_key_name_defaults_to_packers() -> None:
    from postprocessors.amazon_import import AmazonImportConfig

    assert AmazonImportConfig().key_template() == "packer-import-{{timestamp}}.ova"
    assert AmazonImportConfig(format="raw").key_template() == "packer-import-{{timestamp}}.raw"


def test_the_disk_of_an_artifact(tmp_path: Path) -> None:
    qemu = Artifact("transcend.qemu", "VM", [str(tmp_path / "vm")],
                    state={"diskPaths": [str(tmp_path / "vm")], "diskType": "qcow2"})  # fmt: skip
    assert _one_disk(qemu) == (str(tmp_path / "vm"), "qcow2")
    two = Artifact("x", "", ["a.vmdk", "b.raw"])
    assert _one_disk(two) == ("", "")
    none = Artifact("x", "", ["notes.txt", "SHA256SUMS"])
    assert _one_disk(none) == ("", "")
