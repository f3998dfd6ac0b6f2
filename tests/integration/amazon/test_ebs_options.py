"""Each amazon-ebs option reaches EC2: builds against moto's server, then the endpoint is asked.

Where moto accepts a parameter but does not model it (CreditSpecification, product codes,
an image description set by ModifyImageAttribute, CreateImage's block device mappings,
ENA/SR-IOV on an instance, CopyImage's encryption), the request the driver sent is checked
instead (the `api` recorder, botocore's own events). The `aws` fixture checks that nothing
the build made is left behind.
"""

from __future__ import annotations

import base64
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from builder.ledger import RUN_TAG
from builder.multistep import CancelToken
from tests.integration.amazon.conftest import (
    SOURCE_NAME,
    ApiRecorder,
    CancellingSink,
    MotoServer,
    delete_network,
    destroy_amis,
    ebs,
    go,
)


def tagged(name: str, value: str) -> list[dict[str, Any]]:
    return [{"Name": f"tag:{name}", "Values": [value]}]


def instance_tagged(aws: MotoServer, token: str) -> dict[str, Any]:
    """The one instance (terminated or not) carrying run tag Token=token."""
    reservations = aws.client().describe_instances(Filters=tagged("Token", token))["Reservations"]
    (instance,) = [i for r in reservations for i in r["Instances"]]
    return instance


def groups_of(instance: dict[str, Any]) -> list[str]:
    """The instance's security groups (moto files them under the primary interface too)."""
    found = {g["GroupId"] for g in instance.get("SecurityGroups", [])}
    for nic in instance.get("NetworkInterfaces", []):
        found |= {g["GroupId"] for g in nic.get("Groups", [])}
    return sorted(found)


def test_network_and_launch_options_reach_run_instances(
    aws: MotoServer, api: ApiRecorder, tmp_path: Path
) -> None:
    ec2, iam, token = aws.client(), aws.client("iam"), secrets.token_hex(4)
    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    subnets = {
        az: ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=az)["Subnet"]["SubnetId"]
        for az, cidr in (("us-east-1a", "10.77.1.0/24"), ("us-east-1b", "10.77.2.0/24"))
    }
    group = ec2.create_security_group(GroupName=f"ci-{token}", Description="ci", VpcId=vpc)
    ec2.create_tags(
        Resources=[vpc, *subnets.values(), group["GroupId"]],
        Tags=[{"Key": "Name", "Value": f"ci-{token}"}],
    )
    profile = f"ci-profile-{token}"
    iam.create_instance_profile(InstanceProfileName=profile)
    user_data = tmp_path / "user-data.sh"
    user_data.write_text("#!/bin/sh\necho hello from user_data_file\n")
    builder = ebs(
        source_ami=aws.source_ami,
        source_ami_filter={},
        vpc_filter={"filters": {"tag:Name": f"ci-{token}"}},
        subnet_filter={"filters": {"tag:Name": f"ci-{token}"}},
        availability_zone="us-east-1b",
        security_group_filter={"filters": {"tag:Name": f"ci-{token}"}},
        associate_public_ip_address=True,
        iam_instance_profile=profile,
        user_data_file=str(user_data),
        ebs_optimized=True,
        enable_t2_unlimited=True,
        shutdown_behavior="terminate",
        launch_block_device_mappings=[
            {
                "device_name": "/dev/sdb",
                "volume_size": 7,
                "volume_type": "gp3",
                "delete_on_termination": True,
            },
            {"device_name": "/dev/sdc", "volume_size": 3, "volume_type": "gp2"},
        ],
        run_tags={"Token": token, "Source": "{{ .SourceAMIName }}"},
        run_volume_tags={"Token": token, "Region": "{{ .BuildRegion }}"},
        skip_create_ami=True,
    )
    running: list[dict[str, Any]] = []

    def look() -> None:  # at the endpoint, while the instance runs
        inst = instance_tagged(aws, token)
        ids = [m["Ebs"]["VolumeId"] for m in inst["BlockDeviceMappings"]]
        running.append({**inst, "Volumes": ec2.describe_volumes(VolumeIds=ids)["Volumes"]})

    sink = CancellingSink(CancelToken(), "Stopping the source instance...", look, delay=None)
    try:
        result, _ = go(tmp_path, builder, sink=sink)
        assert result.error is None, result.error
        assert result.artifacts == []
        (seen,) = running  # as the endpoint saw the instance before the build stopped it
        assert seen["State"]["Name"] == "running"
        assert seen.get("PublicIpAddress"), "associate_public_ip_address gave no public IP"
        volumes = seen["Volumes"]
        assert sorted(
            (v["Attachments"][0]["Device"], v["Size"], v["VolumeType"]) for v in volumes
        ) == [("/dev/sdb", 7, "gp3"), ("/dev/sdc", 3, "gp2")]
        run_id = next(t["Value"] for t in volumes[0]["Tags"] if t["Key"] == RUN_TAG)
        for volume in volumes:
            tags = {t["Key"]: t["Value"] for t in volume["Tags"]}
            assert tags == {"Token": token, "Region": "us-east-1", RUN_TAG: run_id}
        inst = instance_tagged(aws, token)
        assert inst["State"]["Name"] == "terminated"
        assert inst["ImageId"] == aws.source_ami and inst["InstanceType"] == "t2.micro"
        assert (inst["VpcId"], inst["SubnetId"]) == (vpc, subnets["us-east-1b"])
        assert inst["Placement"]["AvailabilityZone"] == "us-east-1b"
        assert groups_of(seen) == [group["GroupId"]]
        assert seen["IamInstanceProfile"]["Arn"].endswith(f":instance-profile/{profile}")
        assert inst["EbsOptimized"] is True
        tags = {t["Key"]: t["Value"] for t in inst["Tags"]}
        assert tags == {
            "Name": "Packer Builder",
            "Token": token,
            "Source": SOURCE_NAME,
            RUN_TAG: run_id,
        }
        attribute = ec2.describe_instance_attribute
        raw = attribute(InstanceId=inst["InstanceId"], Attribute="userData")["UserData"]["Value"]
        assert base64.b64decode(raw).decode() == user_data.read_text()
        shutdown = attribute(
            InstanceId=inst["InstanceId"], Attribute="instanceInitiatedShutdownBehavior"
        )
        assert shutdown["InstanceInitiatedShutdownBehavior"]["Value"] == "terminate"
        # delete_on_termination false (the default): Packer leaves that launch volume
        (kept,) = ec2.describe_volumes(Filters=tagged("Token", token))["Volumes"]
        assert (kept["Size"], kept["State"]) == (3, "available")
        ec2.delete_volume(VolumeId=kept["VolumeId"])
        (launch,) = api.params("RunInstances")
        assert launch["CreditSpecification"] == {"CpuCredits": "unlimited"}
        assert "CreateSecurityGroup" not in api.operations()
        assert "CreateImage" not in api.operations()
        texts = sink.texts()
        assert f"Found VPC ID: {vpc}" in texts
        assert f"Found Subnet ID: {subnets['us-east-1b']}" in texts
        assert f"Found Security Group(s): {group['GroupId']}" in texts
    finally:
        iam.delete_instance_profile(InstanceProfileName=profile)
        delete_network(aws, vpc)


