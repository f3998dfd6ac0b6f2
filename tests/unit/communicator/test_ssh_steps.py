"""Steps (key generation, connect dispatch, key cleanup), settings and pure helpers of ssh."""

from __future__ import annotations

import io
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from builder.common.steps import (
    StepCleanupTempKeys,
    StepConnect,
    StepSSHKeyGen,
    connection_data,
)
from builder.communicator.config import CommunicatorConfig
from builder.communicator.keygen import KeyPair
from builder.communicator.none import NoneCommunicator
from builder.communicator.ssh import _limit, _Lines, _with_env
from builder.communicator.sshsettings import SSHSettings
from builder.communicator.sshstream import Progress, local_size
from builder.errors import BuildCancelled, BuildError
from builder.multistep import CancelToken
from builder.testing import FakeCommunicator, RecordingSink
from builder.ui import Ui


@dataclass
class Ctx:
    config: CommunicatorConfig
    sink: RecordingSink = field(default_factory=RecordingSink)
    cancel: CancelToken = field(default_factory=CancelToken)
    communicator: Any = None
    ssh_key: KeyPair | None = None
    connect_data: dict[str, str] = field(default_factory=dict)

    @property
    def ui(self) -> Ui:
        return Ui(self.sink, "b")


def cfg(**options: Any) -> CommunicatorConfig:
    return CommunicatorConfig.model_validate(options)


# ---------------------------------------------------------------------- steps
def test_connect_none_gives_the_none_communicator_and_cleanup_forgets_it() -> None:
    ctx = Ctx(cfg(communicator="none"))
    step = StepConnect()
    step.run(ctx)
    assert isinstance(ctx.communicator, NoneCommunicator)
    step.cleanup(ctx)
    step.cleanup(ctx)
    assert ctx.communicator is None


def test_connect_docker_is_for_the_docker_builder() -> None:
    with pytest.raises(BuildError, match="not available"):
        StepConnect().run(Ctx(cfg(communicator="docker")))


def test_connect_without_any_address_fails() -> None:
    with pytest.raises(BuildError, match="set ssh_host"):
        StepConnect().run(Ctx(cfg(ssh_username="u", ssh_password="p")))


def test_keygen_makes_a_key_only_without_credentials() -> None:
    ctx = Ctx(
        cfg(ssh_username="u", temporary_key_pair_type="ed25519", temporary_key_pair_name="packer_x")
    )
    step = StepSSHKeyGen()
    step.run(ctx)
    assert ctx.ssh_key is not None and ctx.ssh_key.public_line.endswith(" packer_x")
    assert ctx.sink.texts() == ["Creating temporary ED25519 SSH key for instance..."]
    assert ctx.connect_data["SSHPublicKey"] == ctx.ssh_key.public_line
    assert ctx.connect_data["SSHPrivateKey"] == ctx.ssh_key.private_pem
    step.cleanup(ctx)
    assert ctx.ssh_key is None
    with_password = Ctx(cfg(ssh_username="u", ssh_password="p"))
    StepSSHKeyGen().run(with_password)
    assert with_password.ssh_key is None and with_password.sink.texts() == []


@pytest.mark.parametrize(("kind", "bits"), [("rsa", 2048), ("ecdsa", 384), ("rsa", 0)])
def test_keygen_honours_type_and_bits(kind: str, bits: int) -> None:
    from cryptography.hazmat.primitives.serialization import load_ssh_public_key

    ctx = Ctx(cfg(ssh_username="u", temporary_key_pair_type=kind, temporary_key_pair_bits=bits))
    StepSSHKeyGen().run(ctx)
    assert ctx.ssh_key is not None
    public: Any = load_ssh_public_key(ctx.ssh_key.public_line.encode())
    assert public.key_size == (bits or 4096)  # Packer's default for rsa
    assert ctx.ssh_key.public_line.split()[2].startswith("packer_")  # packer_<uuid>


def test_keygen_with_a_key_file_uses_it(tmp_path) -> None:
    ctx = Ctx(cfg(ssh_username="u", ssh_private_key_file=str(tmp_path / "k")))
    StepSSHKeyGen().run(ctx)
    assert ctx.ssh_key is None and ctx.sink.texts() == ["Using existing SSH private key"]


