"""Whole amazon-ebs builds against FakeCloud: the step order, messages, cleanup on every path."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from builder.amazon.common.driver import AwsError
from builder.errors import BuildCancelled
from builder.events import ErrorMessage
from builder.ledger import RUN_TAG
from builder.multistep import CancelToken, OnError
from builder.testing import RecordingSink
from tests.fakes.amazon import FakeCloud
from tests.unit.amazon.conftest import SOURCE, base_config, build

FAKE = {"type": "fake", "label": "p"}


def only_artifacts_left(cloud: FakeCloud) -> None:
    """Nothing temporary remains: no live instance, key pair, group or orphan snapshot."""
    assert cloud.leftovers() == {}


def test_successful_build_runs_packers_steps_and_cleans_up(
    cloud: FakeCloud, tmp_path: Path
) -> None:
    result, sink = build(tmp_path, base_config(tags={"Base": "{{ .SourceAMIName }}"}), [FAKE])
    assert result.error is None, result.error
    (artifact,) = result.artifacts
    ami = artifact.amis["us-east-1"]
    assert artifact.builder_id == "mitchellh.amazonebs"
    assert artifact.id == f"us-east-1:{ami}"
    assert artifact.string() == f"AMIs were created:\nus-east-1: {ami}\n"
    assert artifact.state("generated_data")["SourceAMIName"] == "debian-12-amd64"
    says = sink.texts()
    expected = [
        "Prevalidating any provided VPC information",
        "Found Image ID: ami-0source0",
        "Creating temporary security group for this instance: packer_",
        "Launching a source AWS instance...",
        "Adding tags to source instance",
        'Adding tag: "Name": "Packer Builder"',
        "Waiting for instance (",
        "Stopping the source instance...",
        "Waiting for the instance to stop...",
        "Creating AMI pybuild-test-",
        "Waiting for AMI to become ready...",
        f"Adding tags to AMI ({ami})...",
        'Adding tag: "Base": "debian-12-amd64"',
        "Deleting temporary security group...",
        "Deleting temporary keypair...",
    ]
    positions = [next(i for i, t in enumerate(says) if t.startswith(e)) for e in expected]
    assert positions == sorted(positions), says
    assert any(t.startswith("Terminating the source AWS instance") for t in says)
    assert cloud.regions["us-east-1"].tags[ami] == {"Base": "debian-12-amd64"}
    only_artifacts_left(cloud)
    artifact.destroy()
    assert ami not in cloud.regions["us-east-1"].images
    only_artifacts_left(cloud)


def test_provisioners_see_build_data(cloud: FakeCloud, tmp_path: Path) -> None:
    say = {
        "type": "fake",
        "say": "{{ build `ID` }} {{ build `SourceAMI` }} {{ build `BuildRegion` }}",
    }
    result, sink = build(tmp_path, base_config(), [say])
    assert result.error is None
    instance = next(iter(cloud.regions["us-east-1"].instances))
    assert f"{instance} {SOURCE} us-east-1" in sink.texts()


def test_copy_to_two_regions_and_destroy_everywhere(cloud: FakeCloud, tmp_path: Path) -> None:
    cfg = base_config(ami_regions=["eu-west-1", "us-west-2", "us-east-1"], snapshot_tags={"s": "1"})
    result, sink = build(tmp_path, cfg)
    assert result.error is None, result.error
    (artifact,) = result.artifacts
    assert sorted(artifact.amis) == ["eu-west-1", "us-east-1", "us-west-2"]
    assert artifact.id == ",".join(f"{r}:{artifact.amis[r]}" for r in sorted(artifact.amis))
    assert "Copying to: eu-west-1" in sink.texts() and "Copying to: us-west-2" in sink.texts()
    for region, ami in artifact.amis.items():
        (snap,) = cloud.regions[region].images[ami].snapshot_ids
        assert cloud.regions[region].tags[snap] == {"s": "1"}
    artifact.destroy()
    for region in artifact.amis:
        assert cloud.regions[region].images == (
            {SOURCE: cloud.regions[region].images[SOURCE]} if region == "us-east-1" else {}
        )
        assert not [s for s in cloud.regions[region].snapshots if region != "us-east-1"]
    only_artifacts_left(cloud)


def test_bad_source_ami_fails_before_creating_anything(cloud: FakeCloud, tmp_path: Path) -> None:
    result, _ = build(tmp_path, base_config(source_ami="ami-nope"))
    assert "Error querying AMI: DescribeImages: InvalidAMIID.NotFound" in str(result.error)
    assert "RunInstances" not in cloud.operations()
    only_artifacts_left(cloud)


def test_create_image_failure_cleans_up_everything(cloud: FakeCloud, tmp_path: Path) -> None:
    cloud.fail["CreateImage"] = AwsError("CreateImage", "UnauthorizedOperation", "not allowed")
    result, sink = build(tmp_path, base_config(), [FAKE])
    assert "Error creating AMI: CreateImage: UnauthorizedOperation: not allowed" in str(
        result.error
    )
    assert not [i for i in cloud.regions["us-east-1"].images if i != SOURCE]
    only_artifacts_left(cloud)


def test_failing_provisioner_terminates_the_instance(cloud: FakeCloud, tmp_path: Path) -> None:
    result, sink = build(tmp_path, base_config(), [{**FAKE, "fail_times": 5}])
    assert "p attempt 1 failed" in str(result.error)
    assert "CreateImage" not in cloud.operations()
    only_artifacts_left(cloud)


def test_failed_ami_wait_deregisters_the_recorded_image(cloud: FakeCloud, tmp_path: Path) -> None:
    cloud.on_call["CreateImage"] = lambda _r: setattr(cloud, "pending_polls", 50)
    cloud.on_call["TerminateInstances"] = lambda _r: setattr(cloud, "pending_polls", 1)
    result, sink = build(
        tmp_path, base_config(aws_polling={"delay_seconds": 0.001, "max_attempts": 5})
    )
    assert "Error waiting for" in str(result.error)
    assert "ResourceNotReady: exceeded wait attempts" in str(result.error)
    assert not [i for i in cloud.regions["us-east-1"].images if i != SOURCE]
    only_artifacts_left(cloud)


def test_failure_after_copy_removes_the_copies_too(cloud: FakeCloud, tmp_path: Path) -> None:
    cloud.fail["CreateTags"] = AwsError("CreateTags", "InternalError", "boom")
    result, sink = build(tmp_path, base_config(ami_regions=["us-west-2"], tags={"a": "b"}))
    assert "Error adding tags to Resources" in str(result.error)
    for region in ("us-east-1", "us-west-2"):
        assert [i for i in cloud.regions[region].images if i != SOURCE] == []
    assert (
        "Deregistering the AMI and deleting associated snapshots because of cancellation, or error..."
        in sink.texts()
    )
    only_artifacts_left(cloud)


def test_security_group_delete_retries_dependency_violation(
    cloud: FakeCloud, tmp_path: Path
) -> None:
    busy = AwsError("DeleteSecurityGroup", "DependencyViolation", "in use")
    cloud.fail["DeleteSecurityGroup"] = [busy, busy]
    result, _ = build(tmp_path, base_config())
    assert result.error is None
    assert cloud.operations().count("DeleteSecurityGroup") == 3
    only_artifacts_left(cloud)


def test_cancel_during_provisioning_cleans_up(cloud: FakeCloud, tmp_path: Path) -> None:
    cancel = CancelToken()
    threading.Timer(0.3, cancel.cancel).start()
    started = time.monotonic()
    result, sink = build(tmp_path, base_config(), [{**FAKE, "sleep": "30s"}], cancel=cancel)
    assert time.monotonic() - started < 10
    assert result.cancelled and isinstance(result.error, BuildCancelled)
    assert "CreateImage" not in cloud.operations()
    assert any(t.startswith("Terminating the source AWS instance") for t in sink.texts())
    only_artifacts_left(cloud)


def test_existing_name_fails_prevalidation(cloud: FakeCloud, tmp_path: Path) -> None:
    cloud.add_image("us-east-1", "ami-old", name="taken-name", owner_id="self")
    result, _ = build(tmp_path, base_config(ami_name="taken-name"))
    assert str(result.error) == "Error: AMI Name: 'taken-name' is used by an existing AMI: ami-old"
    assert "RunInstances" not in cloud.operations()


def test_force_deregister_replaces_the_old_ami(cloud: FakeCloud, tmp_path: Path) -> None:
    old = cloud.add_image("us-east-1", "ami-old", name="taken-name", owner_id="self")
    cfg = base_config(ami_name="taken-name", force_deregister=True, force_delete_snapshot=True)
    result, sink = build(tmp_path, cfg)
    assert result.error is None
    assert "Deregistered AMI taken-name, id: ami-old" in sink.texts()
    assert old.snapshot_ids[0] not in cloud.regions["us-east-1"].snapshots
    assert "Force Deregister flag found, skipping prevalidating AMI Name" in sink.texts()


def test_name_from_source_data_is_prevalidated_after_lookup(
    cloud: FakeCloud, tmp_path: Path
) -> None:
    cloud.add_image("us-east-1", "ami-old", name="from-debian-12-amd64", owner_id="self")
    result, sink = build(tmp_path, base_config(ami_name="from-{{ .SourceAMIName }}"))
    assert "is used by an existing AMI: ami-old" in str(result.error)
    cloud.add_image("us-east-1", "ami-colon", name="debian:12", owner_id="amazon")
    cfg = base_config(ami_name="{{ .SourceAMIName }}", source_ami="ami-colon")
    result, sink = build(tmp_path, cfg)
    assert "invalid ami_name 'debian:12': AMIName should only contain" in str(result.error)


def test_skip_create_ami_has_no_artifact(cloud: FakeCloud, tmp_path: Path) -> None:
    result, sink = build(tmp_path, base_config(skip_create_ami=True))
    assert result.error is None and result.artifacts == []
    assert "Skipping AMI creation..." in sink.texts()
    assert "CreateImage" not in cloud.operations()
    only_artifacts_left(cloud)


def test_encrypt_boot_copies_an_intermediary_and_removes_it(
    cloud: FakeCloud, tmp_path: Path
) -> None:
    result, sink = build(tmp_path, base_config(encrypt_boot=True, ami_name="enc-ami"))
    assert result.error is None, result.error
    (artifact,) = result.artifacts
    images = {i: im for i, im in cloud.regions["us-east-1"].images.items() if i != SOURCE}
    assert list(images) == [artifact.amis["us-east-1"]]
    assert images[artifact.amis["us-east-1"]].name == "enc-ami"
    assert (
        "Deregistering the AMI and deleting unencrypted temporary AMIs and snapshots"
        in sink.texts()
    )
    only_artifacts_left(cloud)


def test_skip_save_build_region_keeps_only_copies(cloud: FakeCloud, tmp_path: Path) -> None:
    result, _ = build(tmp_path, base_config(skip_save_build_region=True, ami_regions=["us-west-2"]))
    assert result.error is None, result.error
    (artifact,) = result.artifacts
    assert list(artifact.amis) == ["us-west-2"]
    assert [i for i in cloud.regions["us-east-1"].images if i != SOURCE] == []
    only_artifacts_left(cloud)


def test_attributes_and_launch_permissions(cloud: FakeCloud, tmp_path: Path) -> None:
    cfg = base_config(
        ami_description="from {{ .SourceAMI }}",
        ami_users=["111122223333"],
        ami_groups=["all"],
        snapshot_users=["111122223333"],
    )
    result, sink = build(tmp_path, cfg)
    assert result.error is None
    ami = result.artifacts[0].amis["us-east-1"]
    tags = cloud.regions["us-east-1"].images[ami].tags
    assert tags["__description"] == f"from {SOURCE}"
    assert tags["__users"] == "111122223333" and tags["__groups"] == "all"
    (snap,) = cloud.regions["us-east-1"].images[ami].snapshot_ids
    assert cloud.regions["us-east-1"].snapshots[snap]["users"] == ["111122223333"]
    assert "Modifying: description" in sink.texts()


def test_run_tags_and_volume_tags_are_rendered(cloud: FakeCloud, tmp_path: Path) -> None:
    cfg = base_config(
        run_tags={"Name": "builder in {{ .BuildRegion }}"},
        run_volume_tags={"v": "{{ .SourceAMIOwnerName }}"},
    )
    result, _ = build(tmp_path, cfg)
    (iid,) = cloud.regions["us-east-1"].launches
    spec = cloud.regions["us-east-1"].launches[iid]
    run_id = spec.tags[RUN_TAG]
    assert spec.tags == {"Name": "builder in us-east-1", RUN_TAG: run_id}
    assert spec.volume_tags == {"v": "amazon", RUN_TAG: run_id}


def test_debug_key_is_written_0600_and_removed(
    cloud: FakeCloud, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    seen: dict[str, int] = {}

    def look(_region: str) -> None:
        key = tmp_path / "ec2_amazon-ebs.pem"
        seen["mode"] = key.stat().st_mode & 0o777

    cloud.on_call["RunInstances"] = look
    from tests.fakes.plugins import FakeBuilder  # noqa: F401  (fake plugins registered)

    result, sink = build(tmp_path, base_config(), debug=True)
    assert seen["mode"] == 0o600
    assert not (tmp_path / "ec2_amazon-ebs.pem").exists()


def test_wrong_region_is_reported(cloud: FakeCloud, tmp_path: Path) -> None:
    result, _ = build(tmp_path, base_config(ami_regions=["mars-north-1"]))
    assert "error validating regions: Invalid region(s): [mars-north-1]" in str(result.error)


def test_cleanup_errors_are_reported_not_raised(cloud: FakeCloud, tmp_path: Path) -> None:
    cloud.fail["DeleteKeyPair"] = AwsError("DeleteKeyPair", "InternalError", "x")
    result, sink = build(tmp_path, base_config())
    assert result.error is None
    errors = sink.texts(ErrorMessage)
    assert any(
        "Error cleaning up keypair. Please delete the key manually: packer_" in e for e in errors
    )


def test_ask_retry_of_a_failed_launch_terminates_the_first_instance(
    cloud: FakeCloud, tmp_path: Path
) -> None:
    launches: list[str] = []

    def on_run(_region: str) -> None:
        launches.append(_region)
        cloud.pending_polls = 50 if len(launches) == 1 else 1  # the first never runs

    cloud.on_call["RunInstances"] = on_run
    cloud.on_call["TerminateInstances"] = lambda _r: setattr(cloud, "pending_polls", 1)
    sink = RecordingSink(answers=["r"])
    result, _ = build(tmp_path, base_config(), sink=sink, on_error=OnError.ASK)
    assert result.error is None, result.error
    assert len(cloud.regions["us-east-1"].instances) == 2
    assert any("StepRunSourceInstance" in p for p in sink.prompts)
    result.artifacts[0].destroy()
    only_artifacts_left(cloud)
