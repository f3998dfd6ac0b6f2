"""The amazon-ebs example built from HCL2 against moto, as test_examples.py builds the JSON one."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from tests.integration.amazon.conftest import SOURCE_NAME, MotoServer, cloud_init_keys, destroy_amis
from tests.integration.amazon.test_examples import EXAMPLES, LOG, prepare_host


def test_the_hcl2_example_builds_against_the_endpoint(
    aws: MotoServer, sshd_host: Any, cli: Any, tmp_path: Path
) -> None:
    host = sshd_host(password=None)
    prepare_host(host)
    secret = f"example-secret-{secrets.token_hex(8)}"
    with cloud_init_keys(aws, host):
        done = cli(
            "build",
            "-var", "source_ami_owner=self",
            "-var", f"ssh_host={host.host}",
            "-var", f"ssh_port={host.port}",
            "-var", f"ssh_username={host.user}",
            str(EXAMPLES / "template.pkr.hcl"),
            env={"AWS_SECRET_ACCESS_KEY": secret},
            timeout=120,
        )  # fmt: skip
    output = done.stdout + done.stderr
    manifest_path = tmp_path / "manifest.json"
    amis: dict[str, str] = {}
    if manifest_path.exists():
        (build,) = json.loads(manifest_path.read_text())["builds"]
        amis = dict(part.split(":", 1) for part in build["artifact_id"].split(","))
    try:
        assert done.returncode == 0, output
        assert secret not in output
        assert sorted(amis) == ["us-east-1"], build
        assert (build["name"], build["builder_type"]) == ("amazon-ebs.debian", "amazon-ebs")
        assert f"us-east-1: {amis['us-east-1']}" in done.stdout
        (image,) = aws.client().describe_images(ImageIds=[amis["us-east-1"]])["Images"]
        assert image["Name"].startswith("debian-12-cloud-init-")
        tags = {t["Key"]: t["Value"] for t in image["Tags"]}
        assert tags["Base_AMI_Name"] == SOURCE_NAME and tags["Build_Region"] == "us-east-1"
        code, log = host.exec(f"cat {LOG}")
        assert code == 0, log
        assert "apt-get install -y -q cloud-init DEBIAN_FRONTEND=noninteractive uid=0" in log
        assert "cloud-init clean --logs" in log
        assert "Creating temporary keypair: packer_" in done.stdout
    finally:
        destroy_amis(aws, amis)
