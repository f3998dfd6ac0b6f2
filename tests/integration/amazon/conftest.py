"""A real EC2 endpoint on loopback (moto's server), a seeded source AMI, and a leak check.

Every test here gets AWS_* pointing at the server, and afterwards the endpoint is asked
whether anything the build created is still there: an instance not terminated, a key
pair, a security group, an AMI, or a snapshot no AMI uses.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from tests.integration.conftest import free_port, service_missing

REGIONS = ("us-east-1", "us-west-2", "eu-west-1")
ACCOUNT = "123456789012"
SOURCE_NAME = "debian-12-amd64-20240101"


@dataclass
class MotoServer:
    """moto's ThreadedMotoServer on 127.0.0.1, with the AMI every build starts from."""

    url: str
    source_ami: str = ""

    def client(self, service: str = "ec2", region: str = "us-east-1", **keys: str) -> Any:
        import boto3

        return boto3.client(
            service,
            region_name=region,
            endpoint_url=self.url,
            aws_access_key_id=keys.get("key", "testing"),
            aws_secret_access_key=keys.get("secret", "testing"),
        )

    def inventory(self) -> dict[str, set[str]]:
        """Every instance (not terminated), key pair, group, AMI and snapshot we own."""
        out: dict[str, set[str]] = {}
        for region in REGIONS:
            ec2 = self.client(region=region)
            items: set[str] = set()
            for res in ec2.describe_instances()["Reservations"]:
                for inst in res["Instances"]:
                    if inst["State"]["Name"] != "terminated":
                        items.add(f"instance {inst['InstanceId']} ({inst['State']['Name']})")
            items |= {f"key pair {k['KeyName']}" for k in ec2.describe_key_pairs()["KeyPairs"]}
            items |= {
                f"security group {g['GroupId']} {g['GroupName']}"
                for g in ec2.describe_security_groups()["SecurityGroups"]
            }
            images = ec2.describe_images(Owners=["self"])["Images"]
            items |= {f"image {i['ImageId']} {i.get('Name', '')}" for i in images}
            used = {
                b["Ebs"]["SnapshotId"]
                for i in images
                for b in i.get("BlockDeviceMappings", [])
                if "SnapshotId" in b.get("Ebs", {})
            }
            for snap in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]:
                if snap["SnapshotId"] not in used:
                    items.add(f"orphan snapshot {snap['SnapshotId']}")
            out[region] = items
        return out

    @contextmanager
    def enforce_iam(self) -> Iterator[None]:
        """Inside: moto checks every request against IAM (users' keys and policies)."""
        from moto import settings

        old = settings.INITIAL_NO_AUTH_ACTION_COUNT
        settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
        try:
            yield
        finally:
            settings.INITIAL_NO_AUTH_ACTION_COUNT = old

    def iam_user(self, name: str, deny: list[str]) -> tuple[str, str]:
        """A user allowed ec2:* except `deny`; returns its access key and secret."""
        iam = self.client("iam")
        iam.create_user(UserName=name)
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": ["ec2:*", "sts:*"], "Resource": "*"},
                {"Effect": "Deny", "Action": deny, "Resource": "*"},
            ],
        }
        iam.put_user_policy(UserName=name, PolicyName="build", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return key["AccessKeyId"], key["SecretAccessKey"]


def _seed_source_ami(server: MotoServer) -> str:
    """Register `debian-12-amd64-20240101`: ours, EBS-backed, HVM, tagged."""
    ec2 = server.client()
    ami = ec2.register_image(Name=SOURCE_NAME, Description="seed")["ImageId"]
    ec2.create_tags(Resources=[ami], Tags=[{"Key": "os", "Value": "debian"}])
    # moto's RegisterImage/CreateImage record root-device-type "standard" and no
    # virtualization type; real EC2 says "ebs"/"hvm" here, and amazon-ebs insists on ebs.
    from moto.ec2.models import ec2_backends

    image = ec2_backends[ACCOUNT]["us-east-1"].amis[ami]
    image.root_device_type, image.virtualization_type = "ebs", "hvm"
    return str(ami)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """One moto server for the session; the source AMI is seeded once."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:  # moto itself, or its server extras (flask, werkzeug)
        service_missing("Python package moto[server] missing: pip install 'moto[server]>=5'")

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    saved = os.environ.get("MOTO_EC2_LOAD_DEFAULT_AMIS")
    os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "false"  # ~1200 public AMIs we never use
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        moto = MotoServer(f"http://127.0.0.1:{port}")
        moto.source_ami = _seed_source_ami(moto)
        yield moto
    finally:
        server.stop()
        if saved is None:
            os.environ.pop("MOTO_EC2_LOAD_DEFAULT_AMIS", None)
        else:
            os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = saved


@pytest.fixture
def aws(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoServer]:
    """AWS_* set for the endpoint; fails the test if the build left anything behind."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.url)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask 169.254.169.254
    from builder.amazon.ebs import Builder
    from builder.plugins import registry

    registry.register("builder", "amazon-ebs", Builder)
    before = moto_server.inventory()
    yield moto_server
    after = moto_server.inventory()
    leaked = {r: sorted(after[r] - before[r]) for r in REGIONS if after[r] - before[r]}
    assert leaked == {}, f"the build left resources behind: {leaked}"
