"""The builder's pull step with login against a real registry on 127.0.0.1 (docker-registry)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import write_template
from tests.integration.docker.conftest import Leaks, Registry, pybuild, remove_refs

if TYPE_CHECKING:
    import docker


@pytest.fixture
def pushed_base(
    docker_client: docker.DockerClient, base_image: str, registry: Registry
) -> Iterator[str]:
    """The base image in the registry (and not under that name in the engine)."""
    repo = f"{registry.address}/pybuild/base"
    docker_client.images.get(base_image).tag(repo, "1")
    auth = {"username": registry.username, "password": registry.password}
    for line in docker_client.images.push(repo, "1", auth_config=auth, stream=True, decode=True):
        assert "error" not in line, line
    remove_refs(docker_client, f"{repo}:1")
    yield f"{repo}:1"
    remove_refs(docker_client, f"{repo}:1")


def pull_template(tmp_path: Path, image: str, registry: Registry, **login: Any) -> Path:
    return write_template(
        tmp_path,
        {
            "builders": [
                {
                    "type": "docker",
                    "image": image,
                    "commit": True,
                    "login_server": registry.address,
                    "login_username": registry.username,
                    **login,
                }
            ],
            "provisioners": [{"type": "shell", "inline": ["echo pulled > /pulled.txt"]}],
            "post-processors": [
                {"type": "docker-tag", "repository": "pybuild-it/pulled", "tags": "1"}
            ],
        },
    )


def test_pull_with_login_and_the_password_never_shown(
    leaks: Leaks,
    docker_client: docker.DockerClient,
    pushed_base: str,
    registry: Registry,
    tmp_path: Path,
) -> None:
    path = pull_template(
        tmp_path, pushed_base, registry, login=True, login_password=registry.password
    )
    log = tmp_path / "debug.log"
    proc = pybuild(
        leaks, "build", str(path), cwd=tmp_path, PYBUILD_LOG="1", PYBUILD_LOG_PATH=str(log)
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"==> docker: Pulling Docker image: {pushed_base}" in proc.stdout
    assert "    docker: Logging in..." in proc.stdout
    assert "    docker: Logging out..." in proc.stdout
    assert docker_client.images.get(pushed_base)  # the engine has it now
    out = docker_client.containers.run(
        "pybuild-it/pulled:1", entrypoint=["cat"], command=["/pulled.txt"], remove=True
    )
    assert out == b"pulled\n"
    text = proc.stdout + proc.stderr + log.read_text()
    assert "Pulling Docker image" in log.read_text()  # the debug log was written
    assert registry.password not in text
    leaks.assert_clean(allowed_images=leaks.new_images())
    remove_refs(docker_client, "pybuild-it/pulled:1")


def test_pull_without_login_or_with_a_wrong_password_fails_cleanly(
    leaks: Leaks, pushed_base: str, registry: Registry, tmp_path: Path
) -> None:
    path = pull_template(tmp_path, pushed_base, registry)
    proc = pybuild(leaks, "build", str(path), cwd=tmp_path)
    assert proc.returncode == 1
    assert f"Error pulling Docker image: pull {pushed_base}: " in proc.stdout
    assert "no basic auth credentials" in proc.stdout
    leaks.assert_clean()

    wrong = "not-the-password-123"
    path = pull_template(tmp_path, pushed_base, registry, login=True, login_password=wrong)
    proc = pybuild(leaks, "build", str(path), cwd=tmp_path)
    assert proc.returncode == 1
    assert f"Error logging in: login to {registry.address}: " in proc.stdout
    assert "401 Unauthorized" in proc.stdout
    assert wrong not in proc.stdout + proc.stderr
    leaks.assert_clean()
