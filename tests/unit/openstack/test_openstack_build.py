"""openstack builds end to end through the engine, over FakeOpenStack (below the SDK boundary)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from builder.engine import RunOptions
from builder.errors import BuildCancelled
from builder.events import ErrorMessage, Message
from builder.openstack.driver import OpenStackError
from tests.unit.openstack.conftest import build, says
from tests.unit.openstack.fakes import SOURCE_ID, FakeDriver, FakeOpenStack, check_protocol

NOTHING = {"servers": [], "keypairs": [], "volumes": [], "floating_ips": []}


def test_the_fake_is_an_openstack_driver(cloud: FakeOpenStack) -> None:
    assert check_protocol(FakeDriver(cloud)) is not None


def test_communicator_none_build_makes_an_image(cloud: FakeOpenStack, tmp_path: Path) -> None:
    result, sink, records = build(
        tmp_path,
        metadata={"os_distro": "debian"},
        image_tags=["a", "b"],
        image_visibility="Shared",
        image_min_disk=2,
        image_members=["demo-project"],
        image_auto_accept_members=True,
        instance_metadata={"role": "builder"},
    )
    assert result.error is None, result.error
    (artifact,) = result.artifacts
    image = cloud.image(artifact.id)
    assert artifact.string() == f"An image was created: {artifact.id}"
    assert artifact.builder_id == "mitchellh.openstack"
    assert (image.name, image.status, image.tags, image.visibility, image.min_disk) == (
        "pybuild-unit", "active", ("a", "b"), "shared", 2,
    )  # fmt: skip
    assert image.properties == {"os_distro": "debian", "image_type": "image"}
    assert cloud.images[artifact.id].members == {"demo-project": "accepted"}
    server_id = [a for op, a in cloud.calls if op == "stop_server"][0]
    texts = says(sink)
    assert texts == [
        "Loading flavor: m1.tiny",
        "Launching server...",
        "Waiting for server to become ready...",
        f"Stopping server: {server_id} ...",
        "Creating the image: pybuild-unit",
        f"Waiting for image pybuild-unit (image id: {artifact.id}) to become ready...",
        "Updating image tags to a, b",
        "Updating image visibility to shared",
        f"Adding member 'demo-project' to image {artifact.id}",
        f"Accepting image {artifact.id} for member 'demo-project'",
        "Updating image min disk to 2",
        f"Terminating the source server: {server_id} ...",
    ]
    assert "Verified flavor. ID: 1" in sink.texts(Message)
    assert cloud.ops()[0] == "authenticate"
    (spec,) = [a for op, a in cloud.calls if op == "create_server"]
    assert spec.name == "pybuild-unit" and spec.networks == () and spec.key_name == ""
    assert spec.metadata["role"] == "builder" and spec.metadata["pybuild_run_id"]
    assert spec.image_id == SOURCE_ID and spec.flavor_id == "1"
    assert cloud.live() == NOTHING
    assert [(rec, res.ref) for rec, res in records] == [
        ("create", "openstack.server"),
        ("created", "openstack.server"),
        ("create", "openstack.image"),
        ("created", "openstack.image"),
        ("released", "openstack.server"),
        ("kept", "openstack.image"),
    ]
    assert cloud.closed == 1
    artifact.destroy()
    assert artifact.id not in cloud.images


def test_temporary_nova_key_pair_is_made_and_deleted(
    cloud: FakeOpenStack, tmp_path: Path, monkeypatch: Any
) -> None:
    from builder.common.steps import connect
    from builder.testing import FakeCommunicator

    seen: dict[str, Any] = {}

    def connected(self: Any, ctx: Any) -> None:
        seen["host"] = ctx.config.ssh_host or self.host(ctx)
        seen["key"] = ctx.ssh_key
        ctx.communicator = FakeCommunicator()

    monkeypatch.setattr(connect.StepConnect, "run", connected)
    result, sink, records = build(
        tmp_path, communicator="ssh", ssh_username="root", ssh_host="127.0.0.1", ssh_port=2222
    )
    assert result.error is None, result.error
    (spec,) = [a for op, a in cloud.calls if op == "create_server"]
    name = spec.key_name
    assert name.startswith("packer_") and seen["host"] == "127.0.0.1"
    assert seen["key"].name == name and "PRIVATE KEY" in seen["key"].private_pem
    texts = says(sink)
    assert f"Creating temporary keypair: {name} ..." in texts
    assert f"Created temporary keypair: {name}" in texts
    assert texts[-1] == f"Deleting temporary keypair: {name} ..."
    assert cloud.live() == NOTHING
    refs = [(rec, res.ref) for rec, res in records]
    assert refs[:2] == [("create", "openstack.keypair"), ("created", "openstack.keypair")]
    assert ("released", "openstack.keypair") in refs


def test_ed25519_temporary_key_is_made_here_and_imported(
    cloud: FakeOpenStack, tmp_path: Path, monkeypatch: Any
) -> None:
    from builder.common.steps import connect
    from builder.testing import FakeCommunicator

    keys: list[Any] = []

    def connected(self: Any, ctx: Any) -> None:
        keys.append(ctx.ssh_key)
        ctx.communicator = FakeCommunicator()

    monkeypatch.setattr(connect.StepConnect, "run", connected)
    result, _, _ = build(
        tmp_path,
        communicator="ssh",
        ssh_username="root",
        ssh_host="127.0.0.1",
        temporary_key_pair_type="ed25519",
    )
    assert result.error is None, result.error
    assert keys[0].kind == "ed25519" and keys[0].public_line.startswith("ssh-ed25519 ")
    assert cloud.keypairs == {}


def test_address_from_the_server_when_no_ssh_host(
    cloud: FakeOpenStack, tmp_path: Path, monkeypatch: Any
) -> None:
    from builder.common.steps import connect
    from builder.openstack.driver import Address
    from builder.testing import FakeCommunicator

    hosts: list[str] = []

    def connected(self: Any, ctx: Any) -> None:
        hosts.append(self.host(ctx))
        ctx.communicator = FakeCommunicator()

    monkeypatch.setattr(connect.StepConnect, "run", connected)
    cloud.addresses = (
        Address("private", "fd00::5", 6),
        Address("private", "10.0.0.5", 4),
        Address("public", "203.0.113.5", 4),
    )
    for over, expected in (
        ({}, "[fd00::5]"),
        ({"ssh_ip_version": "4"}, "10.0.0.5"),
        ({"ssh_interface": "public"}, "203.0.113.5"),
    ):
        result, _, _ = build(
            tmp_path, communicator="ssh", ssh_username="root", ssh_password="pw", **over
        )
        assert result.error is None, result.error
        assert hosts[-1] == expected


def test_a_server_without_an_address_and_no_ssh_host_fails_clearly(
    cloud: FakeOpenStack, tmp_path: Path
) -> None:
    result, _, _ = build(tmp_path, communicator="ssh", ssh_username="root", ssh_password="pw")
    assert "couldn't determine IP address for server" in str(result.error)
    assert cloud.live() == NOTHING


@pytest.mark.parametrize(
    "op",
    [
        "get_flavor",
        "create_keypair",
        "get_image",
        "create_server",
        "stop_server",
        "create_server_image",
        "update_image",
        "add_image_member",
    ],
)
def test_a_failure_at_each_step_leaks_nothing(
    cloud: FakeOpenStack, tmp_path: Path, op: str, monkeypatch: Any
) -> None:
    from builder.common.steps import connect
    from builder.testing import FakeCommunicator

    monkeypatch.setattr(
        connect.StepConnect,
        "run",
        lambda self, ctx: setattr(ctx, "communicator", FakeCommunicator()),
    )
    cloud.fail[op] = OpenStackError(op.replace("_", " "), "boom", 500)
    result, _, records = build(
        tmp_path,
        communicator="ssh",
        ssh_username="root",
        ssh_host="127.0.0.1",
        image_tags=["t"],
        image_members=["m"],
    )
    assert result.error is not None and "boom" in str(result.error)
    assert cloud.live() == NOTHING
    assert all(i.record.id == SOURCE_ID for i in cloud.images.values()), "image left"
    states: dict[str, str] = {}
    for rec, res in records:
        states[res.rid] = rec
    assert all(state in ("released",) for state in states.values()), states


def test_server_that_goes_to_error_names_the_fault(cloud: FakeOpenStack, tmp_path: Path) -> None:
    cloud.server_error = "No valid host was found."
    result, _, _ = build(tmp_path)
    message = str(result.error)
    assert "Error waiting for server" in message and "No valid host was found." in message
    assert "ERROR" in message
    assert cloud.live() == NOTHING


def test_a_failed_snapshot_deletes_the_image(cloud: FakeOpenStack, tmp_path: Path) -> None:
    cloud.snapshot_fails = True
    result, sink, _ = build(tmp_path)
    assert "Error waiting for image" in str(result.error) and "killed" in str(result.error)
    assert list(cloud.images) == [SOURCE_ID]
    assert cloud.live() == NOTHING
    assert any(t.startswith("Deleting the image") for t in says(sink))


def test_cancel_during_provisioning_cleans_up(
    cloud: FakeOpenStack, tmp_path: Path, monkeypatch: Any
) -> None:
    from builder.common.steps import connect, provision
    from builder.testing import FakeCommunicator

    options = RunOptions(record_resources=False)
    monkeypatch.setattr(
        connect.StepConnect,
        "run",
        lambda self, ctx: setattr(ctx, "communicator", FakeCommunicator()),
    )

    def cancelled(self: Any, ctx: Any) -> None:
        options.cancel.cancel()
        raise BuildCancelled()

    monkeypatch.setattr(provision.StepProvision, "run", cancelled)
    result, sink, _ = build(
        tmp_path, options, communicator="ssh", ssh_username="root", ssh_host="127.0.0.1"
    )
    assert result.cancelled or isinstance(result.error, BuildCancelled)
    assert cloud.live() == NOTHING
    assert "create_server_image" not in cloud.ops()
    assert any(t.startswith("Terminating the source server") for t in says(sink))


def test_wrong_password_is_one_clear_error(cloud: FakeOpenStack, tmp_path: Path) -> None:
    result, sink, _ = build(tmp_path, password="wrong")
    assert "Keystone refused the password of user 'admin'" in str(result.error)
    assert cloud.ops() == ["authenticate"]
    assert not any("Traceback" in t for t in sink.texts(ErrorMessage))


def test_unknown_flavor_lists_the_close_names(cloud: FakeOpenStack, tmp_path: Path) -> None:
    result, _, _ = build(tmp_path, flavor="m1.tinny")
    message = str(result.error)
    assert "flavor 'm1.tinny' not found" in message
    assert "m1.small, m1.tiny" in message and "did you mean 'm1.tiny'?" in message


def test_unknown_source_image_id_lists_names(cloud: FakeOpenStack, tmp_path: Path) -> None:
    result, _, _ = build(tmp_path, source_image="pybuild-base")
    message = str(result.error)
    assert "image 'pybuild-base' not found" in message
    assert "use source_image_name for a name" in message
    assert cloud.live() == NOTHING


def test_source_image_by_name_and_filter(cloud: FakeOpenStack, tmp_path: Path) -> None:
    cloud.add_image("img-old", "deb", tags=("x",), properties={"os": "debian"})
    cloud.add_image("img-new", "deb", tags=("x",), properties={"os": "debian"})
    result, _, _ = build(tmp_path, source_image=None, source_image_name="pybuild-base")
    assert result.error is None, result.error
    result, _, _ = build(
        tmp_path,
        source_image=None,
        source_image_filter={"filters": {"name": "deb", "tags": ["x"]}},
    )
    assert "more than one result" in str(result.error)
    result, _, _ = build(
        tmp_path,
        source_image=None,
        source_image_filter={
            "filters": {"name": "deb", "properties": {"os": "debian"}},
            "most_recent": True,
        },
    )
    assert result.error is None, result.error
    specs = [a for op, a in cloud.calls if op == "create_server"]
    assert specs[-1].image_id == "img-new"
    result, _, _ = build(tmp_path, source_image=None, source_image_name="pybuild-bse")
    message = str(result.error)
    assert "No image was found matching filters" in message
    assert "did you mean 'pybuild-base'?" in message


def test_skip_create_image_makes_no_artifact(cloud: FakeOpenStack, tmp_path: Path) -> None:
    result, sink, _ = build(tmp_path, skip_create_image=True, image_tags=["t"])
    assert result.error is None and result.artifacts == []
    assert "Skipping image creation..." in says(sink)
    assert "create_server_image" not in cloud.ops() and "update_image" not in cloud.ops()


def test_force_delete_and_networks(cloud: FakeOpenStack, tmp_path: Path) -> None:
    result, _, _ = build(
        tmp_path, force_delete=True, networks=["net-a"], ports=["port-b"], security_groups="x,y"
    )
    assert result.error is None, result.error
    (spec,) = [a for op, a in cloud.calls if op == "create_server"]
    assert [(n.uuid, n.port) for n in spec.networks] == [("", "port-b"), ("net-a", "")]
    assert spec.security_groups == ("x", "y")
    assert "force_delete_server" in cloud.ops() and "delete_server" not in cloud.ops()


def test_network_discovery_by_cidr(cloud: FakeOpenStack, tmp_path: Path) -> None:
    result, sink, _ = build(tmp_path, network_discovery_cidrs=["10.0.0.0/16"])
    assert result.error is None, result.error
    (spec,) = [a for op, a in cloud.calls if op == "create_server"]
    assert spec.networks[0].uuid == "priv-net-id"
    assert "Found network ID: priv-net-id" in sink.texts(Message)
