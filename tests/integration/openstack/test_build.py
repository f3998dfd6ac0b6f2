"""The openstack builder for real: openstacksdk against Keystone, Nova (libvirt, qemu), Glance
and Neutron on 127.0.0.1, SSH provisioning to a loopback sshd test host.

The test server has no network (no `networks`: Nova boots it without a NIC), so `ssh_host`
and `ssh_port` send the communicator to the `os_ssh_host` container, which accepts the
public key of every Nova key pair: the build's temporary key pair logs in there, and the
provisioners run in that container. After each test `os_leaks` checks that no server, key
pair, volume, port or floating IP is left; the image is read back through the API.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import pytest

from builder.engine import BuildResult, RunOptions, load_template, prepare, run
from builder.events import Event, Say
from builder.multistep import CancelToken
from builder.testing import RecordingSink
from tests.conftest import run_cli, write_template

pytestmark = pytest.mark.integration


def block(os_cloud: Any, name: str, user: str = "admin", **options: Any) -> dict[str, Any]:
    """An openstack builder block with explicit credentials, booting the test image."""
    out: dict[str, Any] = {
        "type": "openstack",
        **getattr(os_cloud, user),
        "region": os_cloud.region,
        "source_image_name": os_cloud.source_image,
        "flavor": os_cloud.flavor,
        "image_name": name,
    }
    out.update(options)
    return {k: v for k, v in out.items() if v is not None}


def over_ssh(os_cloud: Any, host: Any, name: str, **options: Any) -> dict[str, Any]:
    """A build whose communicator reaches the sshd test host through ssh_host/ssh_port."""
    return block(
        os_cloud,
        name,
        communicator="ssh",
        ssh_host=host.host,
        ssh_port=host.port,
        ssh_username=host.user,
        ssh_timeout="2m",
        **options,
    )


class TriggerSink(RecordingSink):
    """Records events; the first say starting with `trigger` runs `action` in a timer thread."""

    def __init__(self, trigger: str, action: Any, delay: float = 0.5):
        super().__init__()
        self.trigger, self.action, self.delay, self.fired = trigger, action, delay, False

    def emit(self, event: Event) -> None:
        super().emit(event)
        text = str(getattr(event, "text", ""))
        if not self.fired and self.trigger in text:
            self.fired = True
            threading.Timer(self.delay, self.action).start()


def go(
    tmp_path: Path,
    builder: dict[str, Any],
    provisioners: list[dict[str, Any]] | None = None,
    sink: RecordingSink | None = None,
    cancel: CancelToken | None = None,
) -> tuple[BuildResult, RecordingSink]:
    data: dict[str, Any] = {"builders": [builder]}
    if provisioners:
        data["provisioners"] = provisioners
    path = write_template(tmp_path, data)
    options = RunOptions(state_dir=str(tmp_path / "state"))
    if cancel is not None:
        options.cancel = cancel
    prepared = prepare(load_template(str(path)), options)
    assert not prepared.errors, prepared.errors
    sink = sink or RecordingSink()
    return run(prepared, sink)["openstack"], sink


def image_of(os_cloud: Any, image_id: str, cloud: str = "local") -> Any:
    conn = os_cloud.connect(cloud)
    try:
        return conn.image.get_image(image_id)
    finally:
        conn.close()


def test_build_with_a_temporary_nova_key_pair(
    os_cloud: Any, os_leaks: Any, os_ssh_host: Any, tmp_path: Path
) -> None:
    builder = over_ssh(
        os_cloud,
        os_ssh_host,
        "pybuild-it-keypair",
        metadata={"pybuild_test": "keypair", "os_distro": "cirros"},
        image_tags=["pybuild", "it"],
        image_visibility="shared",
        image_min_disk=1,
        instance_metadata={"purpose": "integration"},
    )
    shell = {"type": "shell", "inline": ["echo provisioned-as-$(id -un) on $(cat /etc/hostname)"]}
    result, sink = go(tmp_path, builder, [shell])
    assert result.error is None, result.error
    (artifact,) = result.artifacts
    os_leaks.images_to_delete.append(artifact.id)
    assert artifact.string() == f"An image was created: {artifact.id}"
    texts = sink.texts()
    key_names = [t for t in sink.texts(Say) if t.startswith("Creating temporary keypair: packer_")]
    assert key_names, texts
    assert any(f"provisioned-as-{os_ssh_host.user}" in t for t in texts), texts
    order = [t.split(":")[0] for t in sink.texts(Say)]
    for message in (
        "Loading flavor",
        "Creating temporary keypair",
        "Launching server...",
        "Waiting for server to become ready...",
        "Stopping server",
        "Creating the image",
        "Terminating the source server",
        "Deleting temporary keypair",
    ):
        assert any(o.startswith(message) for o in order), (message, order)
    image = image_of(os_cloud, artifact.id)
    assert image.status == "active" and image.name == "pybuild-it-keypair"
    assert sorted(image.tags) == ["it", "pybuild"]
    assert image.visibility == "shared" and image.min_disk == 1
    props = image.properties or {}
    assert props.get("pybuild_test") == "keypair" and props.get("image_type") == "image"
    assert "pybuild_run_id" not in props  # the run id stays on the temporary server only


def test_build_with_cloud_from_clouds_yaml(
    os_cloud: Any, os_leaks: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(os_cloud.clouds_yaml))
    builder = {
        "type": "openstack",
        "cloud": "local-demo",
        "source_image": os_cloud.source_image_id,
        "flavor": os_cloud.flavor,
        "image_name": "pybuild-it-cloud",
        "communicator": "none",
    }
    result, _ = go(tmp_path, builder)
    assert result.error is None, result.error
    (artifact,) = result.artifacts
    os_leaks.images_to_delete.append(artifact.id)
    image = image_of(os_cloud, artifact.id, "local-demo")
    conn = os_cloud.connect("local-demo")
    try:
        assert image.owner == conn.current_project_id  # made in the demo project
    finally:
        conn.close()
    artifact.destroy()
    os_leaks.images_to_delete.remove(artifact.id)
    assert image_of_missing(os_cloud, artifact.id)


def image_of_missing(os_cloud: Any, image_id: str) -> bool:
    from openstack import exceptions

    try:
        image_of(os_cloud, image_id)
    except exceptions.NotFoundException:
        return True
    return False


def test_wrong_password_says_so_without_a_traceback(
    os_cloud: Any, os_leaks: Any, tmp_path: Path
) -> None:
    data = {"builders": [block(os_cloud, "pybuild-it-pw", password="not-the-password",
                               communicator="none")]}  # fmt: skip
    path = write_template(tmp_path, data)
    out = run_cli("build", str(path), cwd=tmp_path, env={"PYBUILD_STATE_DIR": str(tmp_path / "s")})
    text = out.stdout + out.stderr
    assert out.returncode != 0
    assert "Keystone refused the password of user 'admin'" in text, text
    assert "Traceback" not in text and "not-the-password" not in text


def test_unknown_project_is_named(os_cloud: Any, os_leaks: Any, tmp_path: Path) -> None:
    result, _ = go(tmp_path, block(os_cloud, "x", tenant_name="admn", communicator="none"))
    message = str(result.error)
    assert "project 'admn' not found" in message and "did you mean 'admin'?" in message


def test_unknown_image_and_flavor_list_close_names(
    os_cloud: Any, os_leaks: Any, tmp_path: Path
) -> None:
    wrong = os_cloud.source_image[:-1] + "x"
    result, _ = go(tmp_path, block(os_cloud, "x", source_image_name=wrong, communicator="none"))
    message = str(result.error)
    assert "No image was found matching filters" in message
    assert f"did you mean '{os_cloud.source_image}'?" in message, message
    result, _ = go(tmp_path, block(os_cloud, "x", flavor="m1.tinny", communicator="none"))
    message = str(result.error)
    assert "flavor 'm1.tinny' not found" in message
    assert f"did you mean '{os_cloud.flavor}'?" in message, message


def test_ctrl_c_during_provisioning_leaves_nothing(
    os_cloud: Any, os_leaks: Any, os_ssh_host: Any, tmp_path: Path
) -> None:
    cancel = CancelToken()
    sink = TriggerSink("pybuild-provisioning-started", cancel.cancel)
    shell = {"type": "shell", "inline": ["echo pybuild-provisioning-started", "sleep 60"]}
    builder = over_ssh(os_cloud, os_ssh_host, "pybuild-it-cancel")
    result, sink = go(tmp_path, builder, [shell], sink=sink, cancel=cancel)
    assert sink.fired and (result.cancelled or "cancel" in str(result.error).lower())
    assert result.artifacts == []
    says = sink.texts(Say)
    assert any(t.startswith("Terminating the source server") for t in says), says
    assert any(t.startswith("Deleting temporary keypair") for t in says), says
    assert not any(t.startswith("Creating the image") for t in says)


def test_ledger_holds_no_secret(os_cloud: Any, os_leaks: Any, tmp_path: Path) -> None:
    """A failing build keeps its ledger only until it ends; while it runs, no password."""
    seen: list[str] = []

    def peek() -> None:
        for path in (tmp_path / "state").glob("*.jsonl"):
            seen.append(path.read_text())

    sink = TriggerSink("Waiting for server to become ready", peek, delay=0.1)
    builder = block(os_cloud, "pybuild-it-ledger", communicator="none", skip_create_image=True)
    result, _ = go(tmp_path, builder, sink=sink)
    assert result.error is None, result.error
    assert seen and all(os_cloud.admin["password"] not in text for text in seen)
    assert any('"kind":"server"' in text for text in seen)
    assert re.search(r'"identity_endpoint":"http://127\.0\.0\.1', seen[0]), seen[0]
