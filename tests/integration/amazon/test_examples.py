"""examples/aws, as a user runs them: `pybuild validate` and `pybuild build` against moto.

The builds run the CLI in a subprocess with AWS_ENDPOINT_URL at moto's server and
`-var ssh_host/ssh_port` at a loopback sshd test host. That host stands in for the instance:
its authorized_keys gets the temporary EC2 key pair (as cloud-init would), and `apt-get` there
is a recording stand-in, so installing cloud-init touches no network.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest

from tests.integration.amazon.conftest import (
    SOURCE_NAME,
    MotoServer,
    cloud_init_keys,
    destroy_amis,
)

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "aws"
LOG = "/var/log/pybuild-apt.log"

# apt-get on the test host: logs how it was called; "installing" cloud-init drops a stub in.
APT_STANDIN = f"""#!/bin/sh
echo "apt-get $* DEBIAN_FRONTEND=$DEBIAN_FRONTEND uid=$(id -u)" >> {LOG}
case " $* " in
  *" install "*cloud-init*)
    cat > /usr/local/bin/cloud-init <<'STUB'
#!/bin/sh
echo "cloud-init $*" >> {LOG}
[ "$1" = --version ] && echo "/usr/bin/cloud-init 22.4.2-1"
exit 0
STUB
    chmod 755 /usr/local/bin/cloud-init ;;
esac
"""


def prepare_host(host: Any) -> None:
    code, out = host.exec(
        f"cat > /usr/local/sbin/apt-get <<'EOF'\n{APT_STANDIN}EOF\nchmod 755 /usr/local/sbin/apt-get"
    )
    assert code == 0, out


@pytest.mark.parametrize("name", ["template.json", "copy-regions.json"])
def test_example_validates(name: str, aws: MotoServer, cli: Any) -> None:
    done = cli("validate", str(EXAMPLES / name))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "The configuration is valid." in done.stdout


@pytest.mark.parametrize(
    ("name", "regions"),
    [
        ("template.json", ["us-east-1"]),
        ("copy-regions.json", ["eu-west-1", "us-east-1", "us-west-2"]),
    ],
)
def test_example_builds_against_the_endpoint(
    name: str,
    regions: list[str],
    aws: MotoServer,
    sshd_host: Any,
    cli: Any,
    tmp_path: Path,
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
            str(EXAMPLES / name),
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
        assert sorted(amis) == regions, build
        assert build["builder_type"] == "amazon-ebs"
        assert "AMIs were created:" in done.stdout
        for region in regions:
            assert f"{region}: {amis[region]}" in done.stdout
            (image,) = aws.client(region=region).describe_images(ImageIds=[amis[region]])["Images"]
            assert image["Name"].startswith("debian-12-cloud-init-")
            tags = {t["Key"]: t["Value"] for t in image["Tags"]}
            assert tags["Base_AMI_Name"] == SOURCE_NAME and tags["Build_Region"] == "us-east-1"
        code, log = host.exec(f"cat {LOG}")
        assert code == 0, log
        assert "apt-get update -q DEBIAN_FRONTEND=noninteractive uid=0" in log
        assert "apt-get install -y -q cloud-init DEBIAN_FRONTEND=noninteractive uid=0" in log
        assert "cloud-init clean --logs" in log
        assert "Creating temporary keypair: packer_" in done.stdout
    finally:
        destroy_amis(aws, amis)
