"""The integration fixtures themselves, against real sshd test hosts on 127.0.0.1."""

from __future__ import annotations

import socket
import stat
import time
from pathlib import Path

import paramiko
import pytest

from tests.integration.conftest import (
    SSHHost,
    SSHHostFactory,
    free_port,
    read_banner,
    sshd_config,
)


def connect(host: SSHHost, tmp_path: Path, **auth: object) -> paramiko.SSHClient:
    """A paramiko client that knows the host's key and rejects any other."""
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(host.known_hosts_line() + "\n")
    client = paramiko.SSHClient()
    client.load_host_keys(str(known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(
        host.host,
        host.port,
        username=host.user,
        look_for_keys=False,
        allow_agent=False,
        timeout=10,
        **auth,
    )
    return client


def run(client: paramiko.SSHClient, command: str) -> tuple[int, str]:
    _, stdout, _ = client.exec_command(command, timeout=10)
    output = stdout.read().decode()
    return stdout.channel.recv_exit_status(), output


def test_free_port_can_be_bound() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_tests_here_are_marked_integration(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("integration") is not None


def test_password_login_runs_commands(sshd_host, tmp_path: Path) -> None:
    host = sshd_host()
    with connect(host, tmp_path, password=host.password) as client:
        assert run(client, "id -un") == (0, "pybuild\n")
        assert run(client, "sudo -n id -un") == (0, "root\n")


@pytest.mark.parametrize(
    ("kind", "fmt", "passphrase"),
    [("ed25519", "openssh", ""), ("rsa", "pem", ""), ("ecdsa", "openssh", "s3cret")],
)
def test_key_login_and_no_password_auth(
    sshd_host, ssh_keypair, tmp_path: Path, kind: str, fmt: str, passphrase: str
) -> None:
    key = ssh_keypair(kind, fmt, passphrase)
    assert stat.S_IMODE(key.private_path.stat().st_mode) == 0o600
    if fmt == "pem":
        assert key.private_path.read_text().startswith("-----BEGIN RSA PRIVATE KEY-----")
    host = sshd_host(password=None, authorized_keys=[key.public_line])

    with connect(host, tmp_path, key_filename=str(key.private_path), passphrase=passphrase) as c:
        assert run(c, "id -un") == (0, "pybuild\n")
    with pytest.raises(paramiko.AuthenticationException):
        connect(host, tmp_path, password="pybuild-pw")


def test_delayed_host_answers_only_after_the_delay(sshd_host) -> None:
    started = time.monotonic()
    host = sshd_host(delay=3.0)
    with pytest.raises(OSError):
        read_banner(host.host, host.port, timeout=1)
    assert time.monotonic() - started < 2.5

    host.wait_ready(timeout=15)
    assert time.monotonic() - started >= 3.0
    assert read_banner(host.host, host.port, timeout=5).startswith("SSH-2.0-OpenSSH_")


def test_exec_sees_a_file_uploaded_over_sftp(sshd_host, tmp_path: Path) -> None:
    host = sshd_host()
    local = tmp_path / "payload.txt"
    local.write_text("hello from the test\n")
    with connect(host, tmp_path, password=host.password) as client:
        client.open_sftp().put(str(local), "/home/pybuild/payload.txt")

    assert host.exec("cat /home/pybuild/payload.txt") == (0, "hello from the test\n")
    assert host.exec("stat -c %U /home/pybuild/payload.txt") == (0, "pybuild\n")
    assert host.exec("id -un", user="pybuild") == (0, "pybuild\n")


def test_kill_sshd_drops_connections_and_restart_brings_it_back(sshd_host, tmp_path: Path) -> None:
    host = sshd_host()
    client = connect(host, tmp_path, password=host.password)
    host.kill_sshd()
    with pytest.raises(paramiko.SSHException):
        run(client, "true")
    client.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host.host, host.port), timeout=2).close()

    host.restart_sshd()
    with connect(host, tmp_path, password=host.password) as client:
        assert run(client, "echo back") == (0, "back\n")
    host.restart_sshd()  # also works while sshd runs
    assert host.is_running()


def test_stop_takes_the_host_down(sshd_host) -> None:
    host = sshd_host()
    host.stop()
    assert not host.is_running()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host.host, host.port), timeout=2).close()


def test_root_user_tcp_forwarding_off_and_extra_config(sshd_host, ssh_keypair, tmp_path) -> None:
    key = ssh_keypair()
    host = sshd_host(
        user="root",
        password=None,
        authorized_keys=[key.public_line],
        allow_tcp_forwarding=False,
        extra_config="MaxAuthTries 3\nMatch User nobody\n  PasswordAuthentication yes",
    )
    code, effective = host.exec("sshd -T -f /etc/ssh/pybuild_sshd_config")
    assert code == 0
    assert "maxauthtries 3" in effective
    assert "allowtcpforwarding no" in effective

    with connect(host, tmp_path, key_filename=str(key.private_path)) as client:
        assert run(client, "id -un") == (0, "root\n")
        transport = client.get_transport()
        assert transport is not None
        with pytest.raises(paramiko.ChannelException):
            transport.open_channel("direct-tcpip", (host.host, host.port), ("127.0.0.1", 0))


def test_tcp_forwarding_on_by_default(sshd_host, tmp_path: Path) -> None:
    host = sshd_host()
    with connect(host, tmp_path, password=host.password) as client:
        transport = client.get_transport()
        assert transport is not None
        channel = transport.open_channel("direct-tcpip", (host.host, host.port), ("127.0.0.1", 0))
        assert channel.recv(64).startswith(b"SSH-2.0-")
        channel.close()


def test_sshd_config_extra_lines_replace_defaults() -> None:
    text = sshd_config(
        2222,
        password_auth=True,
        permit_root=False,
        tcp_forwarding=True,
        extra="UseDNS yes\nMatch Address 127.0.0.1\n  X11Forwarding no",
    )
    lines = text.splitlines()
    assert lines[0] == "UseDNS yes"
    assert "UseDNS no" not in lines
    assert lines[-2:] == ["Match Address 127.0.0.1", "  X11Forwarding no"]


def test_hosts_are_removed_on_close(docker_client, sshd_image) -> None:
    import docker

    factory = SSHHostFactory(docker_client, sshd_image)
    hosts = [factory(), factory(delay=30)]
    names = [host.container.name for host in hosts]
    assert all(host.container.labels["pybuild-test"] == "1" for host in hosts)
    factory.close()
    for name in names:
        with pytest.raises(docker.errors.NotFound):
            docker_client.containers.get(name)


def test_bad_extra_config_fails_fast_with_the_logs(sshd_host) -> None:
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="Bogus"):
        sshd_host(extra_config="Bogus option")
    assert time.monotonic() - started < 10