def test_keygen_saves_the_debug_key_0600(tmp_path) -> None:
    path = tmp_path / "debug.pem"
    ctx = Ctx(cfg(ssh_username="u", temporary_key_pair_type="ecdsa"))
    StepSSHKeyGen(debug_key_path=str(path)).run(ctx)
    assert path.stat().st_mode & 0o777 == 0o600
    assert ctx.ssh_key is not None and path.read_text() == ctx.ssh_key.private_pem


def test_cleanup_temp_keys_removes_the_public_line() -> None:
    fake = FakeCommunicator()
    key = KeyPair("ed25519", 256, "ssh-ed25519 AAAA packer_1", "PEM", "packer_1")
    ctx = Ctx(cfg(ssh_username="u", ssh_clear_authorized_keys=True), communicator=fake, ssh_key=key)
    StepCleanupTempKeys().run(ctx)
    assert fake.commands == [
        "sed -i.bak '/ packer_1$/d' ~/.ssh/authorized_keys; rm ~/.ssh/authorized_keys.bak",
        "sudo sed -i.bak '/ packer_1$/d' /root/.ssh/authorized_keys; "
        "sudo rm /root/.ssh/authorized_keys.bak",
    ]
    fake2 = FakeCommunicator()
    StepCleanupTempKeys().run(Ctx(cfg(ssh_username="u"), communicator=fake2, ssh_key=key))
    assert fake2.commands == []  # not asked for


def test_connection_data_names_packers_keys() -> None:
    config = cfg(ssh_username="u", ssh_password="pw", ssh_agent_auth=False)
    settings = SSHSettings.from_config(config, host="10.1.2.3", port=2222)
    key = KeyPair("rsa", 2048, "ssh-rsa AAA n", "PEM-TEXT", "n")
    assert connection_data(settings, config, key) == {
        "Host": "10.1.2.3",
        "Port": "2222",
        "User": "u",
        "Password": "pw",
        "ConnType": "ssh",
        "SSHPublicKey": "ssh-rsa AAA n",
        "SSHPrivateKey": "PEM-TEXT",
        "SSHPrivateKeyFile": "",
        "SSHAgentAuth": "false",
    }


# ---------------------------------------------------------------------- settings
def test_template_host_and_port_win_over_the_builders() -> None:
    s = SSHSettings.from_config(cfg(ssh_host="a", ssh_port=2200), host="b", port=22)
    assert (s.host, s.port) == ("a", 2200)
    s = SSHSettings.from_config(cfg(), host="b", port=2022)
    assert (s.host, s.port) == ("b", 2022)


def test_transfer_method_is_auto_unless_set() -> None:
    assert SSHSettings.from_config(cfg()).file_transfer_method == "auto"
    assert (
        SSHSettings.from_config(cfg(ssh_file_transfer_method="sftp")).file_transfer_method == "sftp"
    )
    assert (
        SSHSettings.from_config(cfg(ssh_file_transfer_method="scp")).file_transfer_method == "scp"
    )


def test_bastion_and_proxy_settings() -> None:
    s = SSHSettings.from_config(
        cfg(ssh_username="u", ssh_private_key_file="k", ssh_bastion_host="j", ssh_bastion_port=2)
    )
    assert s.bastion is not None
    assert (s.bastion.host, s.bastion.port, s.bastion.username, s.bastion.key_file) == (
        "j",
        2,
        "u",
        "k",
    )
    s = SSHSettings.from_config(cfg(ssh_proxy_host="p", ssh_proxy_username="x"))
    assert s.proxy is not None and (s.proxy.host, s.proxy.port, s.proxy.username) == (
        "p",
        1080,
        "x",
    )


def test_a_key_file_wins_over_a_generated_key() -> None:
    s = SSHSettings.from_config(cfg(ssh_private_key_file="k"), private_key="PEM")
    assert (s.private_key_file, s.private_key) == ("k", "")
    assert SSHSettings.from_config(cfg(), private_key="PEM").private_key == "PEM"


def test_passwords_stay_out_of_reprs() -> None:
    s = SSHSettings.from_config(
        cfg(ssh_password="hunter2", ssh_bastion_host="j", ssh_bastion_password="pw2")
    )
    assert "hunter2" not in repr(s) and "pw2" not in repr(s)


