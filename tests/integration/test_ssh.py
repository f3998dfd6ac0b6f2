"""The ssh communicator against real OpenSSH servers (sshd test hosts on 127.0.0.1)."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from builder.communicator.base import Disconnected
from builder.communicator.keygen import generate_key_pair
from builder.communicator.ssh import SSHAuthenticationError, SSHCommunicator, SSHSettings
from builder.communicator.sshdial import Hop, Proxy
from builder.communicator.sshtransfer import STREAM_MIN
from builder.errors import BuildCancelled, BuildError, CommunicatorTimeout
from builder.multistep import CancelToken
from builder.testing import RecordingSink
from builder.ui import Ui
from tests.integration.conftest import SSHHost, free_port
from tests.integration.socks5 import Socks5Server


# ---------------------------------------------------------------------- helpers
def settings_for(host: SSHHost, **kw: Any) -> SSHSettings:
    """Password settings for a test host; keyword arguments override."""
    base: dict[str, Any] = {
        "host": host.host,
        "port": host.port,
        "username": host.user,
        "password": host.password or "",
        "timeout": 20.0,
    }
    base.update(kw)
    return SSHSettings(**base)


@pytest.fixture
def connect() -> Iterator[Callable[..., SSHCommunicator]]:
    """`connect(settings, retry=0.2, ui=None)` -> a connected communicator, closed after."""
    made: list[SSHCommunicator] = []

    def make(settings: SSHSettings, retry: float = 0.2, ui: Ui | None = None) -> SSHCommunicator:
        comm = SSHCommunicator(settings)
        comm.retry_interval = retry
        made.append(comm)
        comm.connect(ui, CancelToken())
        return comm

    yield make
    for comm in made:
        comm.close()


def lines_of(comm: SSHCommunicator, command: str) -> list[str]:
    out: list[str] = []
    result = comm.run(command, on_output=out.append)
    assert result.exit_status == 0, (command, out)
    return out


def in_thread(fn: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    """Run fn in a daemon thread; the dict gets 'result' or 'error' and 'seconds'."""
    box: dict[str, Any] = {}

    def body() -> None:
        start = time.monotonic()
        try:
            box["result"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box["error"] = exc
        box["seconds"] = time.monotonic() - start

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    return thread, box


# ---------------------------------------------------------------------- connecting
def test_password_login_streams_output_and_exit_status(sshd_host, connect) -> None:
    host = sshd_host()
    sink = RecordingSink()
    comm = connect(settings_for(host), ui=Ui(sink, "null"))
    assert sink.texts() == ["Waiting for SSH to become available...", "Connected to SSH!"]
    seen: list[str] = []
    result = comm.run("echo out; echo err >&2; printf 'no newline'; exit 3", on_output=seen.append)
    assert result.exit_status == 3
    assert sorted(seen) == sorted(["out", "err", "no newline"])
    assert result.tail == seen


def test_output_arrives_line_by_line_while_the_command_runs(sshd_host, connect) -> None:
    comm = connect(settings_for(sshd_host()))
    stamps: list[tuple[float, str]] = []
    comm.run(
        "echo one; sleep 1.5; echo two",
        on_output=lambda line: stamps.append((time.monotonic(), line)),
    )
    assert [s[1] for s in stamps] == ["one", "two"]
    assert stamps[1][0] - stamps[0][0] > 1.0  # "one" was not held back until the end


def test_stdin_is_closed_so_a_reading_command_cannot_hang(sshd_host, connect) -> None:
    comm = connect(settings_for(sshd_host()))
    start = time.monotonic()
    result = comm.run("cat; read x || echo eof", timeout=10)
    assert result.exit_status == 0 and result.tail == ["eof"]
    assert time.monotonic() - start < 5


def test_environment_and_pty(sshd_host, connect) -> None:
    host = sshd_host()
    comm = connect(settings_for(host))
    assert lines_of(comm, 'echo "$GREETING"') == [""]
    result = comm.run('echo "$GREETING"', env={"GREETING": "it's a 'test'"})
    assert result.tail == ["it's a 'test'"]
    assert comm.run("tty").exit_status != 0  # no pty by default
    pty = connect(settings_for(host, pty=True))
    assert pty.run("tty").tail[0].startswith("/dev/pts/")


@pytest.mark.parametrize(
    ("kind", "fmt"),
    [
        ("ed25519", "openssh"),
        ("rsa", "openssh"),
        ("rsa", "pem"),
        ("ecdsa", "openssh"),
        ("ecdsa", "pem"),
    ],
)
def test_key_file_login(sshd_host, ssh_keypair, connect, kind: str, fmt: str) -> None:
    key = ssh_keypair(kind, fmt)
    host = sshd_host(password=None, authorized_keys=[key.public_line])
    comm = connect(settings_for(host, password="", private_key_file=str(key.private_path)))
    assert lines_of(comm, "whoami") == ["pybuild"]


@pytest.mark.parametrize("kind", ["rsa", "ed25519", "ecdsa"])
def test_generated_temporary_key_login(sshd_host, connect, kind: str) -> None:
    pair = generate_key_pair(kind, 2048 if kind == "rsa" else 0, "packer_test")
    host = sshd_host(password=None, authorized_keys=[pair.public_line])
    comm = connect(settings_for(host, password="", private_key=pair.private_pem))
    assert lines_of(comm, "whoami") == ["pybuild"]


def test_host_key_is_logged_and_known_hosts_never_written(
    sshd_host, connect, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    host = sshd_host()
    home = Path(os.environ["HOME"])  # a fresh empty directory (tests/conftest.py)
    caplog.set_level(logging.INFO, logger="pybuild.ssh")
    comm = connect(settings_for(host))
    comm.run("true")
    comm.upload(io.BytesIO(b"x"), "/tmp/x")
    comm.download("/tmp/x", str(tmp_path / "x"))
    comm.reconnect()
    fingerprints = [r.getMessage() for r in caplog.records if "host key of" in r.getMessage()]
    sha = host.exec("ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub")[1].split()[1]
    assert len(fingerprints) == 2  # every connection, not only the first
    assert fingerprints[0] == f"host key of {host.host}:{host.port}: ssh-ed25519 {sha} (accepted)"
    assert list(home.iterdir()) == []  # no ~/.ssh/known_hosts, nothing else either


@pytest.mark.parametrize("kind", ["ed25519", "rsa", "ecdsa"])
def test_pkcs8_pem_key_file_login(sshd_host, connect, tmp_path: Path, kind: str) -> None:
    """`BEGIN PRIVATE KEY` (PKCS#8, what openssl genpkey writes): Packer reads it, so do we."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    key: Any = {
        "ed25519": ed25519.Ed25519PrivateKey.generate,
        "rsa": lambda: rsa.generate_private_key(65537, 2048),
        "ecdsa": lambda: ec.generate_private_key(ec.SECP384R1()),
    }[kind]()
    path = tmp_path / f"{kind}.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    host = sshd_host(password=None, authorized_keys=[public.decode()])
    comm = connect(settings_for(host, password="", private_key_file=str(path)))
    assert lines_of(comm, "whoami") == ["pybuild"]


