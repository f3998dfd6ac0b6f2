"""`-on-error=ask` on the real engine: a retried step is cleaned up first, nothing leaks."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from builder.engine import RunOptions, load_template, prepare, run
from builder.ledger import run_files
from builder.multistep import OnError
from builder.testing import RecordingSink
from tests.conftest import write_template
from tests.integration.docker.conftest import Leaks

if TYPE_CHECKING:
    import docker


def count(client: docker.DockerClient) -> int:
    return len(client.containers.list(all=True, ignore_removed=True))


def ask_build(
    leaks: Leaks,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    answers: list[str],
    builder: dict[str, Any],
    provisioners: list[dict[str, Any]] | None = None,
) -> tuple[Any, RecordingSink, Path]:
    monkeypatch.setenv("PACKER_TMP_DIR", str(leaks.tmp_root))
    path = write_template(tmp_path, {"builders": [builder], "provisioners": provisioners or []})
    state = tmp_path / "state"
    sink = RecordingSink(answers=answers)
    options = RunOptions(on_error=OnError.ASK, state_dir=str(state))
    results = run(prepare(load_template(str(path)), options), sink)
    leaks.note("\n".join(sink.texts()))
    return results, sink, state


def test_retried_run_step_leaves_no_container(
    leaks: Leaks,
    docker_client: docker.DockerClient,
    base_image: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """StepRun fails after the create call (the container exits at once): r, then c."""
    before = count(docker_client)
    results, sink, state = ask_build(
        leaks,
        tmp_path,
        monkeypatch,
        ["r", "c"],
        {
            "type": "docker",
            "image": base_image,
            "pull": False,
            "discard": True,
            "run_command": ["-d", "{{.Image}}", "true"],
        },
    )
    assert "exited at once" in str(results["docker"].error)
    assert len(sink.prompts) == 2 and "[r] retry step" in sink.prompts[0]
    assert len(leaks.container_ids) == 2  # one container per attempt...
    assert count(docker_client) == before  # ...and neither is left
    assert leaks.containers() == [] and run_files(state) == []
    leaks.assert_clean()


def test_provisioner_failing_once_then_retried_builds_one_image(
    leaks: Leaks,
    docker_client: docker.DockerClient,
    base_image: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = count(docker_client)
    once = "/packer-files/failed-once"
    results, sink, state = ask_build(
        leaks,
        tmp_path,
        monkeypatch,
        ["r"],
        {"type": "docker", "image": base_image, "pull": False, "commit": True},
        [{"type": "shell", "inline": [f"if [ ! -e {once} ]; then touch {once}; exit 9; fi"]}],
    )
    result = results["docker"]
    assert result.error is None, result.error
    assert len(sink.prompts) == 1 and "exit status: 9" in sink.prompts[0]
    assert len(leaks.container_ids) == 1
    assert count(docker_client) == before
    (artifact,) = result.artifacts
    assert leaks.new_images() == {artifact.id}  # the build's image, and no other
    assert run_files(state) == []
    leaks.assert_clean(allowed_images={artifact.id})
