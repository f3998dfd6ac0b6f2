"""Single amazon steps and helpers against FakeCloud: run, check, cleanup, check again."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from builder.amazon.common.config import BlockDevice
from builder.amazon.common.driver import (
    AMAZON,
    Attachment,
    AwsError,
    Instance,
    SessionSettings,
    Subnet,
    Vpc,
)
from builder.amazon.common.polling import Polling
from builder.amazon.common.run import AmazonRun
from builder.amazon.common.shapes import api_device, api_filters, image_of, instance_of
from builder.amazon.common.steps import (
    StepAMIRegionCopy,
    StepCleanupVolumes,
    StepKeyPair,
    StepNetworkInfo,
    StepPreValidate,
    StepSecurityGroup,
    StepSourceAMIInfo,
    instance_host,
)
from builder.amazon.common.steps.helpers import user_data_bytes
from builder.amazon.ebs.config import EbsConfig
from builder.common.wait import OBSERVERS, WaitFailed, wait_until
from builder.components import PluginOptions
from builder.errors import BuildCancelled, BuildError
from builder.ledger import Ledger
from builder.multistep import CancelToken
from builder.template.funcs import RenderContext
from builder.testing import RecordingSink
from builder.ui import Ui
from tests.fakes.amazon import FakeCloud
from tests.unit.amazon.conftest import SOURCE, base_config


def make_ctx(cloud: FakeCloud, **overrides: Any) -> tuple[AmazonRun, RecordingSink]:
    raw = {k: v for k, v in base_config(**overrides).items() if k != "type"}
    sink = RecordingSink()
    ctx = AmazonRun(
        ui=Ui(sink, "amazon-ebs"),
        cancel=CancelToken(),
        hook=None,  # type: ignore[arg-type]
        options=PluginOptions("amazon-ebs", "amazon-ebs", RenderContext()),
        resources=Ledger.memory("run-1").build("amazon-ebs"),
        config=EbsConfig.model_validate(raw),
        driver=cloud.driver("us-east-1"),
        polling=Polling(0.001, 20),
    )
    return ctx, sink


@pytest.fixture
def fake() -> FakeCloud:
    cloud = FakeCloud()
    cloud.add_image(
        "us-east-1",
        SOURCE,
        name="debian-12",
        owner_id="amazon",
        creation_date="2024-01-01T00:00:00.000Z",
    )
    return cloud


def test_source_ami_filter_most_recent(fake: FakeCloud) -> None:
    fake.add_image(
        "us-east-1",
        "ami-newer",
        name="debian-13",
        owner_id="amazon",
        creation_date="2025-01-01T00:00:00.000Z",
    )
    flt = {"filters": {"name": "debian-*"}, "owners": ["amazon"]}
    ctx, _ = make_ctx(fake, source_ami="", source_ami_filter=flt)
    with pytest.raises(BuildError, match="more than one result"):
        StepSourceAMIInfo().run(ctx)
    ctx, sink = make_ctx(fake, source_ami="", source_ami_filter={**flt, "most_recent": True})
    StepSourceAMIInfo().run(ctx)
    assert ctx.source_image is not None and ctx.source_image.id == "ami-newer"
    assert "Found Image ID: ami-newer" in sink.texts()
    ctx, _ = make_ctx(
        fake, source_ami="", source_ami_filter={"filters": {"name": "x*"}, "owners": ["amazon"]}
    )
    with pytest.raises(
        BuildError,
        match=r"No AMI was found matching filters: \{Owners: \[amazon\]; Filters: name=x\*\}",
    ):
        StepSourceAMIInfo().run(ctx)


def test_enhanced_networking_needs_hvm(fake: FakeCloud) -> None:
    fake.add_image(
        "us-east-1", "ami-pv", name="pv", owner_id="amazon", virtualization_type="paravirtual"
    )
    ctx, _ = make_ctx(fake, source_ami="ami-pv", sriov_support=True)
    with pytest.raises(BuildError, match="source AMI 'ami-pv' is not HVM"):
        StepSourceAMIInfo().run(ctx)


def test_prevalidate_rejects_non_default_vpc_without_subnet(fake: FakeCloud) -> None:
    fake.regions["us-east-1"].vpcs["vpc-9"] = Vpc("vpc-9", is_default=False)
    ctx, _ = make_ctx(fake, vpc_id="vpc-9")
    with pytest.raises(
        BuildError,
        match=r"subnet_id or subnet_filter must be provided for non-default VPCs \(vpc-9\)",
    ):
        StepPreValidate().run(ctx)


def test_network_info_picks_the_most_free_subnet(fake: FakeCloud) -> None:
    region = fake.regions["us-east-1"]
    region.subnets = {
        "subnet-a": Subnet("subnet-a", "vpc-1", "us-east-1a", 10),
        "subnet-b": Subnet("subnet-b", "vpc-1", "us-east-1b", 99),
    }
    ctx, sink = make_ctx(fake, subnet_filter={"filters": {"tag:x": "y"}})
    with pytest.raises(BuildError, match="Your filter matched 2 Subnets"):
        StepNetworkInfo().run(ctx)
    ctx, sink = make_ctx(fake, subnet_filter={"filters": {"tag:x": "y"}, "most_free": True})
    StepNetworkInfo().run(ctx)
    assert (ctx.subnet_id, ctx.vpc_id, ctx.availability_zone) == ("subnet-b", "vpc-1", "us-east-1b")
    assert "Found Subnet ID: subnet-b" in sink.texts()


def test_key_pair_and_group_cleanup_after_partial_runs(fake: FakeCloud) -> None:
    ctx, sink = make_ctx(fake)
    key, group = StepKeyPair("packer_test"), StepSecurityGroup()
    key.cleanup(ctx)  # never ran: nothing to undo
    group.cleanup(ctx)
    assert fake.calls == []
    key.run(ctx)
    assert ctx.ssh_key is not None and ctx.key_pair_name == "packer_test"
    group.run(ctx)
    assert fake.regions["us-east-1"].groups[ctx.security_group_ids[0]]["ingress"] == []  # none
    group.cleanup(ctx)
    key.cleanup(ctx)
    group.cleanup(ctx)  # twice is safe
    key.cleanup(ctx)
    assert fake.leftovers() == {}
    assert sink.texts().count("Deleting temporary keypair...") == 1


def test_security_group_opens_the_ssh_port(fake: FakeCloud) -> None:
    ctx, sink = make_ctx(
        fake,
        communicator="ssh",
        ssh_username="u",
        ssh_port=2222,
        temporary_security_group_source_cidrs=["10.0.0.0/8", "192.0.2.0/24"],
    )
    StepSecurityGroup().run(ctx)
    (gid,) = ctx.security_group_ids
    assert fake.regions["us-east-1"].groups[gid]["ingress"] == [
        (2222, ["10.0.0.0/8", "192.0.2.0/24"])
    ]
    assert (
        "Authorizing access to port 2222 from [10.0.0.0/8 192.0.2.0/24] in the temporary "
        "security groups..."
    ) in sink.texts()


def test_given_security_group_must_exist(fake: FakeCloud) -> None:
    ctx, _ = make_ctx(fake, security_group_id="sg-missing")
    with pytest.raises(BuildError, match="Couldn't find specified security group"):
        StepSecurityGroup().run(ctx)


def test_instance_host_by_interface(fake: FakeCloud) -> None:
    ctx, _ = make_ctx(fake)
    ctx.instance = Instance(
        "i-1",
        "running",
        vpc_id="vpc-1",
        public_ip="198.51.100.1",
        private_ip="10.0.0.1",
        public_dns="pub.example",
        private_dns="priv.example",
    )
    assert instance_host("")(ctx) == "198.51.100.1"
    assert instance_host("private_dns")(ctx) == "priv.example"
    ctx.instance = Instance("i-1", "running", public_dns="pub.example")
    assert instance_host("")(ctx) == "pub.example"
    fake.regions["us-east-1"].instances["i-2"] = Instance("i-2", "running")
    ctx.instance = Instance("i-2", "running")
    with pytest.raises(BuildError, match="couldn't determine address for instance"):
        instance_host("public_ip", pause=0)(ctx)


def test_user_data_is_sent_raw_or_decoded() -> None:
    assert user_data_bytes("#!/bin/sh\necho hi\n") == b"#!/bin/sh\necho hi\n"
    assert user_data_bytes("aGVsbG8=") == b"hello"
    assert user_data_bytes("") == b""


def test_cleanup_volumes_deletes_only_leftovers(fake: FakeCloud) -> None:
    ctx, sink = make_ctx(
        fake, launch_block_device_mappings=[{"device_name": "/dev/sdb", "volume_size": 1}]
    )
    region = fake.regions["us-east-1"]
    region.volumes = {"vol-root": "available", "vol-b": "available", "vol-busy": "in-use"}
    ctx.instance = Instance(
        "i-1",
        volumes=(
            Attachment("/dev/sda1", "vol-root"),
            Attachment("/dev/sdb", "vol-b"),
            Attachment("/dev/sdc", "vol-busy"),
        ),
    )
    StepCleanupVolumes().cleanup(ctx)
    assert region.volumes == {"vol-b": "available", "vol-busy": "in-use"}
    assert "Destroying volume (vol-root)..." in sink.texts()


def test_region_copy_failure_removes_the_other_copies(fake: FakeCloud) -> None:
    ctx, _ = make_ctx(fake, ami_regions=["us-west-2", "eu-west-1"])
    ami = fake.add_image("us-east-1", "ami-built", name="n", owner_id="self")
    ctx.amis, ctx.ami_name = {"us-east-1": ami.id}, "n"
    real = fake.driver("eu-west-1").copy_image

    def failing(self: Any, *args: Any) -> str:
        if self.region == "eu-west-1":
            raise AwsError("CopyImage", "InvalidRequest", "no")
        return real.__func__(self, *args)  # type: ignore[attr-defined]

    pytest.MonkeyPatch().setattr(type(fake.driver()), "copy_image", failing)
    step = StepAMIRegionCopy()
    with pytest.raises(
        BuildError,
        match=r"1 error\(s\) occurred:\n\n\* Error Copying AMI \(ami-built\) to region \(eu-west-1\)",
    ):
        step.run(ctx)
    assert len(fake.regions["us-west-2"].images) == 1
    ctx.state.fail(BuildError("copy failed"), cancelled=False)
    step.cleanup(ctx)
    assert fake.regions["us-west-2"].images == {} and fake.regions["us-west-2"].snapshots == {}


def test_wait_honours_cancel_and_attempts() -> None:
    records: list[Any] = []
    OBSERVERS.append(records.append)
    try:
        cancel = CancelToken()
        threading.Timer(0.1, cancel.cancel).start()
        started = time.monotonic()
        with pytest.raises(BuildCancelled):
            wait_until("image_available", lambda: None, Polling(30, 10), cancel)
        assert time.monotonic() - started < 5
        with pytest.raises(WaitFailed, match="exceeded wait attempts"):
            wait_until("image_available", lambda: None, Polling(0, 3), CancelToken())
        assert wait_until("image_available", lambda: "done", Polling(5, 3), CancelToken()) == "done"
    finally:
        OBSERVERS.remove(records.append)
    assert [(r.polls, r.ok) for r in records] == [(1, False), (3, False), (1, True)]


def test_api_shapes() -> None:
    dev = BlockDevice(
        device_name="/dev/sdb",
        volume_type="io1",
        volume_size=10,
        iops=300,
        delete_on_termination=True,
        encrypted=True,
        kms_key_id="alias/k",
    )
    assert api_device(dev) == {
        "DeviceName": "/dev/sdb",
        "Ebs": {
            "DeleteOnTermination": True,
            "VolumeType": "io1",
            "VolumeSize": 10,
            "Iops": 300,
            "Encrypted": True,
            "KmsKeyId": "alias/k",
        },
    }
    assert api_device(BlockDevice(device_name="/dev/sdc", no_device=True)) == {
        "DeviceName": "/dev/sdc",
        "NoDevice": "",
    }
    assert api_device(BlockDevice(device_name="xvdb", virtual_name="ephemeral0")) == {
        "DeviceName": "xvdb",
        "VirtualName": "ephemeral0",
    }
    assert api_filters({"name": "a*", "tag:x": ["1", "2"]}) == [
        {"Name": "name", "Values": ["a*"]},
        {"Name": "tag:x", "Values": ["1", "2"]},
    ]
    image = image_of(
        {
            "ImageId": "ami-1",
            "Name": "n",
            "State": "available",
            "Tags": [{"Key": "k", "Value": "v"}],
            "BlockDeviceMappings": [
                {"DeviceName": "/dev/sda1", "Ebs": {"SnapshotId": "snap-1"}},
                {"DeviceName": "x", "VirtualName": "ephemeral0"},
            ],
        }
    )
    assert image.snapshot_ids == ("snap-1",) and image.tags == {"k": "v"}
    inst = instance_of(
        {
            "InstanceId": "i-1",
            "State": {"Name": "running"},
            "BlockDeviceMappings": [{"DeviceName": "/dev/sda1", "Ebs": {"VolumeId": "vol-1"}}],
        }
    )
    assert inst.volumes == (Attachment("/dev/sda1", "vol-1"),) and inst.state == "running"


def test_artifact_destroy_collects_errors(fake: FakeCloud, tmp_path: Path) -> None:
    from builder.amazon.common.artifact import AmiArtifact

    a = fake.add_image("us-east-1", "ami-a", name="a", owner_id="self")
    settings = SessionSettings(region="us-east-1")
    art = AmiArtifact("mitchellh.amazonebs", {"us-east-1": a.id, "us-west-2": "ami-gone"}, settings)
    assert art.state("atlas.artifact.metadata") == {
        "region.us-east-1": "ami-a",
        "region.us-west-2": "ami-gone",
    }
    with AMAZON.override(fake.factory), pytest.raises(BuildError, match="InvalidAMIID.NotFound"):
        art.destroy()
    assert "ami-a" not in fake.regions["us-east-1"].images
    assert a.snapshot_ids[0] not in fake.regions["us-east-1"].snapshots
    assert fake.opened == [settings] and fake.closed == 1  # its own driver, closed again