def test_wrong_password_is_an_authentication_error_after_the_attempts(sshd_host) -> None:
    host = sshd_host()
    comm = SSHCommunicator(settings_for(host, password="wrong", handshake_attempts=2))
    comm.retry_interval = 0.2
    start = time.monotonic()
    with pytest.raises(SSHAuthenticationError) as err:
        comm.connect(None, CancelToken())
    text = str(err.value)
    assert "authentication error" in text and "password" in text
    assert f"{host.host}:{host.port}" in text
    assert time.monotonic() - start < 20  # two attempts, not ssh_timeout
    assert host.logs().count("Failed password for pybuild") == 2  # exactly the attempts


def test_wrong_key_is_an_authentication_error(sshd_host, ssh_keypair) -> None:
    allowed, other = ssh_keypair("ed25519"), ssh_keypair("ed25519")
    host = sshd_host(password=None, authorized_keys=[allowed.public_line])
    comm = SSHCommunicator(
        settings_for(
            host, password="", private_key_file=str(other.private_path), handshake_attempts=1
        )
    )
    with pytest.raises(SSHAuthenticationError, match="publickey"):
        comm.connect(None, CancelToken())


def test_unreachable_host_times_out_naming_host_and_port() -> None:
    port = free_port()
    comm = SSHCommunicator(SSHSettings("127.0.0.1", port, "u", "p", timeout=2.0))
    comm.retry_interval = 0.5
    start = time.monotonic()
    with pytest.raises(CommunicatorTimeout) as err:
        comm.connect(None, CancelToken())
    took = time.monotonic() - start
    assert 1.9 < took < 6
    text = str(err.value)
    assert f"127.0.0.1:{port}" in text and "2s" in text and "connection refused" in text


