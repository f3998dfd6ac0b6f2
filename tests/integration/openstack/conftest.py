"""OpenStack integration fixtures: the stack that tests/testbed/openstack.sh runs on 127.0.0.1
(Keystone, Glance, Placement, Nova with libvirt and virt_type = qemu, Neutron API only), found
through the clouds.yaml it writes. The suite never starts or stops the stack; when it does not
answer, a test fails under CI and is skipped elsewhere.

- `os_cloud` (session): the stack, its users as builder options, the base image and flavor.
- `os_leaks` (function): fails the test if it leaves a server, key pair, volume, port,
  floating IP or image behind; `images_to_delete` are deleted after the check.
- `os_ssh_host` (function): an sshd test host in a container that accepts a fixed test key
  and the public key of every Nova key pair of the admin and demo users.

Test servers have no network (Nova boots them without a NIC), so a build's communicator goes
to `os_ssh_host` through `ssh_host`/`ssh_port`.
"""

from __future__ import annotations

import os
import socketserver
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.integration.conftest import (
    KeyPair,
    SSHHost,
    SSHHostFactory,
    generate_keypair,
    service_missing,
)

if TYPE_CHECKING:
    from openstack.connection import Connection

# Read at import: the autouse isolation fixture clears PYBUILD_* before each test.
STACK_DIR = Path(os.environ.get("PYBUILD_TESTBED_OPENSTACK", "/var/lib/pybuild-testbed/openstack"))
CLOUDS_YAML = STACK_DIR / "clouds.yaml"
SETUP_HINT = "run `bash tests/testbed/openstack.sh` as root"
AUTH_URL = "http://127.0.0.1:5000/v3"
REGION = "RegionOne"
SOURCE_IMAGE = "pybuild-base"
FLAVOR = "m1.tiny"
KEY_USERS = ("admin", "demo")  # whose Nova key pairs os_ssh_host accepts
SETTLE_TIMEOUT = 60.0  # how long the leak check waits for deletions Nova or Cinder still runs


def open_connection(clouds_yaml: Path, cloud: str) -> Connection:
    """A Connection to `cloud` of that clouds.yaml alone: no OS_* variables, no other file."""
    from openstack.config import loader
    from openstack.connection import Connection

    config = loader.OpenStackConfig(
        config_files=[str(clouds_yaml)], vendor_files=[], secure_files=[], load_envvars=False
    )
    return Connection(config=config.get_one(cloud))


@dataclass(frozen=True)
class OpenStackCloud:
    """The running stack. `admin` and `demo` are builder options (identity_endpoint, username,
    password, tenant_name, domain_name); clouds.yaml has the clouds `local` (admin) and
    `local-demo`."""

    auth_url: str
    region: str
    admin: dict[str, str]
    demo: dict[str, str]
    clouds_yaml: Path
    source_image: str
    source_image_id: str
    flavor: str

    def connect(self, cloud: str = "local") -> Connection:
        """A new Connection (close it) for assertions: `local` is admin, `local-demo` demo."""
        return open_connection(self.clouds_yaml, cloud)


def _builder_options(auth: dict[str, Any]) -> dict[str, str]:
    return {
        "identity_endpoint": str(auth["auth_url"]),
        "username": str(auth["username"]),
        "password": str(auth["password"]),
        "tenant_name": str(auth["project_name"]),
        "domain_name": str(auth["user_domain_name"]),
    }


def _read_clouds_yaml() -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(CLOUDS_YAML.read_text())
    except FileNotFoundError:
        service_missing(f"OpenStack testbed not running ({CLOUDS_YAML} missing): {SETUP_HINT}")
    except PermissionError:
        service_missing(f"cannot read {CLOUDS_YAML} (mode 0600, root's): run the tests as root")
    clouds = data.get("clouds", {}) if isinstance(data, dict) else {}
    if not {"local", "local-demo"} <= set(clouds):
        service_missing(f"{CLOUDS_YAML} lacks the clouds local and local-demo: {SETUP_HINT}")
    return clouds


def _probe(conn: Connection) -> tuple[str, str]:
    """Ask the stack for the base image and the flavor; the image id, or why it is not usable."""
    image = conn.image.find_image(SOURCE_IMAGE)
    if image is None or image.status != "active":
        return "", f"image {SOURCE_IMAGE} missing or not active"
    if conn.compute.find_flavor(FLAVOR) is None:
        return "", f"flavor {FLAVOR} missing"
    computes = [s for s in conn.compute.services() if s.binary == "nova-compute"]
    if not any(s.state == "up" and s.status == "enabled" for s in computes):
        return "", "no nova-compute service is up"
    return str(image.id), ""


