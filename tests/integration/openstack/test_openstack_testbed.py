"""The OpenStack testbed itself (tests/testbed/openstack.sh) and this directory's fixtures:
the stack answers on 127.0.0.1, refuses a wrong password, boots a server without a network on
libvirt/qemu; the leak check sees what a test leaves; the sshd test host takes the fixed key
and the key of a Nova key pair made a moment before, and no longer once it is deleted."""

from __future__ import annotations

import base64
import secrets
import subprocess
import urllib.parse
from pathlib import Path
from typing import Any

import paramiko
import pytest

from tests.integration.conftest import generate_keypair
from tests.integration.openstack import conftest as fixtures
from tests.integration.openstack.conftest import LeakCheck, OpenStackCloud, OpenStackSSHHost

pytestmark = pytest.mark.integration


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def test_the_stack_answers_on_loopback(os_cloud: OpenStackCloud) -> None:
    conn = os_cloud.connect()
    try:
        hosts = {
            (e.interface, urllib.parse.urlsplit(e.url).hostname) for e in conn.identity.endpoints()
        }
        assert {host for _, host in hosts} == {"127.0.0.1"}, hosts
        kinds = {s.type for s in conn.identity.services()}
        assert {"identity", "compute", "image", "network", "placement"} <= kinds, kinds
        (hypervisor,) = list(conn.compute.hypervisors(details=True))
        assert hypervisor.hypervisor_type == "QEMU"  # libvirt's driver, not the fake one
        flavor = conn.compute.find_flavor(os_cloud.flavor)
        assert (flavor.vcpus, flavor.ram, flavor.disk) == (1, 512, 1)
        image = conn.image.get_image(os_cloud.source_image_id)
        assert image.name == os_cloud.source_image
        assert (image.status, image.visibility, image.disk_format) == ("active", "public", "qcow2")
    finally:
        conn.close()
    demo = os_cloud.connect("local-demo")
    try:
        assert demo.identity.get_project(demo.current_project_id).name == "demo"
        assert demo.image.find_image(os_cloud.source_image) is not None  # public
    finally:
        demo.close()
    assert os_cloud.admin == {
        "identity_endpoint": "http://127.0.0.1:5000/v3",
        "username": "admin",
        "password": os_cloud.admin["password"],
        "tenant_name": "admin",
        "domain_name": "Default",
    }
    assert os_cloud.demo["username"] == "demo" and os_cloud.demo["tenant_name"] == "demo"


def test_a_wrong_password_is_refused(os_cloud: OpenStackCloud) -> None:
    import openstack
    from keystoneauth1.exceptions.http import Unauthorized

    conn = openstack.connect(
        auth_url=os_cloud.auth_url,
        username="admin",
        password="not-" + os_cloud.admin["password"],
        project_name="admin",
        user_domain_name="Default",
        project_domain_name="Default",
        region_name=os_cloud.region,
        load_yaml_config=False,
        load_envvars=False,
    )
    try:
        with pytest.raises(Unauthorized) as refused:
            list(conn.compute.flavors())
        assert refused.value.http_status == 401
    finally:
        conn.close()


def _boot_without_network(conn: Any, os_cloud: OpenStackCloud, name: str, how: str) -> Any:
    if how == "networks none":
        return conn.compute.create_server(
            name=name, image_id=os_cloud.source_image_id, flavor_id=flavor_id(conn, os_cloud),
            networks="none",
        )  # fmt: skip
    # What packer 1.6.6 and the builder send: no `networks` key, below microversion 2.37.
    body = {
        "name": name,
        "imageRef": os_cloud.source_image_id,
        "flavorRef": flavor_id(conn, os_cloud),
    }
    response = conn.compute.post("/servers", json={"server": body}, microversion="2.36")
    assert response.status_code == 202, response.text
    return conn.compute.get_server(response.json()["server"]["id"])


def flavor_id(conn: Any, os_cloud: OpenStackCloud) -> str:
    return str(conn.compute.find_flavor(os_cloud.flavor).id)


@pytest.mark.parametrize(
    ("cloud", "how"), [("local", "networks none"), ("local-demo", "networks left out at 2.36")]
)
def test_a_server_without_network_boots_and_is_deleted(
    os_cloud: OpenStackCloud, os_leaks: LeakCheck, cloud: str, how: str
) -> None:
    conn = os_cloud.connect(cloud)
    try:
        server = _boot_without_network(conn, os_cloud, unique("pybuild-testbed"), how)
        try:
            server = conn.compute.wait_for_server(server, status="ACTIVE", wait=180)
            assert server.addresses == {}
            assert list(conn.network.ports(device_id=server.id)) == []
        finally:
            conn.compute.delete_server(server)
        conn.compute.wait_for_delete(server, wait=180)
    finally:
        conn.close()