def test_cancel_stops_the_wait_at_once() -> None:
    comm = SSHCommunicator(SSHSettings("127.0.0.1", free_port(), "u", "p", timeout=60.0))
    cancel = CancelToken()
    thread, box = in_thread(lambda: comm.connect(None, cancel))
    time.sleep(0.5)
    cancel.cancel()
    thread.join(5)
    assert isinstance(box.get("error"), BuildCancelled) and box["seconds"] < 2


def test_cancel_ends_a_handshake_with_a_silent_server() -> None:
    """A port that accepts but never says a word (a half-booted machine): cancel is prompt."""
    import socket

    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        comm = SSHCommunicator(SSHSettings("127.0.0.1", port, "u", "p", timeout=120.0))
        cancel = CancelToken()
        thread, box = in_thread(lambda: comm.connect(None, cancel))
        time.sleep(1.0)  # inside the first attempt's banner wait (up to 30 s)
        cancel.cancel()
        thread.join(5)
    assert isinstance(box.get("error"), BuildCancelled), box
    assert box["seconds"] < 2.5


def test_host_that_comes_up_late_is_reached_by_retrying(sshd_host, connect) -> None:
    host = sshd_host(delay=3.0)
    start = time.monotonic()
    comm = connect(settings_for(host, timeout=40.0), retry=1.0)
    assert time.monotonic() - start >= 2.5
    assert lines_of(comm, "echo up") == ["up"]


def test_pause_before_connecting_connects_twice(sshd_host, connect) -> None:
    sink = RecordingSink()
    start = time.monotonic()
    connect(settings_for(sshd_host(), pause_before_connecting=1.0), ui=Ui(sink, "b"))
    assert time.monotonic() - start >= 1.0
    assert sink.texts() == [
        "Waiting for SSH to become available...",
        "Connected to SSH!",
        "Pausing 1s before connecting...",
        "Waiting for SSH to become available...",
        "Connected to SSH!",
    ]


def test_bastion_jump_host(sshd_host, connect) -> None:
    bastion = sshd_host(user="jump", password="jump-pw", extra_config="LogLevel DEBUG1")
    target = sshd_host()
    hop = Hop(bastion.host, bastion.port, "jump", "jump-pw")
    comm = connect(settings_for(target, bastion=hop))
    assert lines_of(comm, "whoami") == ["pybuild"]
    assert f"target 127.0.0.1 port {target.port}" in bastion.logs()  # went through the jump


def test_bastion_without_forwarding_fails_clearly(sshd_host) -> None:
    bastion = sshd_host(user="jump", password="jump-pw", allow_tcp_forwarding=False)
    target = sshd_host()
    comm = SSHCommunicator(
        settings_for(
            target, timeout=1.0, bastion=Hop(bastion.host, bastion.port, "jump", "jump-pw")
        )
    )
    with pytest.raises(CommunicatorTimeout, match="could not open a tunnel"):
        comm.connect(None, CancelToken())


def test_socks5_proxy(sshd_host, connect) -> None:
    host = sshd_host()
    with Socks5Server("user", "secret") as (port, seen):
        comm = connect(settings_for(host, proxy=Proxy("127.0.0.1", port, "user", "secret")))
        assert lines_of(comm, "echo via proxy") == ["via proxy"]
    assert seen == [("127.0.0.1", host.port)]