# ---------------------------------------------------------------------- helpers
def test_lines_split_on_newlines_across_chunks_and_utf8_boundaries() -> None:
    got: list[str] = []
    lines = _Lines(got.append)
    data = "héllo\r\nwor".encode()
    lines.feed(data[:2])
    lines.feed(data[2:])
    lines.feed(b"ld\npartial")
    assert got == ["héllo", "world"]
    lines.flush()
    assert got == ["héllo", "world", "partial"]


def test_environment_prefix_is_quoted() -> None:
    assert _with_env("run", None) == "run"
    assert _with_env("run", {"B": "x y", "A": "it's"}) == "export A='it'\"'\"'s' B='x y'; run"


def test_limit_is_the_smaller_of_timeout_and_read_write_timeout() -> None:
    assert _limit(None, 0.0) is None
    assert _limit(10.0, 0.0) == 10.0
    assert _limit(None, 5.0) == 5.0
    assert _limit(10.0, 5.0) == 5.0


def test_progress_reports_the_end_and_honours_cancel() -> None:
    calls: list[tuple[int, int]] = []
    token = CancelToken()
    prog = Progress(lambda d, t: calls.append((d, t)), 100, token)
    prog.add(60)
    prog.add(60)
    prog.finish()
    assert calls[0] == (60, 100) and calls[-1] == (100, 100)
    token.cancel()
    with pytest.raises(BuildCancelled):
        prog.add(1)


def test_watchdog_fires_on_a_stall_but_not_while_progress_is_made() -> None:
    pytest.importorskip("paramiko")
    from builder.communicator.sshstream import Watchdog

    closed: list[float] = []
    start = time.monotonic()
    with Watchdog(lambda: closed.append(time.monotonic()), 0.3, None) as dog:
        for _ in range(8):  # 0.8 s, beating every 0.1 s
            time.sleep(0.1)
            dog.beat()
        assert not closed and not dog.fired
        time.sleep(0.6)
    assert dog.fired == "stalled" and len(closed) == 1
    assert closed[0] - start >= 1.0


def test_watchdog_gives_a_cancelled_operation_its_grace() -> None:
    pytest.importorskip("paramiko")
    from builder.communicator.sshstream import Watchdog

    token, closed = CancelToken(), []
    with Watchdog(lambda: closed.append(1), 0.0, token, grace=0.3) as dog:
        token.cancel()
        time.sleep(0.15)
        assert not closed  # still within the grace
        time.sleep(0.45)
    assert dog.fired == "cancelled" and closed == [1]
    with Watchdog(lambda: closed.append(2), 0.0, None) as idle:
        assert idle._thread is None  # no limit, no cancel: nothing to watch


def test_local_size_of_paths_and_streams(tmp_path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"12345")
    with open(path, "rb") as fh:
        assert local_size(fh) == 5
    buf = io.BytesIO(b"abcdef")
    buf.read(2)
    assert local_size(buf) == 4


def test_socks5_handshake_with_credentials() -> None:
    pytest.importorskip("paramiko")
    from builder.communicator.sshdial import socks5_connect

    ours, proxy = socket.socketpair()
    got: dict[str, bytes] = {}

    def serve() -> None:
        got["greeting"] = proxy.recv(4)
        proxy.sendall(b"\x05\x02")
        got["auth"] = proxy.recv(64)
        proxy.sendall(b"\x01\x00")
        got["request"] = proxy.recv(64)
        proxy.sendall(b"\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x16")

    thread = threading.Thread(target=serve)
    thread.start()
    socks5_connect(ours, "example.internal", 22, "user", "pw")
    thread.join(5)
    assert got["greeting"] == b"\x05\x02\x00\x02"
    assert got["auth"] == b"\x01\x04user\x02pw"
    assert got["request"] == b"\x05\x01\x00\x03\x10example.internal\x00\x16"
    ours.close()
    proxy.close()


def test_socks5_refusal_is_a_dial_error() -> None:
    pytest.importorskip("paramiko")
    from builder.communicator.sshdial import DialError, socks5_connect

    ours, proxy = socket.socketpair()

    def serve() -> None:
        proxy.recv(3)
        proxy.sendall(b"\x05\x00")
        proxy.recv(64)
        proxy.sendall(b"\x05\x05\x00\x01")

    thread = threading.Thread(target=serve)
    thread.start()
    with pytest.raises(DialError, match="connection refused"):
        socks5_connect(ours, "h", 22, "", "")
    thread.join(5)