def test_given_ids_and_inline_user_data(aws: MotoServer, api: ApiRecorder, tmp_path: Path) -> None:
    ec2, token = aws.client(), secrets.token_hex(4)
    vpc = ec2.create_vpc(CidrBlock="10.78.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.78.1.0/24", AvailabilityZone="us-east-1c")
    subnet_id = subnet["Subnet"]["SubnetId"]
    groups = [
        ec2.create_security_group(GroupName=f"ci-{token}-{i}", Description="ci", VpcId=vpc)[
            "GroupId"
        ]
        for i in range(2)
    ]
    builder = ebs(
        vpc_id=vpc,
        subnet_id=subnet_id,
        security_group_ids=groups,
        user_data="#cloud-config\nruncmd: [echo hi]\n",
        run_tags={"Name": "custom name", "Token": token},
        skip_create_ami=True,
    )
    try:
        result, _ = go(tmp_path, builder)
        assert result.error is None, result.error
        inst = instance_tagged(aws, token)
        assert (inst["VpcId"], inst["SubnetId"]) == (vpc, subnet_id)
        assert inst["Placement"]["AvailabilityZone"] == "us-east-1c"
        assert groups_of(inst) == sorted(groups)
        assert "PublicIpAddress" not in inst  # associate_public_ip_address defaults to false
        assert inst["EbsOptimized"] is False
        assert {t["Key"]: t["Value"] for t in inst["Tags"]}["Name"] == "custom name"
        raw = ec2.describe_instance_attribute(InstanceId=inst["InstanceId"], Attribute="userData")
        assert base64.b64decode(raw["UserData"]["Value"]) == b"#cloud-config\nruncmd: [echo hi]\n"
        shutdown = ec2.describe_instance_attribute(
            InstanceId=inst["InstanceId"], Attribute="instanceInitiatedShutdownBehavior"
        )
        assert shutdown["InstanceInitiatedShutdownBehavior"]["Value"] == "stop"
        (launch,) = api.params("RunInstances")
        assert "CreditSpecification" not in launch and "NetworkInterfaces" not in launch
    finally:
        delete_network(aws, vpc)