def test_agent_auth_and_forwarding(sshd_host, ssh_keypair, connect, tmp_path, monkeypatch) -> None:
    key = ssh_keypair("ed25519")
    host = sshd_host(password=None, authorized_keys=[key.public_line])
    sock = str(tmp_path / "agent.sock")
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", sock], stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        env = {**os.environ, "SSH_AUTH_SOCK": sock}
        subprocess.run(["ssh-add", str(key.private_path)], env=env, check=True, capture_output=True)
        monkeypatch.setenv("SSH_AUTH_SOCK", sock)
        comm = connect(settings_for(host, password="", agent_auth=True))
        listed = comm.run("ssh-add -l").tail
        assert any("ED25519" in line for line in listed), listed
        off = connect(
            settings_for(host, password="", agent_auth=True, disable_agent_forwarding=True)
        )
        assert off.run("ssh-add -l").exit_status == 2  # no agent reachable on the host
    finally:
        agent.terminate()
        agent.wait(5)


# ---------------------------------------------------------------------- faults
def test_killed_sshd_mid_command_is_disconnected_and_nothing_hangs(sshd_host, connect) -> None:
    host = sshd_host()
    comm = connect(settings_for(host))
    thread, box = in_thread(lambda: comm.run("echo started; sleep 60"))
    time.sleep(1.0)
    host.kill_sshd()
    thread.join(15)
    assert not thread.is_alive()
    assert isinstance(box.get("error"), Disconnected), box
    with pytest.raises(Disconnected, match="reconnecting failed"):
        comm.run("true")  # one reconnect attempt, refused: no wait loop here
    host.restart_sshd()
    comm.reconnect(CancelToken())
    assert lines_of(comm, "echo back") == ["back"]


class _SlowFile(io.BytesIO):
    """A file that takes its time (so a transfer is still running when sshd dies)."""

    def read(self, n: int | None = -1) -> bytes:
        time.sleep(0.01)
        return super().read(n)


@pytest.mark.parametrize("method", ["scp", "sftp"])
def test_killed_sshd_mid_upload_is_disconnected(sshd_host, connect, method: str) -> None:
    host = sshd_host()
    comm = connect(settings_for(host, file_transfer_method=method))
    thread, box = in_thread(lambda: comm.upload(_SlowFile(bytes(64 << 20)), "/tmp/slow.bin"))
    time.sleep(1.0)
    host.kill_sshd()
    thread.join(15)
    assert not thread.is_alive()
    assert isinstance(box.get("error"), Disconnected), box


def test_dropped_connection_is_reestablished_on_next_command(sshd_host, connect) -> None:
    host = sshd_host()
    comm = connect(settings_for(host))
    host.restart_sshd()
    assert lines_of(comm, "echo again") == ["again"]


def test_cancel_kills_a_long_command(sshd_host, connect) -> None:
    host = sshd_host()
    comm = connect(settings_for(host))
    cancel = CancelToken()
    thread, box = in_thread(lambda: comm.run("sleep 77", cancel=cancel))
    time.sleep(1.0)
    cancel.cancel()
    thread.join(5)
    assert isinstance(box.get("error"), BuildCancelled) and box["seconds"] < 3
    time.sleep(0.5)
    assert host.exec("pgrep -x sleep")[0] != 0  # the remote process is gone too
    assert lines_of(comm, "echo still usable") == ["still usable"]


def test_timeout_stops_the_command(sshd_host, connect) -> None:
    comm = connect(settings_for(sshd_host()))
    start = time.monotonic()
    with pytest.raises(CommunicatorTimeout, match="timed out after 1s"):
        comm.run("sleep 30", timeout=1.0)
    assert time.monotonic() - start < 4


def test_read_write_timeout_caps_commands(sshd_host, connect) -> None:
    comm = connect(settings_for(sshd_host(), read_write_timeout=1.0))
    start = time.monotonic()
    with pytest.raises(CommunicatorTimeout):
        comm.run("sleep 30")
    assert time.monotonic() - start < 4
    assert lines_of(comm, "echo fine") == ["fine"]  # quick commands are unaffected


