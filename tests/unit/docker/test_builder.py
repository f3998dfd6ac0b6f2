"""The docker builder end to end through the engine, against the fake engine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from builder.engine import RunOptions, load_template, prepare, run
from builder.events import Say
from builder.testing import RecordingSink
from tests.conftest import write_template
from tests.fakes.docker import FakeDockerDriver


@pytest.fixture(autouse=True)
def tmp_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "packer-tmp"
    monkeypatch.setenv("PACKER_TMP_DIR", str(root))
    return root


def go(tmp_path: Path, data: dict[str, Any]) -> tuple[Any, RecordingSink]:
    path = write_template(tmp_path, data)
    sink = RecordingSink()
    results = run(prepare(load_template(str(path)), RunOptions()), sink)
    return results, sink


def test_commit_build_with_shell_tag_and_manifest(
    fake: FakeDockerDriver, tmp_path: Path, tmp_root: Path
) -> None:
    manifest = tmp_path / "m.json"
    results, sink = go(
        tmp_path,
        {
            "builders": [
                {
                    "type": "docker",
                    "image": "pybuild-test/debian:bookworm",
                    "pull": False,
                    "commit": True,
                }
            ],
            "provisioners": [{"type": "shell", "inline": ["echo hi"]}],
            "post-processors": [
                [
                    {"type": "docker-tag", "repository": "pybuild/example", "tags": ["latest"]},
                    {"type": "manifest", "output": str(manifest)},
                ]
            ],
        },
    )
    result = results["docker"]
    assert result.error is None, result.error
    ids = [a.id for a in result.artifacts]
    assert ids[0].startswith("sha256:") and ids[1] == "pybuild/example:latest"
    assert fake.containers == {} and list(tmp_root.iterdir()) == []
    assert "pull" not in fake.calls
    says = sink.texts(Say, "docker")
    assert says[:3] == [
        "Creating a temporary directory for sharing data...",
        "Starting docker container...",
        "Using docker communicator to connect: 172.17.0.9",
    ]
    entry = json.loads(manifest.read_text())["builds"][0]
    assert entry["artifact_id"] == "pybuild/example:latest" and entry["builder_type"] == "docker"


def test_failed_provisioner_leaves_no_container_image_or_temp_dir(
    fake: FakeDockerDriver, tmp_path: Path, tmp_root: Path
) -> None:
    fake.exec_handler = lambda c, argv, user, env: (
        "",
        "boom\n",
        7 if "packer-shell" in argv[-1] or "script_" in argv[-1] else 0,
    )
    images = dict(fake.images)
    results, _ = go(
        tmp_path,
        {
            "builders": [
                {"type": "docker", "image": "pybuild-test/debian:bookworm", "commit": True}
            ],
            "provisioners": [{"type": "shell", "inline": ["exit 7"]}],
        },
    )
    assert "Script exited with non-zero exit status: 7" in str(results["docker"].error)
    assert fake.containers == {} and list(tmp_root.iterdir()) == []
    assert fake.images == images


def test_export_build_artifact(fake: FakeDockerDriver, tmp_path: Path) -> None:
    out = tmp_path / "o" / "image.tar"
    results, _ = go(
        tmp_path,
        {
            "builders": [
                {"type": "docker", "image": "pybuild-test/debian:bookworm", "export_path": str(out)}
            ]
        },
    )
    (art,) = results["docker"].artifacts
    assert (art.builder_id, art.id, art.files) == ("packer.docker", "Container", [str(out)])
    assert art.string() == f"Exported Docker file: {out}"
    assert art.state("generated_data")["ID"]
    art.destroy()
    assert not out.exists()


def test_discard_build_artifact(fake: FakeDockerDriver, tmp_path: Path) -> None:
    results, _ = go(
        tmp_path,
        {
            "builders": [
                {"type": "docker", "image": "pybuild-test/debian:bookworm", "discard": True}
            ]
        },
    )
    (art,) = results["docker"].artifacts
    assert art.string() == "Exported Docker file: " and art.files == []
    assert fake.containers == {}
