"""amazon-ebs and the resource ledger against FakeCloud: records, run id tags, driver closing,
and `pybuild cleanup` (the library) finishing what an aborted build left."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from builder.amazon.common.driver import AwsError, LaunchSpec, SessionSettings
from builder.amazon.common.polling import Polling
from builder.amazon.common.resources import HANDLER, AmazonRemover
from builder.ledger import RUN_TAG, LeftResource, read_run, run_files
from builder.leftovers import cleanup
from builder.multistep import CancelToken, OnError
from tests.fakes.amazon import FakeCloud
from tests.unit.amazon.conftest import SOURCE, base_config, build

FAKE = {"type": "fake", "label": "p"}
FAILING = {**FAKE, "fail_times": 5}


def ledger_of(state: Path) -> Any:
    """The one run ledger left in `state` (read back as `pybuild cleanup` reads it)."""
    (path,) = run_files(state)
    return read_run(path)


def test_success_leaves_no_ledger_and_no_run_tag_on_the_ami(
    cloud: FakeCloud, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    result, _ = build(tmp_path, base_config(tags={"a": "b"}), [FAKE], state_dir=str(state))
    assert result.error is None, result.error
    assert run_files(state) == []  # everything released, the AMI kept
    region = cloud.regions["us-east-1"]
    (ami,) = [i for i in region.images if i != SOURCE]
    assert region.tags[ami] == {"a": "b"}
    (snap,) = region.images[ami].snapshot_ids
    assert RUN_TAG not in region.tags.get(snap, {})
    (iid,) = region.launches
    run_id = region.tags[iid][RUN_TAG]
    (vol,) = [v.volume_id for v in region.instances[iid].volumes]
    assert region.tags[vol][RUN_TAG] == run_id
    assert region.launches[iid].client_token
    assert cloud.closed == len(cloud.opened) == 1


@pytest.mark.parametrize("fault", ["none", "failure", "cancel"])
def test_the_driver_is_closed_whatever_happens(
    cloud: FakeCloud, tmp_path: Path, fault: str
) -> None:
    cancel = CancelToken()
    provisioner = {**FAKE, "sleep": "30s"} if fault == "cancel" else FAKE
    if fault == "failure":
        cloud.fail["CreateImage"] = AwsError("CreateImage", "UnauthorizedOperation", "no")
    if fault == "cancel":
        threading.Timer(0.3, cancel.cancel).start()
    result, _ = build(tmp_path, base_config(), [provisioner], cancel=cancel)
    assert (result.error is None) == (fault == "none")
    assert len(cloud.opened) == 1 and cloud.closed == 1
    assert cloud.leftovers() == {}


def test_failed_cleanup_leaves_exactly_that_in_the_ledger(cloud: FakeCloud, tmp_path: Path) -> None:
    state = tmp_path / "state"
    cloud.fail["DeleteKeyPair"] = AwsError("DeleteKeyPair", "InternalError", "x")
    result, _ = build(tmp_path, base_config(), state_dir=str(state))
    assert result.error is None
    run = ledger_of(state)
    assert [(r.kind, r.state) for r in run.outstanding()] == [("key_pair", "created")]
    kinds = {(r.kind, r.state) for r in run.resources}
    assert ("image", "kept") in kinds and ("snapshot", "kept") in kinds
    assert ("instance", "released") in kinds and ("security_group", "released") in kinds
    assert run.settings[("amazon-ebs", "amazon")]["region"] == "us-east-1"
    assert "secret_key" not in run.settings[("amazon-ebs", "amazon")]
    del cloud.fail["DeleteKeyPair"]
    report = cleanup(state_dir=str(state))
    assert [(line.ref, line.outcome) for line in report.lines] == [("amazon.key_pair", "removed")]
    assert run_files(state) == [] and cloud.leftovers() == {}


def test_cleanup_finishes_an_aborted_build(cloud: FakeCloud, tmp_path: Path) -> None:
    """-on-error=abort skips every cleanup: the ledger knows what is left, cleanup removes it."""
    state = tmp_path / "state"
    cfg = base_config(ami_regions=["us-west-2"], tags={"a": "b"})
    cloud.fail["CreateTags"] = AwsError("CreateTags", "InternalError", "boom")
    result, _ = build(tmp_path, cfg, [FAKE], state_dir=str(state), on_error=OnError.ABORT)
    assert "Error adding tags" in str(result.error)
    assert len(cloud.leftovers()["us-east-1"]) == 4  # instance, key pair, group, volume
    assert cloud.regions["us-west-2"].images, "the copy is there to be removed"
    del cloud.fail["CreateTags"]
    before = len(cloud.opened)
    report = cleanup(state_dir=str(state))
    assert report.ok, report.lines
    outcomes = {line.ref: line.outcome for line in report.lines}
    assert outcomes["amazon.instance"] == "removed"
    assert outcomes["amazon.security_group"] == "removed"
    assert outcomes["amazon.key_pair"] == "removed"
    assert cloud.leftovers() == {}
    assert [i for i in cloud.regions["us-east-1"].images if i != SOURCE] == []
    assert cloud.regions["us-west-2"].images == {}
    assert run_files(state) == []
    assert cloud.closed == len(cloud.opened) > before  # the remover closed its driver too
    assert cleanup(state_dir=str(state)).lines == []  # twice is safe


def test_lasting_volumes_are_recorded_and_deleted(cloud: FakeCloud, tmp_path: Path) -> None:
    cloud.root_delete_on_termination = False  # the source AMI's root outlives the instance
    state = tmp_path / "state"
    result, sink = build(tmp_path, base_config(), state_dir=str(state))
    assert result.error is None, result.error
    assert any(t.startswith("Destroying volume (vol-") for t in sink.texts())
    assert run_files(state) == [] and cloud.leftovers() == {}


def test_lasting_volume_of_an_aborted_build_goes_with_its_instance(
    cloud: FakeCloud, tmp_path: Path
) -> None:
    cloud.root_delete_on_termination = False
    state = tmp_path / "state"
    result, _ = build(
        tmp_path, base_config(), [FAILING], state_dir=str(state), on_error=OnError.ABORT
    )
    assert result.error is not None
    report = cleanup(state_dir=str(state))
    assert report.ok, report.lines
    assert [line.ref for line in report.lines][:2] == ["amazon.volume", "amazon.instance"]
    assert cloud.leftovers() == {}


def remover(cloud: FakeCloud) -> AmazonRemover:
    return AmazonRemover(cloud.driver("us-east-1"), Polling(0.001, 20))


def left(
    kind: str, name: str = "", id: str = "", run_id: str = "run-1", **attrs: str
) -> LeftResource:
    state = "created" if id else "creating"
    return LeftResource(run_id, "b#1", "b", "amazon", kind, name, id, attrs, state)


def test_resources_recorded_before_their_create_returned_are_found_by_what_makes_them_ours(
    cloud: FakeCloud,
) -> None:
    """A kill between the create call and the ledger's id: the tag, the token, the name."""
    d, tags = cloud.driver("us-east-1"), {RUN_TAG: "run-1"}
    iid = d.run_instance(LaunchSpec(SOURCE, "t2.micro", client_token="tok-1", tags=tags))
    other = d.run_instance(LaunchSpec(SOURCE, "t2.micro", client_token="tok-2", tags=tags))
    d.create_key_pair("packer_mine", "rsa", tags)
    d.create_key_pair("packer_users", "rsa", {})  # a pair of that name that is not ours
    gid = d.create_security_group("packer_g", "x", "", tags)
    r = remover(cloud)
    assert r.remove(left("instance", "tok-1")) is True
    region = cloud.regions["us-east-1"]
    assert region.instances[iid].state == "terminated"
    assert region.instances[other].state == "pending"  # another launch of the run: not this one
    assert r.remove(left("instance", "tok-1")) is False
    assert r.remove(left("key_pair", "packer_users")) is False
    assert "packer_users" in region.key_pairs
    assert r.remove(left("key_pair", "packer_mine")) is True
    assert r.remove(left("security_group", "packer_g")) is True and gid not in region.groups
    old = cloud.add_image("us-east-1", "ami-old", name="same-name", owner_id="self",
                          creation_date="2020-01-01T00:00:00.000Z")  # fmt: skip
    assert r.remove(left("image", "same-name", not_before="2024-06-01T00:00:00Z")) is False
    assert old.id in region.images  # an older AMI of the same name is never touched
    new = cloud.add_image("us-east-1", "ami-new", name="same-name", owner_id="self",
                          creation_date="2024-06-01T00:00:10.000Z")  # fmt: skip
    assert r.remove(left("image", "same-name", not_before="2024-06-01T00:00:00Z")) is True
    assert new.id not in region.images and new.snapshot_ids[0] not in region.snapshots


