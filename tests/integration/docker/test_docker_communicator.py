"""The docker communicator against a real container: exec, streaming, kill, archive transfers."""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.communicator.docker import DockerCommunicator
from builder.docker.runargs import ContainerSpec, parse_run_command
from builder.docker.sdk import DockerSDKDriver
from builder.errors import BuildCancelled, BuildError, CommunicatorTimeout
from builder.multistep import CancelToken

SHELL_ARGS = ["-d", "-i", "-t", "--entrypoint=/bin/sh"]


@pytest.fixture
def driver(docker_client: object) -> Iterator[DockerSDKDriver]:
    os.environ.pop("DOCKER_HOST", None)
    d = DockerSDKDriver()
    yield d
    d.close()


@pytest.fixture
def container(driver: DockerSDKDriver, base_image: str) -> Iterator[str]:
    run = parse_run_command([*SHELL_ARGS, "--name", f"pybuild_comm_{os.getpid()}", base_image])
    cid = driver.start_container(ContainerSpec(run))
    yield cid
    driver.remove_container(cid)


def processes(comm: DockerCommunicator, name: str) -> int:
    """How many live processes called `name` run in the container (minbase has no ps).

    Zombies do not count: the container's PID 1 is /bin/sh (Packer's default run
    command), which never reaps the orphans of a killed command.
    """
    out: list[str] = []
    script = (
        "for s in /proc/[0-9]*/stat; do cat $s 2>/dev/null; echo; done"
        f" | grep -c '({name}) [^Z]' || true"
    )
    comm.run(script, on_output=out.append)
    return int(out[-1])


def test_streams_lines_as_they_arrive_and_returns_the_status(
    driver: DockerSDKDriver, container: str
) -> None:
    comm = DockerCommunicator(driver, container)
    seen: list[tuple[float, str]] = []
    started = time.monotonic()
    result = comm.run(
        "echo one; sleep 0.6; echo two >&2; printf 'no newline'; exit 4",
        on_output=lambda line: seen.append((time.monotonic() - started, line)),
        env={"GREETING": "hi"},
    )
    assert result.exit_status == 4
    assert [line for _, line in seen] == ["one", "two", "no newline"]
    assert seen[0][0] < 0.5 <= seen[1][0]  # the first line arrived before the sleep ended
    out: list[str] = []
    comm.run("echo $GREETING", on_output=out.append, env={"GREETING": "hi"})
    assert out == ["hi"]


def test_exec_user(driver: DockerSDKDriver, container: str) -> None:
    out: list[str] = []
    DockerCommunicator(driver, container, exec_user="nobody").run("id -un", on_output=out.append)
    assert out == ["nobody"]


def test_cancel_and_timeout_kill_the_remote_process(
    driver: DockerSDKDriver, container: str
) -> None:
    comm = DockerCommunicator(driver, container)
    cancel = CancelToken()
    threading.Timer(0.5, cancel.cancel).start()
    started = time.monotonic()
    with pytest.raises(BuildCancelled):
        comm.run("sleep 300", cancel=cancel)
    assert time.monotonic() - started < 5
    with pytest.raises(CommunicatorTimeout, match="timed out after 0.5s"):
        comm.run("sleep 301", timeout=0.5)
    assert processes(comm, "sleep") == 0


def test_file_and_directory_transfers_with_owner_fix(
    driver: DockerSDKDriver, container: str, tmp_path: Path
) -> None:
    comm = DockerCommunicator(driver, container, container_user="nobody")
    big = os.urandom(3 * 1024 * 1024 + 17)
    progress: list[tuple[int, int]] = []
    comm.upload(io.BytesIO(big), "/tmp/big.bin", progress=lambda d, t: progress.append((d, t)))
    assert progress[-1] == (len(big), len(big))
    src = tmp_path / "tree"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("a")
    (src / "sub" / "b.sh").write_text("#!/bin/sh\n")
    (src / "sub" / "b.sh").chmod(0o755)
    (src / "link").symlink_to("a.txt")
    comm.upload_dir(str(src), "/up1")
    comm.upload_dir(str(src) + "/", "/up2")
    out: list[str] = []
    comm.run(
        "stat -c '%U %a %n' /tmp/big.bin /up1/tree/a.txt /up1/tree/sub/b.sh /up2/a.txt; "
        "readlink /up2/link; cat /up2/sub/b.sh",
        on_output=out.append,
    )
    assert out == [
        "nobody 644 /tmp/big.bin",
        "nobody 644 /up1/tree/a.txt",
        "nobody 755 /up1/tree/sub/b.sh",
        "nobody 644 /up2/a.txt",
        "a.txt",
        "#!/bin/sh",
    ]
    back = io.BytesIO()
    comm.download("/tmp/big.bin", back)
    assert back.getvalue() == big
    comm.download_dir("/up1/tree", str(tmp_path / "d1"))
    comm.download_dir("/up1/tree/", str(tmp_path / "d2"))
    assert (tmp_path / "d1" / "tree" / "sub" / "b.sh").read_text() == "#!/bin/sh\n"
    assert (tmp_path / "d2" / "a.txt").read_text() == "a"
    with pytest.raises(BuildError, match="Failed to upload to '/missing/x' in container"):
        comm.upload(io.BytesIO(b"x"), "/missing/x")
