"""The docker communicator over the fake engine: streaming, exit codes, cancel, transfers."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

import pytest

from builder.communicator.base import Disconnected
from builder.communicator.docker import DockerCommunicator, _Lines
from builder.docker.runargs import ContainerSpec, RunArgs
from builder.errors import BuildCancelled, BuildError, CommunicatorTimeout
from builder.multistep import CancelToken
from tests.fakes.docker import FakeContainer, FakeDockerDriver


def start(fake: FakeDockerDriver, user: str = "") -> tuple[DockerCommunicator, FakeContainer]:
    cid = fake.start_container(
        ContainerSpec(RunArgs(image="pybuild-test/debian:bookworm", interactive=True))
    )
    container = fake.containers[cid]
    container.user = user
    return DockerCommunicator(fake, cid, container_user=user), container


def test_output_is_line_buffered_per_stream_as_it_arrives() -> None:
    got: list[str] = []
    lines = _Lines(got.append)
    for stream, data in [
        (1, b"hel"),
        (2, b"err1\n"),
        (1, b"lo\nwor"),
        (1, "ld \xc3".encode("latin-1")),
        (1, b"\xa9\r\n"),
        (1, b"tail"),
    ]:
        lines.feed(stream, data)
    assert got == ["err1", "hello", "world é"]
    lines.flush()
    assert got == ["err1", "hello", "world é", "tail"]
    assert lines.tail.lines == got


def test_run_streams_lines_and_returns_the_status(fake: FakeDockerDriver) -> None:
    comm, _ = start(fake)
    fake.exec_handler = lambda c, argv, user, env: ("a\nb\n", "oops\n", 3)
    got: list[str] = []
    result = comm.run("exit 3", on_output=got.append, env={"K": "v"})
    assert result.exit_status == 3 and sorted(got) == ["a", "b", "oops"]
    assert result.tail == got
    assert fake.execs[-1][1:] == (["/bin/sh", "-c", "(exit 3)"], "", {"K": "v"})


def test_exec_user_and_root_override(fake: FakeDockerDriver) -> None:
    comm, _ = start(fake)
    comm.exec_user = "1000:1000"
    comm.run("id")
    assert fake.execs[-1][2] == "1000:1000"


def test_cancel_kills_the_command(fake: FakeDockerDriver) -> None:
    comm, _ = start(fake)
    fake.hang_on = "sleep"
    cancel = CancelToken()
    threading.Timer(0.2, cancel.cancel).start()
    started = time.monotonic()
    with pytest.raises(BuildCancelled):
        comm.run("sleep 100", cancel=cancel)
    assert time.monotonic() - started < 2 and fake.killed_execs == 1


def test_timeout_kills_the_command(fake: FakeDockerDriver) -> None:
    comm, _ = start(fake)
    fake.hang_on = "sleep"
    with pytest.raises(CommunicatorTimeout, match="timed out after 0.3s: sleep 100"):
        comm.run("sleep 100", timeout=0.3)
    assert fake.killed_execs == 1


def test_container_stopping_under_a_command_is_a_disconnect(fake: FakeDockerDriver) -> None:
    comm, container = start(fake)
    fake.hang_on = "sleep"
    threading.Timer(0.2, fake.stop_container, args=(container.id,)).start()
    with pytest.raises(Disconnected, match=r"stopped \(exit code 137\) while running: sleep 5"):
        comm.run("sleep 5")


def test_a_command_that_ends_on_its_own_costs_no_container_inspect(
    fake: FakeDockerDriver,
) -> None:
    comm, container = start(fake)
    fake.calls.clear()
    fake.exec_handler = lambda c, argv, user, env: ("", "", 1)
    assert comm.run("false").exit_status == 1
    assert fake.calls == ["exec"]
    fake.exec_handler = lambda c, argv, user, env: ("", "", 137)  # killed: is the container?
    assert comm.run("kill -9 $$").exit_status == 137
    assert fake.calls[1:3] == ["exec", "container_state"]


def test_upload_file_object_to_full_path(fake: FakeDockerDriver) -> None:
    comm, c = start(fake)
    seen: list[tuple[int, int]] = []
    comm.upload(
        io.BytesIO(b"#!/bin/sh\necho hi\n"),
        "/tmp/script.sh",
        progress=lambda d, t: seen.append((d, t)),
    )
    assert c.files["/tmp/script.sh"] == b"#!/bin/sh\necho hi\n"
    assert c.modes["/tmp/script.sh"] == 0o644
    assert seen[-1] == (18, 18)
    assert not [e for e in fake.execs if "chown" in " ".join(e[1])]  # root: nothing to fix


def test_upload_local_file_keeps_mode_and_fixes_owner(
    fake: FakeDockerDriver, tmp_path: Path
) -> None:
    comm, c = start(fake, user="app")
    src = tmp_path / "run.sh"
    src.write_text("x")
    src.chmod(0o750)
    comm.upload(str(src), "/tmp/run.sh", mode=None)
    assert c.modes["/tmp/run.sh"] == 0o750
    ((_, argv, user, _),) = [e for e in fake.execs if "chown" in " ".join(e[1])]
    assert argv[-1] == "(chown -R app /tmp/run.sh)" and user == "root"


def test_upload_into_a_missing_directory_fails_like_packer(fake: FakeDockerDriver) -> None:
    comm, _ = start(fake)
    with pytest.raises(
        BuildError, match="Failed to upload to '/up3/f' in container: .*Could not find"
    ):
        comm.upload(io.BytesIO(b"x"), "/up3/f")


def tree(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("a")
    (src / "sub" / "b.txt").write_text("b")
    return src


def test_upload_dir_without_slash_creates_the_directory(
    fake: FakeDockerDriver, tmp_path: Path
) -> None:
    comm, c = start(fake)
    c.dirs.add("/up1")
    comm.upload_dir(str(tree(tmp_path)), "/up1")
    assert c.files["/up1/src/a.txt"] == b"a" and c.files["/up1/src/sub/b.txt"] == b"b"


def test_upload_dir_with_slash_copies_the_contents(fake: FakeDockerDriver, tmp_path: Path) -> None:
    comm, c = start(fake, user="app")
    c.dirs.add("/up2")
    comm.upload_dir(str(tree(tmp_path)) + "/", "/up2")
    assert c.files["/up2/a.txt"] == b"a" and c.files["/up2/sub/b.txt"] == b"b"
    chown = [e[1][-1] for e in fake.execs if "chown" in e[1][-1]]
    assert chown == ["(chown -R app /up2/a.txt /up2/sub)"]


def test_download_file_and_directory(fake: FakeDockerDriver, tmp_path: Path) -> None:
    comm, c = start(fake)
    c.files["/etc/hostname"] = b"box\n" * 1000
    c.dirs |= {"/d", "/d/e"}
    c.files["/d/x"] = b"x"
    c.files["/d/e/y"] = b"y"
    out = io.BytesIO()
    comm.download("/etc/hostname", out)
    assert out.getvalue() == b"box\n" * 1000
    comm.download("/etc/hostname", str(tmp_path / "h"))
    assert (tmp_path / "h").read_bytes() == b"box\n" * 1000
    comm.download_dir("/d", str(tmp_path / "one"))
    assert (tmp_path / "one" / "d" / "e" / "y").read_text() == "y"
    comm.download_dir("/d/", str(tmp_path / "two"))
    assert (tmp_path / "two" / "x").read_text() == "x"
    with pytest.raises(BuildError, match="is a directory"):
        comm.download("/d", io.BytesIO())
    with pytest.raises(BuildError, match="Error downloading file"):
        comm.download("/missing", io.BytesIO())


def test_cancel_during_upload(fake: FakeDockerDriver) -> None:
    comm, _ = start(fake)
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(BuildCancelled):
        comm.upload(io.BytesIO(b"x" * 10), "/tmp/x", cancel=cancel)