@pytest.mark.parametrize("method", ["scp", "sftp"])
def test_read_write_timeout_ends_a_stalled_transfer(sshd_host, connect, method: str) -> None:
    """sshd frozen (SIGSTOP, like a hung machine): the upload stops within the timeout."""
    host = sshd_host()
    comm = connect(settings_for(host, file_transfer_method=method, read_write_timeout=1.5))
    comm.run("true")
    host.exec("pkill -STOP -x sshd; pkill -STOP -x sftp-server; true")
    try:
        thread, box = in_thread(lambda: comm.upload(io.BytesIO(bytes(32 << 20)), "/tmp/big"))
        thread.join(15)
        assert not thread.is_alive()
        assert isinstance(box.get("error"), CommunicatorTimeout), box
        assert "ssh_read_write_timeout" in str(box["error"])
        assert box["seconds"] < 8
    finally:
        host.exec("pkill -CONT -x sshd; pkill -CONT -x sftp-server; true")


def test_a_frozen_machine_cannot_hang_a_command_past_its_timeout_or_a_cancel(
    sshd_host, connect
) -> None:
    """paramiko waits without a deadline for a channel and for exec: the watchdog ends it."""
    host = sshd_host()
    comm = connect(settings_for(host))
    comm.run("true")
    host.exec("pkill -STOP -x sshd; true")
    try:
        thread, box = in_thread(lambda: comm.run("echo hi", timeout=1.5))
        thread.join(10)
        assert not thread.is_alive()
        assert isinstance(box.get("error"), CommunicatorTimeout), box
        assert box["seconds"] < 4
        cancel = CancelToken()
        thread, box = in_thread(lambda: comm.upload(io.BytesIO(b"x"), "/tmp/x", cancel=cancel))
        time.sleep(0.5)
        cancel.cancel()
        thread.join(10)
        assert not thread.is_alive()
        assert isinstance(box.get("error"), BuildCancelled), box
    finally:
        host.exec("pkill -CONT -x sshd; true")
    assert lines_of(comm, "echo thawed") == ["thawed"]  # a new connection is made


def test_keep_alive_interval_sends_keepalives_and_negative_disables(sshd_host, connect) -> None:
    host = sshd_host(extra_config="LogLevel DEBUG1")  # sshd logs each global request
    probe = "rtype keepalive@lag.net"
    first = connect(settings_for(host, keep_alive_interval=1.0))
    time.sleep(2.6)
    first.close()
    sent = host.logs().count(probe)
    assert sent >= 2
    connect(settings_for(host, keep_alive_interval=-1.0))
    time.sleep(2.2)
    assert host.logs().count(probe) == sent  # none from the second connection


# ---------------------------------------------------------------------- transfers
@pytest.mark.parametrize("method", ["auto", "sftp", "scp"])
def test_file_upload_and_download(sshd_host, connect, tmp_path: Path, method: str) -> None:
    comm = connect(settings_for(sshd_host(), file_transfer_method=method))
    small = b"#!/bin/sh\necho small\n"
    comm.upload(io.BytesIO(small), "/tmp/small.sh", mode=0o755)
    assert lines_of(comm, "stat -c %a /tmp/small.sh; /tmp/small.sh") == ["755", "small"]
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(STREAM_MIN + 12345))
    calls: list[tuple[int, int]] = []
    comm.upload(str(big), "/tmp/big.bin", progress=lambda d, t: calls.append((d, t)))
    size = big.stat().st_size
    assert calls[-1] == (size, size)
    digest = hashlib.sha256(big.read_bytes()).hexdigest()
    assert lines_of(comm, "sha256sum /tmp/big.bin")[0].split()[0] == digest
    back = tmp_path / "back.bin"
    comm.download("/tmp/big.bin", str(back))
    assert back.read_bytes() == big.read_bytes()
    buf = io.BytesIO()
    comm.download("/tmp/small.sh", buf)
    assert buf.getvalue() == small


def test_large_upload_falls_back_to_sftp_without_remote_scp(sshd_host, connect) -> None:
    host = sshd_host()
    host.exec("mv /usr/bin/scp /usr/bin/scp.off")
    data = os.urandom(STREAM_MIN + 1)
    comm = connect(settings_for(host))
    comm.upload(io.BytesIO(data), "/tmp/big.bin")  # auto: scp stream first, then SFTP
    digest = hashlib.sha256(data).hexdigest()
    assert lines_of(comm, "sha256sum /tmp/big.bin")[0].split()[0] == digest
    scp = connect(settings_for(host, file_transfer_method="scp"))
    with pytest.raises(BuildError, match="cannot run `scp -t`"):
        scp.upload(io.BytesIO(data), "/tmp/big2.bin")


