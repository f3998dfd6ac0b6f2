"""amazon-ebs for real: boto3 over HTTP to moto's server, SSH provisioning to a loopback sshd.

moto's instances have no OS, so `ssh_host`/`ssh_port` send the communicator to an sshd
test host instead; every EC2 call, wait and cleanup is the real flow. After each test the
`aws` fixture asks the endpoint that nothing the build made is left.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

import pytest

from builder.errors import BuildCancelled
from builder.ledger import RUN_TAG
from builder.multistep import CancelToken
from tests.integration.amazon.conftest import (
    SOURCE_NAME,
    ApiRecorder,
    CancellingSink,
    MotoServer,
    ebs,
    go,
    over_ssh,
)


def in_order(operations: list[str], *expected: str) -> bool:
    """Each of `expected` was called, the first call of each in this order."""
    firsts = [operations.index(op) for op in expected]
    return firsts == sorted(firsts)


def test_build_provisions_over_ssh_and_registers_the_ami(
    aws: MotoServer, api: ApiRecorder, sshd_host: Any, tmp_path: Path
) -> None:
    host = sshd_host()
    builder = over_ssh(
        host,
        tags={"Name": "pybuild {{ .SourceAMIName }}", "Region": "{{ .BuildRegion }}"},
        snapshot_tags={"Kind": "root"},
        run_tags={"Owner": "ci"},
    )
    shell = {
        "type": "shell",
        "inline": [
            "echo 'from {{ build `SourceAMI` }} on {{ build `ID` }}' > /tmp/pybuild-marker",
            "echo provisioned as $(id -un)",
        ],
    }
    started = time.monotonic()
    result, sink = go(tmp_path, builder, [shell])
    elapsed = time.monotonic() - started
    assert result.error is None, result.error
    (artifact,) = result.artifacts
    ami = artifact.amis["us-east-1"]
    assert artifact.id == f"us-east-1:{ami}"
    texts = sink.texts()
    assert f"Using ssh communicator to connect: {host.host}" in texts
    assert f"provisioned as {host.user}" in texts
    assert any(t.startswith("Creating temporary keypair: packer_it_") for t in texts)
    code, marker = host.exec("cat /tmp/pybuild-marker")
    assert code == 0 and marker.startswith(f"from {aws.source_ami} on i-"), marker
    ec2 = aws.client()
    (image,) = ec2.describe_images(ImageIds=[ami])["Images"]
    tags = {t["Key"]: t["Value"] for t in image["Tags"]}
    assert tags == {"Name": f"pybuild {SOURCE_NAME}", "Region": "us-east-1"}
    (snap,) = [b["Ebs"]["SnapshotId"] for b in image["BlockDeviceMappings"] if "Ebs" in b]
    (snapshot,) = ec2.describe_snapshots(SnapshotIds=[snap])["Snapshots"]
    assert {t["Key"]: t["Value"] for t in snapshot["Tags"]}["Kind"] == "root"
    assert elapsed < 60, f"a build against a local endpoint took {elapsed:.1f} s"
    (launch,) = api.params("RunInstances")
    specs = {s["ResourceType"]: s["Tags"] for s in launch["TagSpecifications"]}
    run_tag = specs["volume"][-1]
    assert run_tag["Key"] == RUN_TAG and run_tag["Value"]
    assert specs == {
        "instance": [
            {"Key": "Name", "Value": "Packer Builder"},
            {"Key": "Owner", "Value": "ci"},
            run_tag,
        ],
        "volume": [run_tag],
    }
    assert launch["ClientToken"]
    for create, kind in (("CreateKeyPair", "key-pair"), ("CreateSecurityGroup", "security-group")):
        (params,) = api.params(create)
        assert params["TagSpecifications"] == [{"ResourceType": kind, "Tags": [run_tag]}]
    assert "TagSpecifications" not in api.params("CreateImage")[0]
    assert RUN_TAG not in tags
    ops = api.operations()
    assert in_order(
        ops,
        "DescribeRegions",  # pre-validate: regions, then the AMI name
        "DescribeImages",  # ... and the source AMI
        "CreateKeyPair",
        "CreateSecurityGroup",
        "AuthorizeSecurityGroupIngress",
        "RunInstances",
        "DescribeInstances",  # wait running; connect and provision happen here
        "StopInstances",
        "CreateImage",
        "CreateTags",
        "TerminateInstances",
        "DeleteSecurityGroup",
        "DeleteKeyPair",
    ), ops
    assert ops.index("StopInstances") > ops.index("RunInstances") + 1
    artifact.destroy()
    assert (
        ec2.describe_images(Owners=["self"], Filters=[{"Name": "image-id", "Values": [ami]}])[
            "Images"
        ]
        == []
    )


def test_copy_to_two_regions(aws: MotoServer, api: ApiRecorder, tmp_path: Path) -> None:
    builder = ebs(
        ami_regions=["us-west-2", "eu-west-1"],
        tags={"From": "{{ .BuildRegion }}"},
        ami_users=["111122223333"],
    )
    result, sink = go(tmp_path, builder)
    assert result.error is None, result.error
    (artifact,) = result.artifacts
    assert sorted(artifact.amis) == ["eu-west-1", "us-east-1", "us-west-2"]
    assert artifact.id == ",".join(f"{r}:{artifact.amis[r]}" for r in sorted(artifact.amis))
    assert artifact.string().startswith("AMIs were created:\neu-west-1: ami-")
    names = set()
    for region, ami in artifact.amis.items():
        ec2 = aws.client(region=region)
        (image,) = ec2.describe_images(ImageIds=[ami])["Images"]
        names.add(image["Name"])
        assert {t["Key"]: t["Value"] for t in image.get("Tags", [])} == {"From": "us-east-1"}
        users = ec2.describe_image_attribute(ImageId=ami, Attribute="launchPermission")
        assert users["LaunchPermissions"] == [{"UserId": "111122223333"}], region
    assert len(names) == 1 and names.pop().startswith("pybuild-it-")
    calls = api.counts()
    assert calls["CopyImage"] == 2
    assert sum(calls.values()) <= 40, calls
    ops = api.operations()
    # copy and wait, then attributes, then tags (Packer's order)
    assert in_order(ops, "CreateImage", "CopyImage", "ModifyImageAttribute", "CreateTags"), ops
    assert max(i for i, op in enumerate(ops) if op == "CopyImage") < ops.index(
        "ModifyImageAttribute"
    )
    artifact.destroy()


def test_bad_source_ami_fails_clearly(aws: MotoServer, tmp_path: Path) -> None:
    builder = ebs(source_ami="ami-0000000000deadbee")
    del builder["source_ami_filter"]
    result, sink = go(tmp_path, builder)
    assert str(result.error).startswith("Error querying AMI: DescribeImages: InvalidAMIID.NotFound")
    assert not any(t.startswith("Launching a source AWS instance") for t in sink.texts())


def test_failing_provisioner_leaves_nothing(
    aws: MotoServer, sshd_host: Any, tmp_path: Path
) -> None:
    host = sshd_host()
    result, sink = go(
        tmp_path, over_ssh(host), [{"type": "shell", "inline": ["echo about to fail", "exit 1"]}]
    )
    assert "Script exited with non-zero exit status: 1" in str(result.error)
    texts = sink.texts()
    assert "Terminating the source AWS instance..." in texts
    assert "Deleting temporary security group..." in texts
    assert "Deleting temporary keypair..." in texts
    assert not any(t.startswith("Creating AMI") for t in texts)


def test_image_creation_denied_by_iam(aws: MotoServer, tmp_path: Path) -> None:
    key, secret = aws.iam_user(f"builder-{secrets.token_hex(3)}", deny=["ec2:CreateImage"])
    builder = ebs(access_key="{{ user `key` }}", secret_key="{{ user `secret` }}")
    with aws.enforce_iam():
        result, sink = go(
            tmp_path,
            builder,
            variables={"key": key, "secret": secret},
            **{"sensitive-variables": ["secret"]},
        )
    message = str(result.error)
    assert message.startswith("Error creating AMI: CreateImage: AccessDenied:"), message
    assert "is not authorized to perform: ec2:CreateImage" in message
    texts = sink.texts()
    assert "Terminating the source AWS instance..." in texts
    assert not any(secret in t for t in texts)


def test_ctrl_c_during_provisioning(aws: MotoServer, sshd_host: Any, tmp_path: Path) -> None:
    host = sshd_host()
    cancel = CancelToken()
    sink = CancellingSink(cancel, "Provisioning with shell script")
    started = time.monotonic()
    result, _ = go(tmp_path, over_ssh(host), [{"type": "shell", "inline": ["sleep 120"]}], sink)
    assert time.monotonic() - started < 60
    assert result.cancelled and isinstance(result.error, BuildCancelled)
    texts = sink.texts()
    assert "Terminating the source AWS instance..." in texts
    assert not any(t.startswith("Creating AMI") for t in texts)
    deadline = time.monotonic() + 10
    while host.exec("pgrep -x sleep")[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert host.exec("pgrep -x sleep")[0] != 0, "the remote command outlived the cancel"


def test_custom_endpoint_and_static_keys(
    aws: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    builder = ebs(
        custom_endpoint_ec2=aws.url,
        access_key="testing",
        secret_key="testing",
        max_retries=2,
        aws_polling={"delay_seconds": 1, "max_attempts": 5},
    )
    result, _ = go(tmp_path, builder)
    assert result.error is None, result.error
    result.artifacts[0].destroy()


def test_leak_check_sees_leftovers(aws: MotoServer) -> None:
    ec2 = aws.client(region="eu-west-1")
    before = aws.inventory()
    ec2.create_key_pair(KeyName="left-behind")
    group = ec2.create_security_group(GroupName="left-behind", Description="x")["GroupId"]
    try:
        after = aws.inventory()
        assert after["eu-west-1"] - before["eu-west-1"] == {
            "key pair left-behind",
            f"security group {group} left-behind",
        }
    finally:
        ec2.delete_key_pair(KeyName="left-behind")
        ec2.delete_security_group(GroupId=group)


def test_existing_key_pair_and_private_key_file(
    aws: MotoServer, sshd_host: Any, ssh_keypair: Any, tmp_path: Path
) -> None:
    key = ssh_keypair("rsa", "pem")
    host = sshd_host(password=None, authorized_keys=[key.public_line])
    ec2 = aws.client()
    name = f"ci-key-{secrets.token_hex(3)}"
    ec2.import_key_pair(KeyName=name, PublicKeyMaterial=key.public_line.encode())
    try:
        builder = ebs(
            communicator="ssh",
            ssh_host=host.host,
            ssh_port=host.port,
            ssh_username=host.user,
            ssh_keypair_name=name,
            ssh_private_key_file=str(key.private_path),
            ssh_timeout="30s",
        )
        result, sink = go(tmp_path, builder, [{"type": "shell", "inline": ["echo key-ok"]}])
        assert result.error is None, result.error
        texts = sink.texts()
        assert "Using existing SSH private key" in texts and "key-ok" in texts
        assert not any(t.startswith("Creating temporary keypair") for t in texts)
        reservations = ec2.describe_instances(Filters=[{"Name": "key-name", "Values": [name]}])[
            "Reservations"
        ]
        assert [i["KeyName"] for r in reservations for i in r["Instances"]] == [name]
        result.artifacts[0].destroy()
    finally:
        ec2.delete_key_pair(KeyName=name)