def test_image_options_reach_the_image_and_its_snapshots(
    aws: MotoServer, api: ApiRecorder, tmp_path: Path
) -> None:
    account = "111122223333"
    builder = ebs(
        ami_description="Built from {{ .SourceAMI }} in {{ .BuildRegion }}",
        ami_users=[account],
        ami_groups=["all"],
        ami_product_codes=["pc0123456789abcdef"],
        snapshot_users=[account],
        snapshot_groups=["all"],
        ami_block_device_mappings=[
            {"device_name": "/dev/sdd", "volume_size": 4, "volume_type": "gp2"},
            {"device_name": "/dev/sde", "no_device": True},
        ],
        ena_support=True,
        sriov_support=True,
        tags={"Name": "img {{ .SourceAMIName }}", "Region": "{{ .BuildRegion }}"},
        snapshot_tags={"Kind": "root of {{ .SourceAMI }}"},
    )
    result, _ = go(tmp_path, builder)
    assert result.error is None, result.error
    (artifact,) = result.artifacts
    ami = artifact.amis["us-east-1"]
    ec2 = aws.client()
    try:
        (image,) = ec2.describe_images(ImageIds=[ami])["Images"]
        assert {t["Key"]: t["Value"] for t in image["Tags"]} == {
            "Name": f"img {SOURCE_NAME}",
            "Region": "us-east-1",
        }
        permissions = ec2.describe_image_attribute(ImageId=ami, Attribute="launchPermission")
        assert sorted(map(str, permissions["LaunchPermissions"])) == sorted(
            [str({"Group": "all"}), str({"UserId": account})]
        )
        (snap,) = [m["Ebs"]["SnapshotId"] for m in image["BlockDeviceMappings"] if "Ebs" in m]
        (snapshot,) = ec2.describe_snapshots(SnapshotIds=[snap])["Snapshots"]
        assert {t["Key"]: t["Value"] for t in snapshot["Tags"]} == {
            "Name": f"img {SOURCE_NAME}",
            "Region": "us-east-1",
            "Kind": f"root of {aws.source_ami}",
        }
        volume_permissions = ec2.describe_snapshot_attribute(
            SnapshotId=snap, Attribute="createVolumePermission"
        )["CreateVolumePermissions"]
        assert sorted(map(str, volume_permissions)) == sorted(
            [str({"Group": "all"}), str({"UserId": account})]
        )
        modifications = api.params("ModifyImageAttribute")
        assert {
            "ImageId": ami,
            "Description": {"Value": f"Built from {aws.source_ami} in us-east-1"},
        } in modifications
        assert {"ImageId": ami, "ProductCodes": ["pc0123456789abcdef"]} in modifications
        (create,) = api.params("CreateImage")
        assert create["BlockDeviceMappings"] == [
            {
                "DeviceName": "/dev/sdd",
                "Ebs": {"DeleteOnTermination": False, "VolumeType": "gp2", "VolumeSize": 4},
            },
            {"DeviceName": "/dev/sde", "NoDevice": ""},
        ]
        instance_changes = api.params("ModifyInstanceAttribute")
        assert {k: v for c in instance_changes for k, v in c.items() if k != "InstanceId"} == {
            "SriovNetSupport": {"Value": "simple"},
            "EnaSupport": {"Value": True},
        }
        ops = api.operations()
        assert ops.index("StopInstances") < ops.index("ModifyInstanceAttribute")
        assert ops.index("ModifyInstanceAttribute") < ops.index("CreateImage")
    finally:
        artifact.destroy()


