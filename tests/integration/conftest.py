"""Integration fixtures: the local Docker engine and OpenSSH test hosts on 127.0.0.1.

The services come from `tests/testbed/setup.sh`. When one is missing the test fails if the
environment variable CI is set, and is skipped with the reason otherwise.

Every sshd test host is a container of `pybuild-test/sshd:bookworm` on the host network,
listening on 127.0.0.1 only, labelled `pybuild-test=1` and removed after the test.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import secrets
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest

if TYPE_CHECKING:
    import docker
    from docker.models.containers import Container

DOCKER_URL = "unix:///var/run/docker.sock"
BASE_IMAGE = "pybuild-test/debian:bookworm"
SSHD_IMAGE = "pybuild-test/sshd:bookworm"
SETUP_HINT = "run `bash tests/testbed/setup.sh`"
TEST_LABEL = "pybuild-test"
OWNER_LABEL = "pybuild-test.pid"
LOOPBACK = "127.0.0.1"
READY_TIMEOUT = 20.0
INTEGRATION_DIR = Path(__file__).resolve().parent

SSHD_CONFIG_PATH = "/etc/ssh/pybuild_sshd_config"
HOLD_FLAG = "/run/pybuild-sshd.hold"  # sshd was stopped on purpose: keep the container up
START_FLAG = "/run/pybuild-sshd.start"  # restart_sshd() asks the supervisor loop for a new sshd

# PID 1 (under tini) of every sshd host: set up the user, sleep `delay`, then run sshd in the
# foreground, again after each kill_sshd()/restart_sshd(). If sshd dies on its own the
# container exits, so a bad config or a taken port shows up at once in the wait.
HOST_SCRIPT = f"""
set -eu
user="$PB_USER"
if ! id -u "$user" >/dev/null 2>&1; then
  useradd --create-home --shell /bin/bash "$user"
  usermod -p '*' "$user"
  echo "$user ALL=(ALL) NOPASSWD:ALL" >> /etc/sudoers.d/pybuild-extra
fi
if [ -n "${{PB_PASSWORD+set}}" ]; then
  printf '%s:%s\\n' "$user" "$PB_PASSWORD" | chpasswd
fi
home="$(getent passwd "$user" | cut -d: -f6)"
mkdir -p "$home/.ssh"
printf '%s' "$PB_AUTHORIZED_KEYS" > "$home/.ssh/authorized_keys"
chmod 700 "$home/.ssh"
chmod 600 "$home/.ssh/authorized_keys"
chown -R "$user:" "$home/.ssh"
printf '%s\\n' "$PB_SSHD_CONFIG" > {SSHD_CONFIG_PATH}
mkdir -p /run/sshd
/usr/sbin/sshd -t -f {SSHD_CONFIG_PATH}
sleep "$PB_DELAY"
while :; do
  rc=0
  /usr/sbin/sshd -D -e -f {SSHD_CONFIG_PATH} || rc=$?
  [ -e {HOLD_FLAG} ] || exit "$rc"
  echo "pybuild-testbed: sshd stopped (status $rc), waiting for restart_sshd()" >&2
  until [ -e {START_FLAG} ]; do sleep 0.1; done
  rm -f {HOLD_FLAG} {START_FLAG}
  echo "pybuild-testbed: starting sshd again" >&2
done
"""

# Kill every sshd (listener and per-connection processes) and wait until they are gone.
KILL_SSHD = (
    f"touch {HOLD_FLAG}; pkill -KILL -x sshd || true; i=0; "
    "while pgrep -x sshd >/dev/null && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; "
    "! pgrep -x sshd >/dev/null"
)


def service_missing(reason: str) -> NoReturn:
    """A local service is absent: fail in CI, skip elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def container_labels() -> dict[str, str]:
    """Labels for any container a test creates, so the session finalizer removes it."""
    return {TEST_LABEL: "1", OWNER_LABEL: str(os.getpid())}


