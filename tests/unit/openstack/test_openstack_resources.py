"""`pybuild cleanup` for openstack: each kind removed from a dead run's ledger, sweep by run id."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from builder import leftovers
from builder.errors import PybuildError
from builder.ledger import LeftResource
from builder.openstack.driver import FloatingIP, Image, ServerSpec, Volume
from builder.openstack.resources import HANDLER, OpenStackRemover
from tests.unit.openstack.conftest import FAST
from tests.unit.openstack.fakes import FakeDriver, FakeOpenStack


def left(
    kind: str, name: str = "", id: str = "", state: str = "created", **attrs: str
) -> LeftResource:
    return LeftResource("run-1", "b#1", "b", "openstack", kind, name, id, dict(attrs), state)


def remover(cloud: FakeOpenStack) -> OpenStackRemover:
    return OpenStackRemover(FakeDriver(cloud), FAST)


def server(cloud: FakeOpenStack, name: str, run_id: str = "run-1") -> str:
    meta = {"pybuild_run_id": run_id} if run_id else {}
    return FakeDriver(cloud).create_server(ServerSpec(name, "1", metadata=meta))


def test_server_by_id_and_by_name_and_run_id() -> None:
    cloud = FakeOpenStack()
    by_id = server(cloud, "s1")
    assert remover(cloud).remove(left("server", "s1", by_id)) is True
    assert by_id not in cloud.servers
    assert remover(cloud).remove(left("server", "s1", by_id)) is False  # gone
    ours, theirs = server(cloud, "s2"), server(cloud, "s2", run_id="")
    other_run = server(cloud, "s2", run_id="run-2")
    assert remover(cloud).remove(left("server", "s2", state="creating")) is True
    assert ours not in cloud.servers and {theirs, other_run} <= set(cloud.servers)


def test_keypair_volume_floating_ip_image() -> None:
    cloud = FakeOpenStack()
    cloud.keypairs["packer_k"] = "ssh-rsa AAA"
    cloud.volumes["v1"] = Volume("v1", "packer_v", "available", 1, {"pybuild_run_id": "run-1"})
    cloud.volumes["v2"] = Volume("v2", "packer_v", "available", 1, {})
    cloud.floating["f1"] = FloatingIP("f1", "203.0.113.1", description="pybuild_run_id=run-1")
    cloud.floating["f2"] = FloatingIP("f2", "203.0.113.2", description="someone else's")
    cloud.add_image("i1", "made", created_at="2030-01-01T00:00:00Z", status="saving")
    cloud.add_image("i0", "made", created_at="2020-01-01T00:00:00Z")
    r = remover(cloud)
    assert r.remove(left("keypair", "packer_k", state="creating")) is True
    assert r.remove(left("keypair", "packer_k")) is False
    assert r.remove(left("volume", "packer_v", state="creating")) is True
    assert set(cloud.volumes) == {"v2"}
    assert r.remove(left("floating_ip", state="creating", network="n")) is True
    assert set(cloud.floating) == {"f2"}
    not_before = "2025-01-01T00:00:00Z"
    assert r.remove(left("image", "made", state="creating", not_before=not_before)) is True
    assert "i1" not in cloud.images and "i0" in cloud.images  # the older one is never ours
    assert r.remove(left("image", "made", "i0")) is True
    with pytest.raises(PybuildError, match="unknown openstack resource kind"):
        r.remove(left("router"))


def test_sweep_finds_servers_volumes_and_ips_by_run_id() -> None:
    cloud = FakeOpenStack()
    s = server(cloud, "s")
    server(cloud, "untagged", run_id="")
    cloud.volumes["v1"] = Volume("v1", "v", "available", 1, {"pybuild_run_id": "run-9"})
    cloud.floating["f1"] = FloatingIP("f1", description="pybuild_run_id=run-8")
    found = {(r.kind, r.id, r.run_id) for r in remover(cloud).sweep()}
    assert found == {
        ("server", s, "run-1"),
        ("volume", "v1", "run-9"),
        ("floating_ip", "f1", "run-8"),
    }


def test_handler_opens_from_the_recorded_settings_with_the_password_from_env(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from builder.openstack.driver import OPENSTACK

    cloud = FakeOpenStack()
    monkeypatch.setenv("OS_PASSWORD", "from-env")
    with OPENSTACK.override(cloud.factory):
        with HANDLER.open({"identity_endpoint": "http://127.0.0.1:5000/v3", "username": "u"}, None):
            pass
    assert cloud.settings is not None and cloud.settings.password == "from-env"
    assert cloud.closed == 1
    with pytest.raises(PybuildError, match="no OpenStack cloud to clean up in"):
        with HANDLER.open({}, None):
            pass


def test_cleanup_of_a_dead_runs_ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ledger as a killed build leaves it: the server created, the image not confirmed."""
    from builder.openstack import run as os_run
    from builder.openstack.driver import OPENSTACK

    monkeypatch.setattr(os_run, "DEFAULT_POLLING", FAST)
    cloud = FakeOpenStack()
    srv = server(cloud, "srv", run_id="dead-1")
    cloud.keypairs["packer_k"] = "ssh-rsa AAA"
    records: list[dict[str, Any]] = [
        {"rec": "run", "run": "dead-1", "pid": 1, "host": "h", "template": "", "time": 1.0},
        {"rec": "platform", "build": "b", "platform": "openstack",
         "settings": {"cloud": "local"}},
        {"rec": "create", "rid": "b#1", "build": "b", "platform": "openstack",
         "kind": "keypair", "name": "packer_k"},
        {"rec": "created", "rid": "b#1", "build": "b", "platform": "openstack",
         "kind": "keypair", "id": "packer_k"},
        {"rec": "create", "rid": "b#2", "build": "b", "platform": "openstack",
         "kind": "server", "name": "srv"},
        {"rec": "created", "rid": "b#2", "build": "b", "platform": "openstack",
         "kind": "server", "id": srv},
    ]  # fmt: skip
    (tmp_path / "dead-1.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    with OPENSTACK.override(cloud.factory):
        report = leftovers.cleanup(state_dir=str(tmp_path))
    assert [(line.ref, line.outcome) for line in report.lines] == [
        ("openstack.server", "removed"),
        ("openstack.keypair", "removed"),
    ]
    assert cloud.live()["servers"] == [] and cloud.keypairs == {}
    assert cloud.settings is not None and cloud.settings.cloud == "local"
    assert not (tmp_path / "dead-1.jsonl").exists()


def test_images_found_by_any_status_for_cleanup() -> None:
    cloud = FakeOpenStack()
    cloud.add_image("q", "queued-one", status="queued")
    from builder.openstack.driver import ImageQuery

    driver = FakeDriver(cloud)
    assert driver.find_images(ImageQuery(name="queued-one")) == []
    assert [i.id for i in driver.find_images(ImageQuery(name="queued-one"), any_status=True)] == [
        "q"
    ]
    assert isinstance(cloud.image("q"), Image)
