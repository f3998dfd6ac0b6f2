"""The openstack steps one by one on an OpenStackRun over FakeOpenStack: run, check the
fake, clean up, check again — the failure paths too (cleanup leaves alone what it never made).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from builder.components import PluginOptions
from builder.errors import BuildCancelled, BuildError
from builder.events import Message, Say
from builder.ledger import Ledger
from builder.multistep import CancelToken
from builder.openstack.config import OpenStackConfig
from builder.openstack.driver import FloatingIP, OpenStackError, Server
from builder.openstack.run import OpenStackRun, Polling
from builder.openstack.steps import (
    StepAllocateIp,
    StepCreateImage,
    StepCreateVolume,
    StepDetachVolume,
    StepKeyPair,
    StepRunSourceServer,
    StepSourceImageInfo,
    StepStopServer,
    StepWaitForRackConnect,
    server_address,
)
from builder.openstack.steps.host import address_from_pool
from builder.template.funcs import RenderContext
from builder.testing import RecordingSink
from builder.ui import Ui
from tests.unit.openstack.conftest import FAST, base_config
from tests.unit.openstack.fakes import SOURCE_ID, FakeDriver, FakeOpenStack


def make_run(cloud: FakeOpenStack | None = None, debug: bool = False, **over: Any) -> OpenStackRun:
    data = base_config(**over)
    data.pop("type")
    cfg = OpenStackConfig.model_validate(data)
    render = RenderContext(user_vars={}, template_path=None, build_name="b", build_type="openstack")
    cloud = cloud or FakeOpenStack()
    ctx = OpenStackRun(
        ui=Ui(RecordingSink(), "b"),
        cancel=CancelToken(),
        hook=None,  # type: ignore[arg-type]
        options=PluginOptions(build_name="b", build_type="openstack", render=render, debug=debug),
        resources=Ledger.memory("run-1").build("b"),
        config=cfg,
        driver=FakeDriver(cloud),
        polling=FAST,
    )
    ctx.flavor_id, ctx.source_image_id = "1", SOURCE_ID
    return ctx


def cloud_of(ctx: OpenStackRun) -> FakeOpenStack:
    assert isinstance(ctx.driver, FakeDriver)
    return ctx.driver.cloud


def says(ctx: OpenStackRun) -> list[str]:
    sink = ctx.ui.sink
    assert isinstance(sink, RecordingSink)
    return sink.texts(Say)


def messages(ctx: OpenStackRun) -> list[str]:
    sink = ctx.ui.sink
    assert isinstance(sink, RecordingSink)
    return sink.texts(Message)


def launched(ctx: OpenStackRun) -> StepRunSourceServer:
    step = StepRunSourceServer()
    step.run(ctx)
    return step


# ------------------------------------------------------------------ key pair
def test_key_pair_branches() -> None:
    ctx = make_run(communicator="ssh", ssh_username="u", ssh_password="p")
    StepKeyPair("").run(ctx)
    assert says(ctx) == ["Not using temporary keypair"] and ctx.key_pair_name == ""
    ctx = make_run(communicator="ssh", ssh_username="u", ssh_agent_auth=True)
    StepKeyPair("").run(ctx)
    assert says(ctx) == ["Using SSH Agent with key pair in Source image"]
    ctx = make_run(communicator="ssh", ssh_username="u", ssh_agent_auth=True, ssh_keypair_name="k")
    StepKeyPair("").run(ctx)
    assert says(ctx) == ["Using SSH Agent for existing key pair k"] and ctx.key_pair_name == "k"


def test_key_pair_from_a_file_names_the_keypair(tmp_path: Path) -> None:
    from builder.communicator.keygen import generate_key_pair

    key = tmp_path / "id"
    key.write_text(generate_key_pair("ed25519").private_pem)
    ctx = make_run(
        communicator="ssh", ssh_username="u", ssh_keypair_name="mine", ssh_private_key_file=str(key)
    )
    StepKeyPair("").run(ctx)
    assert says(ctx) == ["Using existing SSH private key"] and ctx.key_pair_name == "mine"
    assert cloud_of(ctx).keypairs == {}


def test_temporary_key_pair_cleanup_and_debug_file(tmp_path: Path) -> None:
    ctx = make_run(debug=True, communicator="ssh", ssh_username="u")
    path = tmp_path / "os_b.pem"
    step = StepKeyPair("packer_x", str(path))
    step.run(ctx)
    assert cloud_of(ctx).keypairs.keys() == {"packer_x"} and path.exists()
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    step.cleanup(ctx)
    step.cleanup(ctx)  # twice is safe
    assert cloud_of(ctx).keypairs == {} and not path.exists()
    assert ctx.resources.outstanding() == []


def test_a_refused_key_pair_is_not_left_in_the_ledger() -> None:
    ctx = make_run(communicator="ssh", ssh_username="u")
    cloud_of(ctx).fail["create_keypair"] = OpenStackError("create keypair", "quota", 403)
    step = StepKeyPair("packer_y")
    with pytest.raises(BuildError, match="Error creating temporary keypair"):
        step.run(ctx)
    step.cleanup(ctx)
    assert ctx.resources.outstanding() == [] and "delete_keypair" not in cloud_of(ctx).ops()


def test_an_unanswered_key_pair_create_stays_in_the_ledger() -> None:
    ctx = make_run(communicator="ssh", ssh_username="u")
    cloud_of(ctx).fail["create_keypair"] = OpenStackError("create keypair", "timed out", 0)
    with pytest.raises(BuildError):
        StepKeyPair("packer_z").run(ctx)
    (left,) = ctx.resources.outstanding()
    assert (left.ref, left.name, left.state) == ("openstack.keypair", "packer_z", "creating")


# ------------------------------------------------------------------ server
def test_server_launch_records_before_and_cleanup_waits_for_deletion() -> None:
    ctx = make_run(user_data="#cloud-config", config_drive=True, availability_zone="nova")
    step = launched(ctx)
    cloud = cloud_of(ctx)
    (fake,) = cloud.servers.values()
    assert fake.spec.user_data == b"#cloud-config" and fake.spec.config_drive
    assert fake.spec.availability_zone == "nova"
    assert ctx.server is not None and ctx.server.status == "ACTIVE"
    assert messages(ctx) == [f"Server ID: {ctx.server.id}"]
    step.cleanup(ctx)
    step.cleanup(ctx)
    assert cloud.servers == {} and ctx.resources.outstanding() == []


def test_user_data_file_is_read(tmp_path: Path) -> None:
    data = tmp_path / "ud"
    data.write_bytes(b"\x00binary")
    ctx = make_run(user_data_file=str(data))
    launched(ctx)
    (fake,) = cloud_of(ctx).servers.values()
    assert fake.spec.user_data == b"\x00binary"


def test_cancel_while_waiting_for_active_still_deletes_the_server() -> None:
    ctx = make_run()
    cloud = cloud_of(ctx)
    cloud.build_polls = 10_000
    ctx.polling = Polling(interval=0.001, timeout=60)
    ctx.cancel.cancel()
    step = StepRunSourceServer()
    with pytest.raises(BuildCancelled):
        step.run(ctx)
    step.cleanup(ctx)
    assert cloud.servers == {} and ctx.resources.outstanding() == []


def test_an_active_wait_has_a_deadline() -> None:
    ctx = make_run()
    cloud_of(ctx).build_polls = 10_000
    ctx.polling = Polling(interval=0.001, timeout=0.01)
    step = StepRunSourceServer()
    with pytest.raises(BuildError, match="exceeded wait attempts"):
        step.run(ctx)
    step.cleanup(ctx)
    assert cloud_of(ctx).servers == {}


def test_stop_conflict_goes_on_and_stop_waits_for_shutoff() -> None:
    ctx = make_run()
    launched(ctx)
    StepStopServer().run(ctx)
    assert ctx.server is not None and ctx.server.status == "SHUTOFF"
    assert messages(ctx)[-1] == f"Waiting for server to stop: {ctx.server.id} ..."
    ctx = make_run()
    launched(ctx)
    cloud_of(ctx).stop_conflict = True
    StepStopServer().run(ctx)
    assert ctx.server is not None and ctx.server.status == "ACTIVE"


def test_rackconnect_wait() -> None:
    ctx = make_run(rackconnect_wait=True)
    launched(ctx)
    cloud = cloud_of(ctx)
    fake = cloud.servers[ctx.server_id]
    from dataclasses import replace

    fake.record = replace(fake.record, metadata={"rackconnect_automation_status": "DEPLOYED"})
    StepWaitForRackConnect().run(ctx)
    assert says(ctx)[-1] == f"Waiting for server ({ctx.server_id}) to become RackConnect ready..."


# ------------------------------------------------------------------ volume
def test_volume_from_the_image_size_boot_and_upload() -> None:
    ctx = make_run(
        use_blockstorage_volume=True,
        volume_type="ssd",
        image_disk_format="raw",
        metadata={"os": "deb"},
    )
    cloud = cloud_of(ctx)
    volume = StepCreateVolume("packer_vol")
    volume.run(ctx)
    (vol,) = cloud.volumes.values()
    assert (vol.name, vol.size, vol.status) == ("packer_vol", 1, "available")  # min_disk 1
    assert vol.metadata["pybuild_run_id"] == "run-1" and vol.metadata["os"] == "deb"
    server = launched(ctx)
    (fake,) = cloud.servers.values()
    assert fake.spec.boot_volume_id == vol.id and fake.spec.image_id == ""
    StepStopServer().run(ctx)
    StepDetachVolume("packer_vol").run(ctx)
    image = StepCreateImage()
    image.run(ctx)
    assert ("upload_volume_to_image", (vol.id, "pybuild-unit", "raw")) in cloud.calls
    assert (
        "set_volume_image_metadata",
        (vol.id, {"os": "deb", "image_type": "image"}),
    ) in cloud.calls
    assert cloud.image(ctx.image_id).status == "active"
    image.cleanup(ctx)  # the build succeeded: the image stays
    server.cleanup(ctx)
    volume.cleanup(ctx)
    assert cloud.live()["volumes"] == [] and ctx.image_id in cloud.images
    assert says(ctx)[-1] == f"Deleting volume: {vol.id} ..."


def test_volume_size_from_the_image_bytes_and_a_failed_volume() -> None:
    cloud = FakeOpenStack()
    cloud.add_image("big", "big", size=(3 << 30) + 1)
    ctx = make_run(cloud, use_blockstorage_volume=True)
    ctx.source_image_id = "big"
    StepCreateVolume("v").run(ctx)
    assert [v.size for v in cloud.volumes.values()] == [4]
    ctx = make_run(use_blockstorage_volume=True, volume_size=7)
    cloud_of(ctx).fail["create_volume"] = OpenStackError("create volume", "no cinder", 404)
    step = StepCreateVolume("v")
    with pytest.raises(BuildError, match="Error creating volume"):
        step.run(ctx)
    step.cleanup(ctx)
    assert ctx.resources.outstanding() == []


def test_no_volume_without_use_blockstorage_volume() -> None:
    ctx = make_run()
    step = StepCreateVolume("v")
    step.run(ctx)
    StepDetachVolume("v").run(ctx)
    step.cleanup(ctx)
    assert cloud_of(ctx).calls == []


# ------------------------------------------------------------------ floating IP
def test_floating_ip_not_required() -> None:
    ctx = make_run()
    launched(ctx)
    StepAllocateIp().run(ctx)
    assert messages(ctx)[-1] == "Floating IP not required"


def test_floating_ip_created_associated_and_deleted() -> None:
    ctx = make_run(floating_ip_network="public")
    launched(ctx)
    cloud = cloud_of(ctx)
    step = StepAllocateIp()
    step.run(ctx)
    (ip,) = cloud.floating.values()
    assert ip.port_id == f"port-{ctx.server_id}" and ip.network_id == "ext-net-id"
    assert ip.description == "pybuild_run_id=run-1"
    assert server_address(ctx) == ip.address  # the floating IP before the fixed addresses
    assert messages(ctx)[-1] == f"Added floating IP '{ip.id}' ({ip.address}) to instance!"
    step.cleanup(ctx)
    step.cleanup(ctx)
    assert (
        cloud.floating == {}
        and says(ctx)[-1] == f"Deleted temporary floating IP '{ip.id}' ({ip.address})"
    )


def test_floating_ip_given_or_reused_is_never_deleted() -> None:
    cloud = FakeOpenStack()
    cloud.floating["fip-given"] = FloatingIP("fip-given", "198.51.100.7")
    ctx = make_run(cloud, floating_ip="fip-given")
    launched(ctx)
    step = StepAllocateIp()
    step.run(ctx)
    step.cleanup(ctx)
    assert cloud.floating["fip-given"].port_id  # associated, kept
    cloud.floating["fip-free"] = FloatingIP("fip-free", "198.51.100.8")
    ctx = make_run(cloud, reuse_ips=True)
    launched(ctx)
    step = StepAllocateIp()
    step.run(ctx)
    step.cleanup(ctx)
    assert set(cloud.floating) == {"fip-given", "fip-free"}
    ctx = make_run(cloud, floating_ip="fip-given")
    launched(ctx)
    with pytest.raises(BuildError, match="is already associated with port"):
        StepAllocateIp().run(ctx)


def test_floating_ip_network_must_be_external() -> None:
    from builder.openstack.driver import Network

    cloud = FakeOpenStack()
    cloud.networks["n"] = Network("n", "private", False)
    ctx = make_run(cloud, floating_ip_network="private")
    launched(ctx)
    with pytest.raises(BuildError, match="network private is not external"):
        StepAllocateIp().run(ctx)
    ctx = make_run(cloud, floating_ip_pool="nope")
    launched(ctx)
    with pytest.raises(BuildError, match="network 'nope' not found"):
        StepAllocateIp().run(ctx)


# ------------------------------------------------------------------ addresses
def test_address_rules() -> None:
    from builder.openstack.driver import Address

    server = Server(
        "s",
        addresses=(
            Address("a", "fd00::1", 6),
            Address("b", "10.0.0.1", 4),
            Address("b", "203.0.113.9", 4, "floating"),
        ),
    )
    assert address_from_pool(server, "", "") == "[fd00::1]"
    assert address_from_pool(server, "", "4") == "10.0.0.1"
    assert address_from_pool(server, "b", "6") == "203.0.113.9"  # floating wins in its pool
    assert address_from_pool(server, "c", "") == ""


def test_access_ipv4_before_pool_addresses() -> None:
    from dataclasses import replace

    ctx = make_run()
    launched(ctx)
    assert ctx.server is not None
    ctx.server = replace(ctx.server, access_ipv4="192.0.2.4")
    assert server_address(ctx) == "192.0.2.4"


# ------------------------------------------------------------------ images
def test_external_source_image_is_imported_then_deleted() -> None:
    ctx = make_run(source_image=None, external_source_image_url="http://127.0.0.1:1/disk.img")
    cloud = cloud_of(ctx)
    step = StepSourceImageInfo(external_name="packer_src")
    step.run(ctx)
    image = cloud.image(ctx.source_image_id)
    assert image.name == "packer_src" and image.status == "active"
    assert image.properties["packer_external_source_image_format"] == "qcow2"
    assert ("import_image", (image.id, "http://127.0.0.1:1/disk.img")) in cloud.calls
    step.cleanup(ctx)
    assert image.id not in cloud.images
    assert says(ctx)[-1] == "Deleting temporary external source image: packer_src ..."


def test_create_image_cleanup_deletes_only_after_a_failure() -> None:
    ctx = make_run()
    launched(ctx)
    step = StepCreateImage()
    step.run(ctx)
    image_id = ctx.image_id
    ctx.state.fail(BuildError("later step failed"), False)
    step.cleanup(ctx)
    assert image_id not in cloud_of(ctx).images and ctx.image_id == ""
    assert ctx.resources.outstanding()[0].ref == "openstack.server"