# --- Docker engine and images -------------------------------------------------------------


def connect_docker() -> docker.DockerClient | None:
    """A pinged client on /var/run/docker.sock, or None when the SDK or the engine is absent."""
    try:
        import docker

        client = docker.DockerClient(base_url=DOCKER_URL, timeout=60)
    except Exception:  # ImportError, DockerException, requests' OSErrors
        return None
    try:
        client.ping()
    except Exception:
        client.close()
        return None
    return client


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    """A Docker SDK client on /var/run/docker.sock (never DOCKER_HOST), already pinged."""
    if importlib.util.find_spec("docker") is None:
        service_missing("Python package `docker` missing: pip install -e '.[test]'")
    client = connect_docker()
    if client is None:
        service_missing(f"Docker engine not running: {SETUP_HINT}")
    yield client
    client.close()


def require_image(client: docker.DockerClient, name: str) -> str:
    """Return `name` if the engine has that image; fail/skip otherwise."""
    import docker

    try:
        client.images.get(name)
        return name
    except docker.errors.ImageNotFound:
        pass
    service_missing(f"Docker image {name} missing: {SETUP_HINT}")


@pytest.fixture(scope="session")
def base_image(docker_client: docker.DockerClient) -> str:
    """The minbase Debian bookworm image built by debootstrap."""
    return require_image(docker_client, BASE_IMAGE)


@pytest.fixture(scope="session")
def sshd_image(docker_client: docker.DockerClient) -> str:
    """The base image plus openssh-server, sudo and a `pybuild` user."""
    return require_image(docker_client, SSHD_IMAGE)