@pytest.fixture(scope="session")
def os_cloud() -> OpenStackCloud:
    """The stack on 127.0.0.1, checked once per session: a token, the image, the flavor and a
    live nova-compute."""
    try:
        import openstack  # noqa: F401
    except ImportError:
        service_missing("Python package openstacksdk missing: pip install -e '.[test]'")
    clouds = _read_clouds_yaml()
    try:
        conn = open_connection(CLOUDS_YAML, "local")
        try:
            image_id, problem = _probe(conn)
        finally:
            conn.close()
    except Exception as exc:  # refused connections, 401s, 5xx: the stack is not usable
        service_missing(f"OpenStack testbed not answering ({type(exc).__name__}: {exc}): "
                        f"{SETUP_HINT}")  # fmt: skip
    if problem:
        service_missing(f"OpenStack testbed incomplete ({problem}): {SETUP_HINT}")
    return OpenStackCloud(
        auth_url=AUTH_URL,
        region=REGION,
        admin=_builder_options(clouds["local"]["auth"]),
        demo=_builder_options(clouds["local-demo"]["auth"]),
        clouds_yaml=CLOUDS_YAML,
        source_image=SOURCE_IMAGE,
        source_image_id=image_id,
        flavor=FLAVOR,
    )


# --- the leak check -----------------------------------------------------------------------

KINDS = ("server", "keypair", "volume", "port", "floating_ip", "image")


def _settling(kind: str, item: Any) -> bool:
    """A deletion the service has accepted and not finished."""
    if kind == "server":
        return item.task_state == "deleting" or item.status in ("DELETED", "SOFT_DELETED")
    if kind == "volume":
        return item.status in ("deleting",)
    if kind == "image":
        return item.status in ("deleted", "pending_delete")
    return False


def inventory(conn: Connection) -> dict[str, dict[str, Any]]:
    """Every server, key pair (of every user), volume, port, floating IP and image, by key."""
    found: dict[str, dict[str, Any]] = {kind: {} for kind in KINDS}
    for server in conn.compute.servers(all_projects=True):
        found["server"][server.id] = server
    for user in conn.identity.users():
        for pair in conn.compute.keypairs(user_id=user.id):
            found["keypair"][f"{user.id}/{pair.name}"] = pair
    if conn.has_service("block-storage"):  # the testbed has no Cinder
        for volume in conn.block_storage.volumes(all_projects=True):
            found["volume"][volume.id] = volume
    for port in conn.network.ports():
        found["port"][port.id] = port
    for ip in conn.network.ips():
        found["floating_ip"][ip.id] = ip
    for image in conn.image.images():
        found["image"][image.id] = image
    return found


def _describe(kind: str, key: str, item: Any) -> str:
    name = getattr(item, "name", None) or getattr(item, "floating_ip_address", None) or ""
    status = getattr(item, "status", None)
    return f"{key} ({name}{', ' + status if status else ''})" if kind != "keypair" else key


@dataclass
class LeakCheck:
    """The `os_leaks` fixture's value: what existed before the test.

    `images_to_delete`: ids of images the test made on purpose (a build's artifact); they do
    not count as left behind and are deleted after the check. `ignore`: kinds not to check."""

    cloud: OpenStackCloud
    before: dict[str, dict[str, Any]]
    images_to_delete: list[str] = field(default_factory=list)
    ignore: set[str] = field(default_factory=set)

    @classmethod
    def take(cls, cloud: OpenStackCloud) -> LeakCheck:
        conn = cloud.connect()
        try:
            return cls(cloud, inventory(conn))
        finally:
            conn.close()

    def leftovers(self, settle: float = SETTLE_TIMEOUT) -> dict[str, dict[str, Any]]:
        """What exists now and did not before (less `images_to_delete` and ignored kinds),
        after waiting up to `settle` seconds for deletions still running."""
        conn = self.cloud.connect()
        try:
            deadline = time.monotonic() + settle
            while True:
                now = inventory(conn)
                new = {
                    kind: {
                        key: item
                        for key, item in now[kind].items()
                        if key not in self.before[kind]
                        and not (kind == "image" and key in self.images_to_delete)
                    }
                    for kind in KINDS
                    if kind not in self.ignore
                }
                new = {kind: items for kind, items in new.items() if items}
                busy = any(_settling(k, i) for k, items in new.items() for i in items.values())
                if not busy or time.monotonic() >= deadline:
                    return new
                time.sleep(1.0)
        finally:
            conn.close()

    def delete_images(self) -> None:
        from openstack import exceptions

        conn = self.cloud.connect()
        try:
            for image_id in self.images_to_delete:
                try:
                    conn.image.delete_image(image_id)
                except exceptions.NotFoundException:
                    pass
        finally:
            conn.close()


