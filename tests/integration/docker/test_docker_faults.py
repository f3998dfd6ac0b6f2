"""Faults on a real engine: each gives a clear message, exit 1, and leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.conftest import write_template
from tests.integration.docker.conftest import Leaks, cli_env, pybuild

if TYPE_CHECKING:
    import docker


def template(tmp_path: Path, base_image: str, inline: list[str], **extra: Any) -> Path:
    return write_template(
        tmp_path,
        {
            "builders": [
                {"type": "docker", "image": base_image, "pull": False, "commit": True, **extra}
            ],
            "provisioners": [{"type": "shell", "inline": inline}],
        },
    )


def test_missing_image_with_pull_false(leaks: Leaks, tmp_path: Path) -> None:
    path = template(tmp_path, "pybuild-it/no-such-image:1", ["true"])
    proc = pybuild(leaks, "build", str(path), cwd=tmp_path)
    assert proc.returncode == 1
    assert (
        "Error running container: create a container from pybuild-it/no-such-image:1" in proc.stdout
    )
    assert '"pull" is false, so pybuild did not pull it' in proc.stdout
    leaks.assert_clean()


def test_daemon_not_running_says_where_it_looked(leaks: Leaks, tmp_path: Path) -> None:
    dead = tmp_path / "dead.sock"
    path = template(tmp_path, "pybuild-test/debian:bookworm", ["true"])
    proc = pybuild(leaks, "build", str(path), cwd=tmp_path, DOCKER_HOST=f"unix://{dead}")
    assert proc.returncode == 1
    assert (
        f"Cannot connect to the Docker daemon at unix://{dead} (from DOCKER_HOST). "
        "Is the docker daemon running?" in proc.stdout
    )
    assert "Traceback" not in proc.stdout + proc.stderr
    leaks.assert_clean()


def test_invalid_changes_line_is_a_validate_error_with_location(
    leaks: Leaks, base_image: str, tmp_path: Path
) -> None:
    path = template(tmp_path, base_image, ["true"], changes=["ENV A=1", "RUN make"])
    proc = pybuild(leaks, "validate", str(path), cwd=tmp_path)
    assert proc.returncode == 1
    assert (
        "builders[0].changes[1]: 'RUN' is not a valid change command; allowed: CMD, "
        f"ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR ({path}:10)"
    ) in proc.stdout
    proc = pybuild(leaks, "build", str(path), cwd=tmp_path)
    assert proc.returncode == 1 and "'RUN' is not a valid change command" in proc.stdout
    leaks.assert_clean()


def _kill_when_running(
    client: docker.DockerClient, leaks: Leaks, marker: str, found: list[str]
) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for name in leaks.containers():
            container = client.containers.get(name)
            code, _ = container.exec_run(["test", "-e", marker])
            if code == 0:
                found.append(name)
                container.kill()
                return
        time.sleep(0.1)


def test_container_killed_while_a_provisioner_runs(
    leaks: Leaks, docker_client: docker.DockerClient, base_image: str, tmp_path: Path
) -> None:
    path = template(tmp_path, base_image, ["touch /tmp/started", "sleep 60"])
    found: list[str] = []
    killer = threading.Thread(
        target=_kill_when_running, args=(docker_client, leaks, "/tmp/started", found)
    )
    killer.start()
    started = time.monotonic()
    proc = pybuild(leaks, "build", str(path), cwd=tmp_path)
    killer.join()
    assert found, "the build container never appeared"
    assert proc.returncode == 1
    assert time.monotonic() - started < 30
    assert "stopped (exit status 137, killed) while provisioning" in proc.stdout
    leaks.assert_clean()


def test_ctrl_c_in_the_middle_of_provisioning(
    leaks: Leaks, base_image: str, tmp_path: Path
) -> None:
    path = template(tmp_path, base_image, ["echo provisioning-now", "sleep 60"])
    env = {**os.environ, **cli_env(leaks)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "builder", "build", str(path)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    for line in proc.stdout:
        lines.append(line)
        if "provisioning-now" in line:
            break
    leaks.note("".join(lines))
    (name,) = leaks.containers()
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=30)
    output = "".join(lines) + rest
    leaks.note(output)
    assert proc.returncode == 1, output
    assert time.monotonic() - sent < 10
    assert "Cancelling build after receiving interrupt" in output
    assert "==> docker: Killing the container: " in output
    assert name.startswith("pybuild_docker_")
    leaks.assert_clean()