def test_upload_into_a_missing_directory_fails_clearly(sshd_host, connect) -> None:
    comm = connect(settings_for(sshd_host()))
    with pytest.raises(BuildError, match="^/nope/x.txt: No such file"):
        comm.upload(io.BytesIO(b"x"), "/nope/x.txt")
    with pytest.raises(BuildError, match="^/nope/x.txt: No such file"):
        comm.download("/nope/x.txt", io.BytesIO())
    with pytest.raises(BuildError, match="scp"):
        scp = connect(settings_for(sshd_host(), file_transfer_method="scp"))
        scp.upload(io.BytesIO(b"x"), "/nope/x.txt")


def _tree(root: Path) -> None:
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "a.txt").write_text("a\n")
    (root / "sub" / "b.txt").write_text("b\n")
    (root / "sub" / "deeper" / "run.sh").write_text("#!/bin/sh\n")
    (root / "sub" / "deeper" / "run.sh").chmod(0o755)


@pytest.mark.parametrize("remote_tar", [True, False], ids=["tar", "per-file"])
def test_directory_upload_trailing_slash_matrix(
    sshd_host, connect, tmp_path: Path, remote_tar: bool
) -> None:
    host = sshd_host()
    if not remote_tar:
        host.exec("mv /usr/bin/tar /usr/bin/tar.off")
    comm = connect(settings_for(host))
    src = tmp_path / "src"
    _tree(src)
    comm.upload_dir(str(src), "/tmp/up1")  # no slash: the directory itself
    comm.upload_dir(str(src) + "/", "/tmp/up2")  # slash: its contents
    listing = lines_of(comm, "cd /tmp && find up1 up2 -type f | sort")
    assert listing == [
        "up1/src/a.txt",
        "up1/src/sub/b.txt",
        "up1/src/sub/deeper/run.sh",
        "up2/a.txt",
        "up2/sub/b.txt",
        "up2/sub/deeper/run.sh",
    ]
    assert lines_of(comm, "stat -c '%a %U' /tmp/up2/sub/deeper/run.sh") == ["755 pybuild"]


@pytest.mark.parametrize("remote_tar", [True, False], ids=["tar", "per-file"])
def test_directory_download_trailing_slash_matrix(
    sshd_host, connect, tmp_path: Path, remote_tar: bool
) -> None:
    host = sshd_host()
    comm = connect(settings_for(host))
    lines_of(
        comm, "mkdir -p /tmp/rdir/sub && echo a > /tmp/rdir/a.txt && echo b > /tmp/rdir/sub/b.txt"
    )
    if not remote_tar:
        host.exec("mv /usr/bin/tar /usr/bin/tar.off")
        comm.close()
    comm.download_dir("/tmp/rdir", str(tmp_path / "d1"))
    comm.download_dir("/tmp/rdir/", str(tmp_path / "d2"))
    found = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.txt"))
    assert found == ["d1/rdir/a.txt", "d1/rdir/sub/b.txt", "d2/a.txt", "d2/sub/b.txt"]
    assert (tmp_path / "d2" / "sub" / "b.txt").read_text() == "b\n"


def test_directory_progress_and_cancel(sshd_host, connect, tmp_path: Path) -> None:
    comm = connect(settings_for(sshd_host()))
    src = tmp_path / "many"
    src.mkdir()
    for i in range(50):
        (src / f"f{i}.bin").write_bytes(os.urandom(64 * 1024))
    calls: list[tuple[int, int]] = []
    comm.upload_dir(str(src) + "/", "/tmp/many", progress=lambda d, t: calls.append((d, t)))
    assert calls[-1] == (50 * 64 * 1024, 50 * 64 * 1024)
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(BuildCancelled):
        comm.upload_dir(str(src), "/tmp/many2", cancel=cancel)
    assert lines_of(comm, "echo alive") == ["alive"]