@pytest.fixture
def os_leaks(os_cloud: OpenStackCloud) -> Iterator[LeakCheck]:
    """Fails the test if a server, key pair (any user's), volume, port, floating IP or image
    made during it is still there afterwards (deletions in progress are waited for); deletes
    `images_to_delete`. Leftovers stay for inspection, and the check compares the whole
    cloud: one pytest session at a time per stack."""
    check = LeakCheck.take(os_cloud)
    yield check
    try:
        leftovers = check.leftovers()
    finally:
        check.delete_images()
    described = {
        kind: sorted(_describe(kind, key, item) for key, item in items.items())
        for kind, items in leftovers.items()
    }
    assert described == {}, f"left behind in the OpenStack testbed: {described}"


# --- the sshd test host and its Nova keys -------------------------------------------------


class NovaKeyServer:
    """Test harness, not the system under test: it plays the part cloud-init plays on a real
    server, which reads its key pair from Nova. It listens on 127.0.0.1; each connection gets
    the public keys of the admin and demo users' Nova key pairs, asked of Nova at that moment,
    one per line. The sshd test host's AuthorizedKeysCommand (bash's /dev/tcp: the container
    has neither curl nor python) reads them at every public-key login, so a key pair that a
    build has just made opens the session, and one deleted no longer does."""

    def __init__(self, cloud: OpenStackCloud) -> None:
        self._cloud = cloud
        self._conn = cloud.connect()
        self._lock = threading.Lock()
        self._user_ids = [self._user_id(name) for name in KEY_USERS]
        self.requests = 0
        self.errors: list[str] = []
        server = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                self.request.sendall(server.keys().encode())

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="nova-key-server", daemon=True
        )
        self._thread.start()

    def _user_id(self, name: str) -> str:
        user = self._conn.identity.find_user(name, domain_id="default")
        assert user is not None, f"user {name} missing in {self._cloud.clouds_yaml}"
        return str(user.id)

    def keys(self) -> str:
        """The public keys, one per line ("" when Nova cannot be asked: the login fails)."""
        from openstack import exceptions

        with self._lock:
            self.requests += 1
            try:
                lines = [
                    pair.public_key.strip()
                    for user_id in self._user_ids
                    for pair in self._conn.compute.keypairs(user_id=user_id)
                    if pair.public_key
                ]
            except exceptions.SDKException as exc:
                self.errors.append(str(exc))
                return ""
        return "".join(f"{line}\n" for line in lines)

    def sshd_config(self) -> str:
        """sshd_config lines for a test host on the host network."""
        command = f"exec 3<>/dev/tcp/127.0.0.1/{self.port} && cat <&3"
        return (
            f'AuthorizedKeysCommand /bin/bash -c "{command}"\n'
            "AuthorizedKeysCommandUser nobody\n"
            # packer 1.6.6 signs with RSA keys (Nova's key pairs) by SHA-1 ssh-rsa only
            "PubkeyAcceptedAlgorithms +ssh-rsa\n"
        )

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
        self._conn.close()


@pytest.fixture(scope="session")
def nova_key_server(os_cloud: OpenStackCloud) -> Iterator[NovaKeyServer]:
    """Test harness: serves the Nova key pairs' public keys to os_ssh_host containers."""
    server = NovaKeyServer(os_cloud)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def os_test_key(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    """The fixed ed25519 key every os_ssh_host accepts."""
    path = tmp_path_factory.mktemp("os-ssh") / "id_ed25519"
    return generate_keypair(path, "ed25519", "openssh", "")


@dataclass
class OpenStackSSHHost:
    """An sshd test host for OpenStack builds: `host`, `port`, `user`, `private_key_file` (the
    fixed test key, a str for templates); `ssh` is the SSHHost (exec, logs, kill_sshd)."""

    host: str
    port: int
    user: str
    private_key_file: str
    public_key: str
    ssh: SSHHost
    key_server: NovaKeyServer

    def exec(self, cmd: str, user: str = "root") -> tuple[int, str]:
        return self.ssh.exec(cmd, user)

    def logs(self) -> str:
        return self.ssh.logs()


@pytest.fixture
def os_ssh_host(
    sshd_host: SSHHostFactory, nova_key_server: NovaKeyServer, os_test_key: KeyPair
) -> OpenStackSSHHost:
    """A container on 127.0.0.1 running sshd for user `pybuild` (passwordless sudo, no
    password login) that accepts the fixed test key and every Nova key pair's public key of
    the admin and demo users; removed after the test."""
    host = sshd_host(
        user="pybuild",
        password=None,
        authorized_keys=[os_test_key.public_line],
        extra_config=nova_key_server.sshd_config(),
    )
    return OpenStackSSHHost(
        host=host.host,
        port=host.port,
        user=host.user,
        private_key_file=str(os_test_key.private_path),
        public_key=os_test_key.public_line,
        ssh=host,
        key_server=nova_key_server,
    )
