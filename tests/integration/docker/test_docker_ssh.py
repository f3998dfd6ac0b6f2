"""`communicator: ssh` into the build container (sshd inside, its port published on 127.0.0.1)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tests.conftest import write_template
from tests.integration.conftest import free_port
from tests.integration.docker.conftest import Leaks, pybuild, remove_refs

if TYPE_CHECKING:
    import docker


def test_ssh_communicator_into_the_container(
    leaks: Leaks, docker_client: docker.DockerClient, sshd_image: str, tmp_path: Path
) -> None:
    port = free_port()
    start_sshd = "echo 'pybuild:ssh-pw' | chpasswd && exec /usr/sbin/sshd -D -e"
    path = write_template(
        tmp_path,
        {
            "builders": [
                {
                    "type": "docker",
                    "image": sshd_image,
                    "pull": False,
                    "commit": True,
                    "run_command": [
                        "-d",
                        "-p",
                        f"127.0.0.1:{port}:22",
                        "--entrypoint=/bin/sh",
                        "--",
                        "{{.Image}}",
                        "-c",
                        start_sshd,
                    ],
                    "communicator": "ssh",
                    "ssh_host": "127.0.0.1",
                    "ssh_port": port,
                    "ssh_username": "pybuild",
                    "ssh_password": "ssh-pw",
                    "ssh_timeout": "30s",
                }
            ],
            "provisioners": [
                {
                    "type": "shell",
                    "inline": [
                        'echo "via ssh as $(id -un) on {{build `Host`}}:{{build `Port`}}" | sudo tee /via-ssh'
                    ],
                }
            ],
            "post-processors": [
                {"type": "docker-tag", "repository": "pybuild-it/ssh", "tags": "1"}
            ],
        },
    )
    proc = pybuild(leaks, "build", str(path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout
    assert "==> docker: Using ssh communicator to connect: 127.0.0.1" in proc.stdout
    out = docker_client.containers.run(
        "pybuild-it/ssh:1", entrypoint=["cat"], command=["/via-ssh"], remove=True
    )
    assert out == f"via ssh as pybuild on 127.0.0.1:{port}\n".encode()
    leaks.assert_clean(allowed_images=leaks.new_images())
    remove_refs(docker_client, "pybuild-it/ssh:1")