def test_encrypted_copies_with_kms_keys(aws: MotoServer, api: ApiRecorder, tmp_path: Path) -> None:
    home_key = aws.client("kms").create_key(Description="build region")["KeyMetadata"]
    west = aws.client("kms", region="us-west-2")
    west_key = west.create_key(Description="copy region")["KeyMetadata"]["KeyId"]
    alias = f"alias/pybuild-it-{secrets.token_hex(3)}"
    west.create_alias(AliasName=alias, TargetKeyId=west_key)
    builder = ebs(
        encrypt_boot=True,
        kms_key_id=home_key["Arn"],
        ami_regions=["us-west-2"],
        region_kms_key_ids={"us-west-2": alias},
        launch_block_device_mappings=[
            {
                "device_name": "/dev/sdb",
                "volume_size": 2,
                "delete_on_termination": True,
                "encrypted": True,
                "kms_key_id": home_key["KeyId"],
            }
        ],
    )
    result, sink = go(tmp_path, builder)
    assert result.error is None, result.error
    (artifact,) = result.artifacts
    try:
        assert sorted(artifact.amis) == ["us-east-1", "us-west-2"]
        (created,) = api.params("CreateImage")
        temporary = created["Name"]
        assert len(temporary) == 7 and not temporary.startswith("pybuild-it-")
        copies = {c["SourceRegion"] + ">" + c["KmsKeyId"]: c for c in api.params("CopyImage")}
        assert sorted(copies) == [f"us-east-1>{alias}", f"us-east-1>{home_key['Arn']}"]
        assert all(c["Encrypted"] is True for c in copies.values())
        final_name = next(iter(copies.values()))["Name"]
        assert final_name.startswith("pybuild-it-")
        for region, ami in artifact.amis.items():
            (image,) = aws.client(region=region).describe_images(ImageIds=[ami])["Images"]
            assert image["Name"] == final_name
        # the unencrypted intermediary AMI and its snapshot are gone (and the leak check agrees)
        assert (
            aws.client().describe_images(Filters=[{"Name": "name", "Values": [temporary]}])[
                "Images"
            ]
            == []
        )
        assert "Deregistering the AMI and deleting unencrypted temporary AMIs and snapshots" in (
            sink.texts()
        )
        (launch,) = api.params("RunInstances")
        assert launch["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] is True
        assert launch["BlockDeviceMappings"][0]["Ebs"]["KmsKeyId"] == home_key["KeyId"]
    finally:
        artifact.destroy()


def test_force_deregister_and_force_delete_snapshot(aws: MotoServer, tmp_path: Path) -> None:
    name = f"pybuild-it-fixed-{secrets.token_hex(4)}"
    ec2 = aws.client()

    def by_name() -> list[dict[str, Any]]:
        images = ec2.describe_images(Owners=["self"], Filters=[{"Name": "name", "Values": [name]}])
        return list(images["Images"])

    def snapshot_of(image: dict[str, Any]) -> str:
        return next(m["Ebs"]["SnapshotId"] for m in image["BlockDeviceMappings"] if "Ebs" in m)

    first, _ = go(tmp_path, ebs(ami_name=name))
    assert first.error is None, first.error
    (old,) = by_name()

    taken, sink = go(tmp_path, ebs(ami_name=name))
    assert str(taken.error) == (
        f"Error: AMI Name: '{name}' is used by an existing AMI: {old['ImageId']}"
    )
    assert not any(t.startswith("Launching a source AWS instance") for t in sink.texts())

    kept_snapshot, _ = go(tmp_path, ebs(ami_name=name, force_deregister=True))
    assert kept_snapshot.error is None, kept_snapshot.error
    (middle,) = by_name()
    assert middle["ImageId"] != old["ImageId"]
    # without force_delete_snapshot the old AMI's snapshot stays, as in Packer
    (orphan,) = ec2.describe_snapshots(SnapshotIds=[snapshot_of(old)])["Snapshots"]
    ec2.delete_snapshot(SnapshotId=orphan["SnapshotId"])

    replaced, sink = go(
        tmp_path, ebs(ami_name=name, force_deregister=True, force_delete_snapshot=True)
    )
    assert replaced.error is None, replaced.error
    (new,) = by_name()
    assert new["ImageId"] == replaced.artifacts[0].amis["us-east-1"]
    texts = sink.texts()
    assert f"Deregistered AMI {name}, id: {middle['ImageId']}" in texts
    assert f"Deleted snapshot: {snapshot_of(middle)}" in texts
    snapshots = ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]
    assert snapshot_of(middle) not in {s["SnapshotId"] for s in snapshots}
    replaced.artifacts[0].destroy()


def test_disable_stop_instance_waits_for_someone_else_to_stop_it(
    aws: MotoServer, api: ApiRecorder, tmp_path: Path
) -> None:
    token = secrets.token_hex(4)
    ec2 = aws.client()

    def stop_it() -> None:  # what a provisioner's `shutdown` would do on a real instance
        ec2.stop_instances(InstanceIds=[instance_tagged(aws, token)["InstanceId"]])

    sink = CancellingSink(
        CancelToken(), "Automatic instance stop disabled. Please stop instance manually.", stop_it
    )
    builder = ebs(
        disable_stop_instance=True,
        run_tags={"Token": token},
        aws_polling={"delay_seconds": 0.5, "max_attempts": 40},
    )
    result, _ = go(tmp_path, builder, sink=sink)
    assert result.error is None, result.error
    assert "StopInstances" not in api.operations()
    assert "Waiting for the instance to stop..." in sink.texts()
    destroy_amis(aws, result.artifacts[0].amis)


