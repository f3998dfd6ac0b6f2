"""Every `docker` builder option of the issue, honoured by a real build on the local engine."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.conftest import write_template
from tests.integration.conftest import container_labels
from tests.integration.docker.conftest import Leaks, pybuild

if TYPE_CHECKING:
    import docker

SHELL_AS_NOBODY = ["-d", "-i", "-t", "-u", "nobody", "--entrypoint=/bin/sh", "--", "{{.Image}}"]
CAP_CHOWN, CAP_NET_ADMIN, CAP_SYS_ADMIN = 1 << 0, 1 << 12, 1 << 21


def docker_builder(base_image: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"type": "docker", "name": name, "image": base_image, "pull": False, **extra}


def facts(stdout: str, build: str) -> dict[str, str]:
    """`KEY=VALUE` lines a build's provisioner printed (`    <build>: KEY=VALUE`)."""
    found = re.findall(rf"^    {re.escape(build)}: ([A-Z_]+)=(.*)$", stdout, re.M)
    return dict(found)


def image_platform(client: docker.DockerClient, image: str) -> str:
    """`os/arch` of a local image (the base image is imported on the host's arch)."""
    attrs = client.images.get(image).attrs
    return f"{attrs['Os']}/{attrs['Architecture']}"


def test_run_options_reach_the_container(
    leaks: Leaks, docker_client: docker.DockerClient, base_image: str, tmp_path: Path
) -> None:
    """volumes, container_dir, cap_add, cap_drop, tmpfs, device, platform,
    fix_upload_owner, exec_user, and the file provisioner both ways, in one parallel run."""
    volume = tmp_path / "vol"
    volume.mkdir()
    volume.chmod(0o777)
    (volume / "from-host.txt").write_text("host data\n")
    upload = tmp_path / "up"
    (upload / "tree" / "sub").mkdir(parents=True)
    (upload / "file.txt").write_text("one file\n")
    (upload / "tree" / "sub" / "deep.txt").write_text("deep\n")
    probe = [
        "echo USER=$(id -un)",
        "echo CAPS=$(awk '/^CapEff/ {print $2}' /proc/1/status)",
        "echo MOUNTS=$(awk '{print $2\":\"$3}' /proc/mounts | grep -E '^/(scratch|shared|"
        "packer-files|mnt/vol):' | sort | tr '\\n' ' ')",
        "echo TMPFS_SIZE=$(awk '$2 == \"/scratch\" {print $4}' /proc/mounts | tr , '\\n' "
        "| grep ^size=)",
        "echo DEVICE=$(stat -c '%F %t:%T' /dev/pbzero 2>&1)",
        "echo OWNERS=$(stat -c '%U' /tmp/file.txt /tmp/tree /tmp/tree/sub/deep.txt | tr '\\n' ' ')",
        "if [ -d /mnt/vol ]; then echo VOLUME=$(cat /mnt/vol/from-host.txt); "
        "echo written > /mnt/vol/from-{{build_name}}.txt; fi",
    ]
    path = write_template(
        tmp_path,
        {
            "builders": [
                docker_builder(
                    base_image,
                    "mounts",
                    discard=True,
                    volumes={str(volume): "/mnt/vol"},
                    container_dir="/shared",
                ),
                docker_builder(
                    base_image,
                    "caps",
                    discard=True,
                    cap_add=["NET_ADMIN"],
                    cap_drop="CHOWN",
                    tmpfs=["/scratch:size=1m"],
                    device=["/dev/zero:/dev/pbzero"],
                    platform=image_platform(docker_client, base_image),
                ),
                docker_builder(base_image, "owner", discard=True, run_command=SHELL_AS_NOBODY),
                docker_builder(
                    base_image,
                    "noowner",
                    discard=True,
                    run_command=SHELL_AS_NOBODY,
                    fix_upload_owner=False,
                    exec_user="root",
                ),
            ],
            "provisioners": [
                {
                    "type": "file",
                    "source": str(upload / "file.txt"),
                    "destination": "/tmp/file.txt",
                },
                {"type": "file", "source": str(upload / "tree"), "destination": "/tmp"},
                {"type": "shell", "inline": probe},
                {
                    "type": "file",
                    "direction": "download",
                    "source": "/tmp/tree/sub/deep.txt",
                    "destination": str(tmp_path / "down" / "{{build_name}}.txt"),
                },
            ],
        },
    )
    proc = pybuild(leaks, "build", "-color=false", str(path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert (
        "    caps: Run command: docker run --device /dev/zero:/dev/pbzero --cap-add NET_ADMIN "
        "--cap-drop CHOWN --tmpfs /scratch:size=1m -v " in out
    )

    mounts = facts(out, "mounts")
    assert {m.split(":")[0] for m in mounts["MOUNTS"].split()} == {"/mnt/vol", "/shared"}
    assert mounts["VOLUME"] == "host data"
    assert (volume / "from-mounts.txt").read_text() == "written\n"

    caps = facts(out, "caps")
    effective = int(caps["CAPS"], 16)
    assert effective & CAP_NET_ADMIN and not effective & CAP_CHOWN
    assert not effective & CAP_SYS_ADMIN  # no more than asked for
    assert {m.split(":")[0] for m in caps["MOUNTS"].split()} == {"/scratch", "/packer-files"}
    assert "/scratch:tmpfs" in caps["MOUNTS"].split()
    assert caps["TMPFS_SIZE"] == "size=1024k"
    assert caps["DEVICE"] == "character special file 1:5"  # /dev/zero's major:minor
    assert "VOLUME" not in caps

    owner, noowner = facts(out, "owner"), facts(out, "noowner")
    assert owner["USER"] == "nobody"  # the container's user (run_command -u)
    assert owner["OWNERS"].split() == ["nobody"] * 3  # fix_upload_owner: chown -R
    assert noowner["USER"] == "root"  # exec_user wins over the container's user
    assert noowner["OWNERS"].split() == ["root"] * 3
    for build in ("mounts", "caps", "owner", "noowner"):
        assert (tmp_path / "down" / f"{build}.txt").read_text() == "deep\n"
    leaks.assert_clean()


def test_platform_is_passed_to_the_engine(
    leaks: Leaks, docker_client: docker.DockerClient, base_image: str, tmp_path: Path
) -> None:
    actual = image_platform(docker_client, base_image)
    other = "linux/s390x" if actual != "linux/s390x" else "linux/arm64"
    path = write_template(
        tmp_path,
        {"builders": [docker_builder(base_image, "other", discard=True, platform=other)]},
    )
    proc = pybuild(leaks, "build", "-color=false", str(path), cwd=tmp_path)
    assert proc.returncode == 1
    assert (
        "Error running container: create a container from pybuild-test/debian:bookworm: "
        "image with reference pybuild-test/debian:bookworm was found but does not match the "
        f"specified platform: wanted {other}, actual: {actual}" in proc.stdout
    )
    assert '"pull" is false' not in proc.stdout
    leaks.assert_clean()


def engine_runs_privileged(client: docker.DockerClient, image: str) -> str:
    """'' when the engine can start a privileged container, else the engine's refusal."""
    import docker.errors

    try:
        client.containers.run(
            image, ["true"], privileged=True, remove=True, labels=container_labels()
        )
    except docker.errors.APIError as exc:
        return str(exc.explanation)
    return ""


def test_privileged(
    leaks: Leaks, docker_client: docker.DockerClient, base_image: str, tmp_path: Path
) -> None:
    """`privileged` gives PID 1 every capability; where the engine itself lacks one (this
    project's firecracker VMs: dockerd runs without CAP_SYS_RESOURCE) the build must fail
    with the engine's reason and a hint, and leave nothing behind."""
    refusal = engine_runs_privileged(docker_client, base_image)
    path = write_template(
        tmp_path,
        {
            "builders": [docker_builder(base_image, "priv", discard=True, privileged=True)],
            "provisioners": [
                {
                    "type": "shell",
                    "inline": ["echo CAPS=$(awk '/^CapEff/ {print $2}' /proc/1/status)"],
                }
            ],
        },
    )
    proc = pybuild(leaks, "build", "-color=false", str(path), cwd=tmp_path)
    assert "    priv: Run command: docker run --privileged -v " in proc.stdout
    if not refusal:
        assert proc.returncode == 0, proc.stdout
        last_cap = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
        assert int(facts(proc.stdout, "priv")["CAPS"], 16) == (1 << (last_cap + 1)) - 1
    else:
        assert "apply caps" in refusal  # the flag reached the engine, which refused it
        assert proc.returncode == 1
        assert "Error running container: start container " in proc.stdout
        assert "privileged: true asks the engine for every capability" in proc.stdout
    leaks.assert_clean()


def test_change_refused_by_the_engine_at_commit(
    leaks: Leaks, base_image: str, tmp_path: Path
) -> None:
    """A change line pybuild cannot judge fails at commit: clear error, nothing left."""
    path = write_template(
        tmp_path,
        {
            "builders": [
                docker_builder(base_image, "docker", commit=True, changes=['ENV A="unterminated'])
            ],
            "provisioners": [{"type": "shell", "inline": ["touch /provisioned"]}],
        },
    )
    proc = pybuild(leaks, "build", "-color=false", str(path), cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout
    assert (
        "Error committing container: commit the container: failed to process "
        '"\\"unterminated": unexpected end of statement' in proc.stdout
    )
    leaks.assert_clean()


def test_commit_of_a_container_run_with_rm(
    leaks: Leaks, docker_client: docker.DockerClient, base_image: str, tmp_path: Path
) -> None:
    """pybuild stops the container before `commit` (no freeze); one run with `--rm` would
    vanish when stopped, so it is paused as Packer does, and cleanup still removes it."""
    path = write_template(
        tmp_path,
        {
            "builders": [
                docker_builder(
                    base_image,
                    "docker",
                    commit=True,
                    run_command=["-d", "-i", "-t", "--rm", "--entrypoint=/bin/sh", "{{.Image}}"],
                )
            ],
            "provisioners": [{"type": "shell", "inline": ["echo kept > /kept.txt"]}],
        },
    )
    proc = pybuild(leaks, "build", "-color=false", str(path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout
    (image,) = leaks.new_images()
    out = docker_client.containers.run(
        image, entrypoint=["cat"], command=["/kept.txt"], remove=True
    )
    assert out == b"kept\n"
    leaks.assert_clean(allowed_images={image})
