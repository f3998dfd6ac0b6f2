"""The Docker example under Debian's packer 1.6.6 and under pybuild: same result, same manifest shape."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.integration.docker.conftest import EXAMPLE, Leaks, cli_env, pybuild, remove_refs

if TYPE_CHECKING:
    import docker

pytestmark = pytest.mark.packer
PACKER = shutil.which("packer")


def shape(value: Any) -> Any:
    """A JSON value with its leaves replaced by their types (what both tools must agree on)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    return type(value).__name__


@pytest.mark.skipif(PACKER is None, reason="packer is not installed (apt-get install packer)")
def test_example_under_packer_and_pybuild(
    leaks: Leaks, docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    results: dict[str, tuple[str, dict[str, Any]]] = {}
    for tool in ("packer", "pybuild"):
        work = tmp_path / tool
        work.mkdir()
        repo = f"pybuild-parity/{tool}"
        args = [
            "build",
            "-color=false",
            "-var",
            f"repository={repo}",
            "-var",
            f"manifest={work / 'manifest.json'}",
            str(EXAMPLE),
        ]
        if tool == "packer":
            env = {**os.environ, **cli_env(leaks), "CHECKPOINT_DISABLE": "1"}
            proc = subprocess.run(
                [PACKER or "packer", *args],
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
            )
            leaks.note(proc.stdout)
        else:
            proc = pybuild(leaks, *args, cwd=work, timeout=600)
        assert proc.returncode == 0, f"{tool}:\n{proc.stdout}{proc.stderr}"
        info = docker_client.containers.run(
            f"{repo}:latest", entrypoint=["cat"], command=["/etc/pybuild-build-info"], remove=True
        ).decode()
        assert "cloud-init" in info, f"{tool}: {info}"
        results[tool] = (info, json.loads((work / "manifest.json").read_text()))
    (packer_info, packer_manifest), (ours_info, our_manifest) = (
        results["packer"],
        results["pybuild"],
    )
    assert packer_info == ours_info
    assert shape(our_manifest) == shape(packer_manifest)
    assert our_manifest["builds"][0]["artifact_id"] == "pybuild-parity/pybuild:latest"
    assert packer_manifest["builds"][0]["artifact_id"] == "pybuild-parity/packer:latest"
    leaks.assert_clean(allowed_images=leaks.new_images())
    remove_refs(docker_client, "pybuild-parity/packer:latest", "pybuild-parity/pybuild:latest")