def _owned_by_other_live_process(labels: dict[str, str]) -> bool:
    owner = labels.get(OWNER_LABEL, "")
    if not owner.isdigit() or int(owner) == os.getpid():
        return False
    try:
        os.kill(int(owner), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_test_containers() -> None:
    """Remove containers labelled pybuild-test=1, except those of another live pytest."""
    client = connect_docker()
    if client is None:  # no SDK or no engine: nothing can be left behind
        return
    try:
        for container in client.containers.list(all=True, filters={"label": f"{TEST_LABEL}=1"}):
            if not _owned_by_other_live_process(container.labels):
                _remove_quietly(container)
    finally:
        client.close()


def _remove_quietly(container: Container) -> None:
    import docker

    try:
        container.remove(force=True)
    except docker.errors.NotFound:
        pass


@pytest.fixture(scope="session", autouse=True)
def _remove_leftover_test_containers() -> Iterator[None]:
    yield
    remove_test_containers()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test under tests/integration is marked `integration`."""
    for item in items:
        if INTEGRATION_DIR in item.path.resolve().parents:
            item.add_marker(pytest.mark.integration)


# --- SSH key pairs ------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyPair:
    """A private key file (mode 0600) and the matching authorized_keys line."""

    private_path: Path
    public_line: str
    kind: str = "ed25519"
    passphrase: str = ""

    @property
    def public_path(self) -> Path:
        return self.private_path.with_name(self.private_path.name + ".pub")


KEY_KINDS = ("ed25519", "rsa", "ecdsa")
KEY_FORMATS = ("openssh", "pem")


def generate_keypair(path: Path, kind: str, fmt: str, passphrase: str) -> KeyPair:
    """Run ssh-keygen; `fmt="pem"` gives the traditional PEM form (rsa and ecdsa only)."""
    if kind not in KEY_KINDS or fmt not in KEY_FORMATS:
        raise ValueError(f"ssh_keypair: kind must be one of {KEY_KINDS}, fmt one of {KEY_FORMATS}")
    if kind == "ed25519" and fmt == "pem":
        raise ValueError("ssh_keypair: OpenSSH writes ed25519 keys only in its own format")
    path.parent.mkdir(parents=True, exist_ok=True)
    command = ["ssh-keygen", "-q", "-t", kind, "-N", passphrase, "-C", path.name, "-f", str(path)]
    if fmt == "pem":
        command += ["-m", "PEM"]
    subprocess.run(command, check=True, capture_output=True, timeout=60)
    path.chmod(0o600)
    public_line = path.with_name(path.name + ".pub").read_text().strip()
    return KeyPair(path, public_line, kind, passphrase)


@pytest.fixture
def ssh_keypair(tmp_path: Path) -> Callable[..., KeyPair]:
    """`ssh_keypair(kind="ed25519"|"rsa"|"ecdsa", fmt="openssh"|"pem", passphrase="")`."""
    counter = itertools.count(1)

    def make(kind: str = "ed25519", fmt: str = "openssh", passphrase: str = "") -> KeyPair:
        path = tmp_path / "ssh-keys" / f"id_{kind}_{next(counter)}"
        return generate_keypair(path, kind, fmt, passphrase)

    return make


# --- sshd test hosts ----------------------------------------------------------------------


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def sshd_config(
    port: int, *, password_auth: bool, permit_root: bool, tcp_forwarding: bool, extra: str
) -> str:
    """sshd_config text. `extra` lines replace the defaults with the same keyword;
    its Match blocks go last, where sshd requires them."""
    extra_lines = extra.strip().splitlines()
    first_match = next(
        (i for i, line in enumerate(extra_lines) if line.strip().lower().startswith("match ")),
        len(extra_lines),
    )
    head, tail = extra_lines[:first_match], extra_lines[first_match:]
    overridden = {line.split()[0].lower() for line in head if line.strip()}
    defaults = [
        f"Port {port}",
        f"ListenAddress {LOOPBACK}",
        f"PasswordAuthentication {_yes(password_auth)}",
        "KbdInteractiveAuthentication no",
        "PubkeyAuthentication yes",
        f"PermitRootLogin {'yes' if permit_root else 'prohibit-password'}",
        "UsePAM yes",
        "UseDNS no",
        "MaxStartups 200:30:400",
        f"AllowTcpForwarding {_yes(tcp_forwarding)}",
        "PrintMotd no",
        "LogLevel VERBOSE",
        "AcceptEnv LANG LC_*",
        "Subsystem sftp /usr/lib/openssh/sftp-server",
    ]
    kept = [line for line in defaults if line.split()[0].lower() not in overridden]
    return "\n".join([*head, *kept, *tail]) + "\n"


def read_banner(host: str, port: int, timeout: float) -> str:
    """Connect and return the server's first line; OSError unless it is SSH-2.0."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        data = b""
        while b"\n" not in data and len(data) < 256:
            chunk = sock.recv(256)
            if not chunk:
                break
            data += chunk
    line = data.split(b"\n", 1)[0].decode("ascii", "replace").strip()
    if not line.startswith("SSH-2.0-"):
        raise OSError(f"no SSH-2.0 banner (got {line!r})")
    return line


@dataclass
class SSHHost:
    """A running sshd test host. Connect to `host`:`port` as `user`."""

    host: str
    port: int
    user: str
    password: str | None
    container: Container
    delay: float = 0.0

    def exec(self, cmd: str, user: str = "root") -> tuple[int, str]:
        """Run `sh -c cmd` inside the host (docker exec); exit status, stdout+stderr."""
        code, output = self.container.exec_run(["/bin/sh", "-c", cmd], user=user)
        return int(code), output.decode("utf-8", "replace")

    def _exec_ok(self, cmd: str) -> str:
        code, output = self.exec(cmd)
        if code != 0:
            raise RuntimeError(f"{self}: `{cmd}` exited {code}: {output}")
        return output

    def kill_sshd(self) -> None:
        """SIGKILL every sshd inside: open connections drop, new ones are refused."""
        self._exec_ok(KILL_SSHD)

    def restart_sshd(self, timeout: float = READY_TIMEOUT) -> None:
        """Kill sshd (if running), start it again, wait for its banner."""
        self._exec_ok(f"{KILL_SSHD}; touch {START_FLAG}")
        self.wait_ready(timeout)

    def stop(self) -> None:
        """Stop the whole host (the container); exec() no longer works afterwards."""
        self.container.stop(timeout=5)

    def is_running(self) -> bool:
        self.container.reload()
        return self.container.status == "running"

    def logs(self) -> str:
        """The container's output: the set-up script and sshd's log (-e, LogLevel VERBOSE)."""
        return self.container.logs().decode("utf-8", "replace")

    def host_key(self, kind: str = "ed25519") -> str:
        """The server's public host key as `TYPE BASE64` (all hosts share the image's keys)."""
        fields = self._exec_ok(f"cat /etc/ssh/ssh_host_{kind}_key.pub").split()
        return f"{fields[0]} {fields[1]}"

    def known_hosts_line(self, kind: str = "ed25519") -> str:
        return f"[{self.host}]:{self.port} {self.host_key(kind)}"

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Wait until the port answers with an SSH-2.0 banner; raise with the logs if not."""
        deadline = time.monotonic() + timeout
        last = "not tried"
        while time.monotonic() < deadline:
            try:
                read_banner(
                    self.host, self.port, timeout=max(0.1, min(2.0, deadline - time.monotonic()))
                )
                return
            except OSError as exc:
                last = str(exc) or type(exc).__name__
            if not self.is_running():
                raise RuntimeError(f"{self}: container exited before sshd answered\n{self.logs()}")
            time.sleep(0.05)
        raise TimeoutError(f"{self}: no SSH banner within {timeout} s ({last})\n{self.logs()}")

    def __str__(self) -> str:
        return f"sshd host {self.container.name} ({self.user}@{self.host}:{self.port})"


class SSHHostFactory:
    """Starts sshd hosts and removes every one of them on close()."""

    def __init__(self, client: docker.DockerClient, image: str) -> None:
        self._client = client
        self._image = image
        self.hosts: list[SSHHost] = []

    def __call__(
        self,
        *,
        user: str = "pybuild",
        password: str | None = "pybuild-pw",
        authorized_keys: Sequence[str] = (),
        delay: float = 0.0,
        port: int | None = None,
        allow_tcp_forwarding: bool = True,
        extra_config: str = "",
    ) -> SSHHost:
        port = port or free_port()
        if isinstance(authorized_keys, str):
            authorized_keys = (authorized_keys,)
        config = sshd_config(
            port,
            password_auth=password is not None,
            permit_root=user == "root",
            tcp_forwarding=allow_tcp_forwarding,
            extra=extra_config,
        )
        env = {
            "PB_USER": user,
            "PB_AUTHORIZED_KEYS": "".join(f"{key.strip()}\n" for key in authorized_keys),
            "PB_SSHD_CONFIG": config,
            "PB_DELAY": str(delay),
        }
        if password is not None:
            env["PB_PASSWORD"] = password
        host = SSHHost(LOOPBACK, port, user, password, self._start(env), delay)
        self.hosts.append(host)
        if delay == 0:
            host.wait_ready()
        return host

    def _start(self, env: dict[str, str]) -> Container:
        return self._client.containers.run(
            self._image,
            command=["/bin/sh", "-c", HOST_SCRIPT],
            name=f"pybuild-test-{secrets.token_hex(4)}",
            labels=container_labels(),
            environment=env,
            network_mode="host",
            init=True,
            detach=True,
        )

    def close(self) -> None:
        for host in self.hosts:
            _remove_quietly(host.container)
        self.hosts.clear()


@pytest.fixture
def sshd_host(docker_client: docker.DockerClient, sshd_image: str) -> Iterator[SSHHostFactory]:
    """`sshd_host(user=, password=, authorized_keys=, delay=, port=, allow_tcp_forwarding=,
    extra_config=) -> SSHHost`; every host is removed after the test."""
    factory = SSHHostFactory(docker_client, sshd_image)
    try:
        yield factory
    finally:
        factory.close()