def test_the_leak_check_sees_a_key_pair_and_an_image(
    os_cloud: OpenStackCloud, os_leaks: LeakCheck
) -> None:
    check = LeakCheck.take(os_cloud)
    conn = os_cloud.connect("local-demo")
    name = unique("pybuild-testbed-leak")
    try:
        pair = conn.compute.create_keypair(name=name)
        image = conn.image.create_image(
            name=name, data=b"\0" * 512, disk_format="raw", container_format="bare"
        )
        left = check.leftovers(settle=0)
        assert set(left) == {"keypair", "image"}, left
        assert [p.name for p in left["keypair"].values()] == [name]
        assert list(left["image"]) == [image.id]
        check.images_to_delete.append(image.id)
        conn.compute.delete_keypair(pair)
        assert check.leftovers(settle=0) == {}
        check.delete_images()
        assert conn.image.find_image(image.id) is None
    finally:
        conn.compute.delete_keypair(name, ignore_missing=True)
        conn.close()


def test_a_missing_stack_skips_here_and_fails_under_ci(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fixtures, "CLOUDS_YAML", tmp_path / "clouds.yaml")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="OpenStack testbed not running"):
        fixtures._read_clouds_yaml()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="tests/testbed/openstack.sh"):
        fixtures._read_clouds_yaml()


# --- the sshd test host ---------------------------------------------------------------------


def login(host: OpenStackSSHHost, key_file: Path | str) -> str:
    """`id -un` over SSH (paramiko) with that key alone, the host key checked; raises
    paramiko.AuthenticationException when the key is refused."""
    client = paramiko.SSHClient()
    kind, blob = host.ssh.host_key("ed25519").split()
    server_key = paramiko.Ed25519Key(data=base64.b64decode(blob))
    client.get_host_keys().add(f"[{host.host}]:{host.port}", kind, server_key)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        client.connect(
            host.host, host.port, username=host.user, pkey=paramiko.PKey.from_path(key_file),
            look_for_keys=False, allow_agent=False, timeout=20, auth_timeout=20,
        )  # fmt: skip
        _, out, _ = client.exec_command("id -un", timeout=20)
        return str(out.read().decode().strip())
    finally:
        client.close()


def login_sha1_rsa(host: OpenStackSSHHost, key_file: Path, tmp_path: Path) -> str:
    """`id -un` with OpenSSH's client signing as packer 1.6.6 does (ssh-rsa: RSA with SHA-1,
    which paramiko no longer offers), the host key checked."""
    known = tmp_path / "known_hosts"
    known.write_text(host.ssh.known_hosts_line("ed25519") + "\n")
    command = [
        "ssh", "-F", "none", "-i", str(key_file), "-p", str(host.port),
        "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "PubkeyAcceptedAlgorithms=ssh-rsa",
        "-o", "HostKeyAlgorithms=ssh-ed25519", "-o", f"UserKnownHostsFile={known}",
        "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=20",
        f"{host.user}@{host.host}", "id -un",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def refused(host: OpenStackSSHHost, key_file: Path | str) -> bool:
    try:
        login(host, key_file)
    except paramiko.AuthenticationException:
        return True
    return False


def test_the_ssh_host_takes_the_test_key_and_nova_key_pairs(
    os_cloud: OpenStackCloud, os_leaks: LeakCheck, os_ssh_host: OpenStackSSHHost, tmp_path: Path
) -> None:
    assert login(os_ssh_host, os_ssh_host.private_key_file) == "pybuild"
    stranger = generate_keypair(tmp_path / "stranger", "ed25519", "openssh", "")
    assert refused(os_ssh_host, stranger.private_path)

    admin, demo = os_cloud.connect(), os_cloud.connect("local-demo")
    made = unique("pybuild-testbed-nova")  # Nova makes the key (RSA), as for packer's pairs
    mine = generate_keypair(tmp_path / "demo", "ed25519", "openssh", "")
    try:
        pair = admin.compute.create_keypair(name=made)
        key_file = tmp_path / "nova.pem"
        key_file.write_text(pair.private_key)
        key_file.chmod(0o600)
        demo.compute.create_keypair(name=made, public_key=mine.public_line)
        assert login(os_ssh_host, key_file) == "pybuild"
        assert login_sha1_rsa(os_ssh_host, key_file, tmp_path) == "pybuild"
        assert login(os_ssh_host, mine.private_path) == "pybuild"
        admin.compute.delete_keypair(made)
        assert refused(os_ssh_host, key_file)  # asked of Nova at each login
        assert login(os_ssh_host, mine.private_path) == "pybuild"
    finally:
        admin.compute.delete_keypair(made, ignore_missing=True)
        demo.compute.delete_keypair(made, ignore_missing=True)
        admin.close()
        demo.close()
    assert os_ssh_host.key_server.errors == []