def test_source_ami_filter_most_recent(aws: MotoServer, tmp_path: Path) -> None:
    from moto.ec2.models import ec2_backends

    ec2 = aws.client()
    family = f"pybuild-src-{secrets.token_hex(3)}"
    ids = []
    for month, suffix in ((1, "a"), (3, "b"), (2, "c")):
        ami = ec2.register_image(Name=f"{family}-{suffix}", Description="src")["ImageId"]
        image = ec2_backends["123456789012"]["us-east-1"].amis[ami]
        image.root_device_type, image.virtualization_type = "ebs", "hvm"
        image.creation_date = datetime(2024, month, 1, tzinfo=UTC)
        ids.append(ami)
    source = {"filters": {"name": f"{family}-*"}, "owners": ["self"]}
    try:
        ambiguous, _ = go(tmp_path, ebs(source_ami_filter=source, skip_create_ami=True))
        assert str(ambiguous.error).startswith("Your query returned more than one result.")
        newest, sink = go(
            tmp_path,
            ebs(source_ami_filter={**source, "most_recent": True}, skip_create_ami=True),
        )
        assert newest.error is None, newest.error
        assert f"Found Image ID: {ids[1]}" in sink.texts()
        owned_by_other, _ = go(
            tmp_path,
            ebs(source_ami_filter={**source, "owners": ["999988887777"]}, skip_create_ami=True),
        )
        assert str(owned_by_other.error).startswith("No AMI was found matching filters:")
    finally:
        for ami in ids:
            destroy_amis(aws, {"us-east-1": ami})


def test_unknown_copy_region_fails_before_launch_unless_validation_skipped(
    aws: MotoServer, api: ApiRecorder, tmp_path: Path
) -> None:
    result, _ = go(tmp_path, ebs(ami_regions=["mars-north-1"]))
    assert str(result.error).startswith(
        "error validating regions: Invalid region(s): [mars-north-1], available regions: ["
    )
    assert "RunInstances" not in api.operations()
    skipped, _ = go(tmp_path, ebs(skip_region_validation=True, skip_create_ami=True))
    assert skipped.error is None, skipped.error
    assert api.counts()["DescribeRegions"] == 1  # only the first build asked


def test_aws_polling_bounds_a_wait_that_never_ends(
    aws: MotoServer, api: ApiRecorder, tmp_path: Path
) -> None:
    # nobody stops the instance: the stop wait polls max_attempts times, delay_seconds apart
    builder = ebs(disable_stop_instance=True, aws_polling={"delay_seconds": 0.3, "max_attempts": 3})
    result, sink = go(tmp_path, builder)
    assert str(result.error) == (
        "Error waiting for instance to stop: ResourceNotReady: exceeded wait attempts"
    )
    ops = api.operations()
    after_stop_wait = ops[ops.index("RunInstances") :]
    polls = after_stop_wait[: after_stop_wait.index("TerminateInstances")]
    assert polls.count("DescribeInstances") == 1 + 3  # running (at once), then the stop wait
    assert "Terminating the source AWS instance..." in sink.texts()


def test_cancel_during_a_wait_is_prompt(aws: MotoServer, tmp_path: Path) -> None:
    cancel = CancelToken()
    sink = CancellingSink(cancel, "Waiting for the instance to stop...")
    builder = ebs(disable_stop_instance=True, aws_polling={"delay_seconds": 30, "max_attempts": 20})
    started = time.monotonic()
    result, _ = go(tmp_path, builder, sink=sink)
    assert result.cancelled, result.error
    assert time.monotonic() - started < 10
    assert "Terminating the source AWS instance..." in sink.texts()


def test_copy_denied_removes_the_image_already_made(aws: MotoServer, tmp_path: Path) -> None:
    key, secret = aws.iam_user(f"builder-{secrets.token_hex(3)}", deny=["ec2:CopyImage"])
    builder = ebs(access_key=key, secret_key=secret, ami_regions=["us-west-2"])
    with aws.enforce_iam():
        result, sink = go(tmp_path, builder)
    message = str(result.error)
    assert message.startswith("1 error(s) occurred:\n\n* Error Copying AMI (ami-"), message
    assert "to region (us-west-2): CopyImage: AccessDenied: User: arn:aws:iam::" in message
    texts = sink.texts()
    assert (
        "Deregistering the AMI and deleting associated snapshots because of cancellation, "
        "or error..." in texts
    )
    assert "Terminating the source AWS instance..." in texts