def test_a_snapshot_still_used_by_its_ami(cloud: FakeCloud) -> None:
    image = cloud.add_image("us-east-1", "ami-1", name="n", owner_id="self")
    (snap,) = image.snapshot_ids
    cloud.fail["DeleteSnapshot"] = [AwsError("DeleteSnapshot", "InvalidSnapshot.InUse", "ami-1")]
    r = remover(cloud)
    assert r.remove(left("snapshot", snap, snap, image="ami-1")) is True
    assert cloud.regions["us-east-1"].images.keys() == {SOURCE}
    assert r.remove(left("image", "n", "ami-1")) is True  # removed, by this cleanup
    assert r.remove(left("snapshot", snap, snap, image="ami-1")) is False
    assert remover(cloud).remove(left("image", "n", "ami-1")) is False  # a later cleanup


def test_sweep_finds_tagged_resources_of_any_run(cloud: FakeCloud) -> None:
    d = cloud.driver("us-east-1")
    iid = d.run_instance(LaunchSpec(SOURCE, "t2.micro", client_token="t", tags={RUN_TAG: "r1"}))
    d.run_instance(LaunchSpec(SOURCE, "t2.micro", client_token="u"))  # untagged: not ours
    gid = d.create_security_group("packer_g", "x", "", {RUN_TAG: "r2"})
    d.create_key_pair("packer_k", "rsa", {RUN_TAG: "r2"})
    d.create_key_pair("someone-elses", "rsa", {})
    found = [(r.run_id, r.kind, r.id) for r in remover(cloud).sweep()]
    assert found == [
        ("r1", "instance", iid),
        ("r2", "security_group", gid),
        ("r2", "key_pair", "packer_k"),
    ]


def test_handler_opens_a_driver_from_recorded_settings(
    cloud: FakeCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    with HANDLER.open({"region": "eu-west-1", "role_policy_arns": ["a"]}, None) as r:
        assert r.driver.region == "eu-west-1"
    assert cloud.opened[-1] == SessionSettings(region="eu-west-1", role_policy_arns=("a",))
    assert cloud.closed == 1
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    full = SessionSettings(region="us-east-1", access_key="AKIA", secret_key="s")
    with HANDLER.open({}, full) as r:
        assert cloud.opened[-1] is full
    with HANDLER.open({}, None) as r:
        assert r.driver.region == "us-west-2"
