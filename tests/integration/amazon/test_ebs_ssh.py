"""amazon-ebs's own way in: the temporary key pair and security group, and `ssh_interface`.

The build launches into a moto subnet inside 127.0.0.0/8, so the instance's private IP is a
loopback address; the sshd test host listens on every address of that subnet, and a stand-in
for cloud-init puts the key pair the instance was launched with into authorized_keys. No
`ssh_host`: the communicator goes where the instance's address says.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest

from builder.amazon.common.driver import SessionSettings
from builder.amazon.common.sdk import make_driver
from builder.amazon.common.steps import instance_address
from builder.multistep import CancelToken
from tests.integration.amazon.conftest import (
    ApiRecorder,
    MotoServer,
    cloud_init_keys,
    delete_network,
    ebs,
    go,
    loopback_network,
)


@pytest.mark.parametrize("interface", ["", "private_ip"])
def test_temporary_key_pair_and_group_over_the_instance_address(
    interface: str, aws: MotoServer, api: ApiRecorder, sshd_host: Any, tmp_path: Path
) -> None:
    vpc, subnet, addresses = loopback_network(aws, f"ci-{secrets.token_hex(3)}")
    listen = "\n".join(f"ListenAddress {a}" for a in ["127.0.0.1", *addresses])
    host = sshd_host(password=None, extra_config=listen)
    builder = ebs(
        communicator="ssh",
        ssh_username=host.user,
        ssh_port=host.port,
        ssh_timeout="30s",
        ssh_interface=interface,
        subnet_id=subnet,
        temporary_security_group_source_cidrs=["127.0.0.0/8", "::1/128"],
    )
    shell = {"type": "shell", "inline": ["echo reached ${SSH_CONNECTION#* * } as $(id -un)"]}
    try:
        with cloud_init_keys(aws, host):
            result, sink = go(tmp_path, builder, [shell])
        assert result.error is None, result.error
        (launch,) = api.params("RunInstances")
        (key,) = api.params("CreateKeyPair")
        assert key["KeyName"].startswith("packer_") and launch["KeyName"] == key["KeyName"]
        assert [d["KeyName"] for d in api.params("DeleteKeyPair")] == [key["KeyName"]]
        (group,) = api.params("CreateSecurityGroup")
        assert group["VpcId"] == vpc and group["GroupName"].startswith("packer_")
        (ingress,) = api.params("AuthorizeSecurityGroupIngress")
        (permission,) = ingress["IpPermissions"]
        assert (permission["FromPort"], permission["ToPort"]) == (host.port, host.port)
        assert permission["IpRanges"] == [{"CidrIp": "127.0.0.0/8"}]
        assert permission["Ipv6Ranges"] == [{"CidrIpv6": "::1/128"}]
        reservations = aws.client().describe_instances(
            Filters=[{"Name": "key-name", "Values": [key["KeyName"]]}]
        )["Reservations"]
        (instance,) = [i for r in reservations for i in r["Instances"]]
        private_ip = instance["PrivateIpAddress"]
        assert private_ip in addresses
        texts = sink.texts()
        assert f"Using ssh communicator to connect: {private_ip}" in texts
        assert f"reached {private_ip} {host.port} as {host.user}" in texts
        assert f"Creating temporary keypair: {key['KeyName']}" in texts
        assert "Deleting temporary keypair..." in texts
        assert "Deleting temporary security group..." in texts
        result.artifacts[0].destroy()
    finally:
        delete_network(aws, vpc)


def test_ssh_interface_picks_the_address_moto_reports(aws: MotoServer) -> None:
    ec2 = aws.client()
    vpc = ec2.create_vpc(CidrBlock="10.79.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.79.1.0/24")["Subnet"]["SubnetId"]
    launched = []
    try:
        for public in (True, False):
            nic = {"DeviceIndex": 0, "SubnetId": subnet, "AssociatePublicIpAddress": public}
            reply = ec2.run_instances(
                ImageId=aws.source_ami,
                InstanceType="t2.micro",
                MinCount=1,
                MaxCount=1,
                NetworkInterfaces=[nic],
            )
            launched.append(reply["Instances"][0]["InstanceId"])
        driver = make_driver(SessionSettings(region="us-east-1"))
        raw = {
            i["InstanceId"]: i
            for r in ec2.describe_instances(InstanceIds=launched)["Reservations"]
            for i in r["Instances"]
        }
        with_public, private_only = (raw[i] for i in launched)
        assert with_public.get("PublicIpAddress") and not private_only.get("PublicIpAddress")
        expected = {
            "public_ip": with_public["PublicIpAddress"],
            "private_ip": with_public["PrivateIpAddress"],
            "public_dns": with_public["PublicDnsName"],
            "private_dns": with_public["PrivateDnsName"],
            "": with_public["PublicIpAddress"],  # auto, in a VPC: the public IP first
        }
        for interface, address in expected.items():
            instance = driver.describe_instance(launched[0])
            assert instance is not None
            found, _ = instance_address(driver, instance, interface, CancelToken())
            assert found == address, interface
        instance = driver.describe_instance(launched[1])
        assert instance is not None
        found, _ = instance_address(driver, instance, "", CancelToken())
        assert found == private_only["PrivateIpAddress"]
    finally:
        driver.close()
        ec2.terminate_instances(InstanceIds=launched)
        delete_network(aws, vpc)
