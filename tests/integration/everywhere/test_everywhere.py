"""examples/everywhere/template.json for real: one `pybuild build` makes a Docker image, an
AMI, a vSphere template, an OpenStack image and a qemu disk installed from the test ISO, in
parallel, against every local service at once; the qemu disk also becomes an AMI through
amazon-import. Each artifact is checked on its own API, the manifest has five builds and one
run id, and nothing is left anywhere (each platform's leak check, then `pybuild cleanup`).

The machines the cloud builds provision are sshd test hosts on loopback (root, as on a
fresh cloud image): amazon-ebs and vsphere-clone reach theirs with ssh_port and the password,
openstack with its temporary Nova key pair (the harness's key server plays cloud-init).
`apt-get` on those hosts and in the Docker image is the suite's recording stand-in, so
installing cloud-init reaches no network. The qemu build's live system has no package
manager: it writes the disk's file system instead, which the test reads back with debugfs.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import secrets
import signal
import subprocess
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.integration.amazon.conftest import MotoServer, destroy_amis
from tests.integration.amazon.test_examples import APT_STANDIN, LOG, prepare_host

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "everywhere" / "template.json"
REGION = "us-east-1"
PASSWORD = "everywhere-pw"
BUILDS = ["amazon-ebs", "docker", "openstack", "qemu", "vsphere-clone"]
TIMEOUT = 900.0  # the qemu TCG install dominates; the other four overlap it


@dataclass
class Everywhere:
    """What one run of the template needs and made: its directory, hosts, var file."""

    tmp_path: Path
    docker_image: str
    repository: str
    bucket: str
    hosts: dict[str, Any]
    variables: dict[str, str]
    made: dict[str, Any] = field(default_factory=dict)

    @property
    def var_file(self) -> Path:
        path = self.tmp_path / "local.json"
        path.write_text(json.dumps(self.variables, indent=2))
        return path


def stand_in_image(client: Any, base: str, tag: str) -> str:
    """`base` with the recording apt-get stand-in at /usr/local/sbin/apt-get (no RUN: the
    engine only copies a file in)."""
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, text, mode in (
            ("Dockerfile", f"FROM {base}\nCOPY apt-get /usr/local/sbin/apt-get\n", 0o644),
            ("apt-get", APT_STANDIN, 0o755),
        ):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    client.images.build(fileobj=context, custom_context=True, tag=tag, rm=True, pull=False)
    return tag


@pytest.fixture
def everywhere(
    tmp_path: Path,
    aws: MotoServer,
    vsphere: Any,
    os_cloud: Any,
    os_leaks: Any,
    nova_key_server: Any,
    leaks: Any,
    bench: Any,
    sshd_host: Any,
    docker_client: Any,
    base_image: str,
) -> Iterator[Everywhere]:
    token = secrets.token_hex(3)
    image = stand_in_image(docker_client, base_image, f"pybuild-test/everywhere-base:{token}")
    s3 = aws.client("s3", region=REGION)
    bucket = f"pybuild-everywhere-{token}"
    s3.create_bucket(Bucket=bucket)
    hosts = {
        "amazon-ebs": sshd_host(user="root", password=PASSWORD),
        "vsphere-clone": sshd_host(user="root", password=PASSWORD),
        "openstack": sshd_host(
            user="root", password=None, extra_config=nova_key_server.sshd_config()
        ),
    }
    for host in hosts.values():
        prepare_host(host)
    variables = {
        "docker_image": image,
        "docker_repository": f"pybuild-test/everywhere-{token}",
        "aws_region": REGION,
        "aws_s3_bucket": bucket,
        "vcenter_server": vsphere.vcenter_server,
        "vcenter_username": vsphere.username,
        "vcenter_password": vsphere.password,
        "vsphere_guest_ip": "127.0.0.1",
        "openstack_source_image": os_cloud.source_image,
        "openstack_flavor": os_cloud.flavor,
        "iso_url": str(bench.iso.path),
        "iso_checksum": bench.iso.checksum,
        "qemu_accelerator": "tcg",
        "ssh_username": "root",
        "ssh_password": PASSWORD,
        "ssh_host": "127.0.0.1",
        "aws_ssh_port": str(hosts["amazon-ebs"].port),
        "vsphere_ssh_port": str(hosts["vsphere-clone"].port),
        "openstack_ssh_port": str(hosts["openstack"].port),
    }
    run = Everywhere(tmp_path, image, variables["docker_repository"], bucket, hosts, variables)
    try:
        yield run
    finally:
        remove_artifacts(run, aws, vsphere, os_leaks, docker_client)
        for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=obj["Key"])
        s3.delete_bucket(Bucket=bucket)
        for ref in (f"{run.repository}:latest", image):
            try:
                docker_client.images.remove(ref, force=True)
            except Exception:  # noqa: BLE001 - not made, or already removed
                pass


def remove_artifacts(run: Everywhere, aws: MotoServer, vsphere: Any, os_leaks: Any,
                     docker_client: Any) -> None:  # fmt: skip
    """What a successful build leaves on purpose, removed before each leak check runs."""
    amis = run.made.get("amis", [])
    for ami in amis:
        destroy_amis(aws, {REGION: ami})
    for name in run.made.get("vsphere", []):
        destroy_vm(vsphere, name)
    os_leaks.images_to_delete.extend(run.made.get("glance", []))
    for image in run.made.get("docker", []):
        try:
            docker_client.images.remove(image, force=True)
        except Exception:  # noqa: BLE001 - already removed
            pass


def destroy_vm(vsphere: Any, name: str) -> None:
    from pyVim.task import WaitForTask

    with vsphere.connection() as si:
        vm = vsphere.vm(si, name)
        if vm is not None:
            WaitForTask(vm.Destroy_Task())


def build(run: Everywhere, bench: Any, leaks: Any, os_cloud: Any, *args: str) -> Any:
    proc = bench.cli(
        "build", "-var-file", str(run.var_file), f"-timeline={run.tmp_path / 'timeline.svg'}",
        *args, str(EXAMPLE),
        timeout=TIMEOUT,
        PACKER_TMP_DIR=str(leaks.tmp_root),
        OS_CLIENT_CONFIG_FILE=str(os_cloud.clouds_yaml),
        AWS_POLL_DELAY_SECONDS="0.2",
    )  # fmt: skip
    leaks.note(proc.stdout)
    (run.tmp_path / "build.log").write_text(proc.stdout + proc.stderr)  # for a failure's reader
    return proc


def artifacts_of(manifest: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for entry in manifest["builds"]:
        out.setdefault(entry["name"], []).append(entry)
    return out


def note_made(run: Everywhere, leaks: Any, tmp_path: Path) -> tuple[Path, dict[str, Any], Any]:
    """The run's manifest and its artifacts by build; what they name is noted in `run.made`
    for the fixture to remove, whatever the assertions after this find."""
    manifest_path = tmp_path / "output-everywhere" / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {"builds": []}
    found = artifacts_of(manifest)
    for entry in found.get("amazon-ebs", []) + found.get("qemu", []):
        run.made.setdefault("amis", []).append(entry["artifact_id"].split(":", 1)[1])
    for entry in found.get("vsphere-clone", []):
        run.made.setdefault("vsphere", []).append(entry["artifact_id"])
    for entry in found.get("openstack", []):
        run.made.setdefault("glance", []).append(entry["artifact_id"])
    run.made["docker"] = sorted(leaks.new_images())
    return manifest_path, manifest, found


def read_qcow2_file(qemu_img: str, qcow2: Path, path: str, work: Path) -> str:
    raw = work / "disk.raw"
    subprocess.run([qemu_img, "convert", "-O", "raw", str(qcow2), str(raw)], check=True)
    done = subprocess.run(["debugfs", "-R", f"cat {path}", str(raw)],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return done.stdout


def test_one_template_builds_all_five_platforms(
    everywhere: Everywhere,
    bench: Any,
    leaks: Any,
    aws: MotoServer,
    vsphere: Any,
    os_cloud: Any,
    docker_client: Any,
    qemu_img: str,
    tmp_path: Path,
) -> None:
    run = everywhere
    proc = build(run, bench, leaks, os_cloud)
    out = proc.stdout + proc.stderr
    # Note what was made before asserting, so that the fixture removes it whatever fails.
    manifest_path, manifest, found = note_made(run, leaks, tmp_path)
    assert proc.returncode == 0, out

    # One run, five builds, the end-of-run summary as packer prints it.
    assert sorted(found) == BUILDS, manifest
    assert len({e["packer_run_uuid"] for e in manifest["builds"]}) == 1
    assert "==> Builds finished. The artifacts of successful builds are:" in out
    for name in BUILDS:
        assert f"--> {name}:" in out, name
    for secret in (PASSWORD, vsphere.password):
        assert secret not in out
        assert secret not in manifest_path.read_text()

    # Docker: the committed image, tagged by docker-tag (the manifest records the tagged
    # artifact), with the provisioners' work inside.
    (docker_entry,) = found["docker"]
    image = docker_client.images.get(f"{run.repository}:latest")
    assert docker_entry["artifact_id"] in (image.id, f"{run.repository}:latest"), docker_entry
    assert image.labels.get("org.opencontainers.image.title") == "everywhere"
    logged = docker_client.containers.run(
        image.id, ["-c", f"cat /etc/pybuild-build-info {LOG}"], entrypoint=["/bin/sh"], remove=True
    ).decode()
    assert "built by docker build docker" in logged
    assert "apt-get install -y -q --no-install-recommends cloud-init" in logged

    # amazon-ebs: the AMI in moto with the template's tags.
    ec2 = aws.client(region=REGION)
    (ebs_entry,) = found["amazon-ebs"]
    region, ami = ebs_entry["artifact_id"].split(":", 1)
    assert region == REGION
    (image_ebs,) = ec2.describe_images(ImageIds=[ami])["Images"]
    assert image_ebs["Name"].startswith("everywhere-")
    tags = {t["Key"]: t["Value"] for t in image_ebs["Tags"]}
    assert tags == {"Name": "everywhere", "Built_By": "pybuild"}
    code, info = run.hosts["amazon-ebs"].exec(f"cat /etc/pybuild-build-info {LOG}")
    assert code == 0 and "built by amazon-ebs build amazon-ebs" in info, info

    # vsphere-clone: a template in the simulator, open-vm-tools installed on it only.
    (vs_entry,) = found["vsphere-clone"]
    with vsphere.connection() as si:
        vm = vsphere.vm(si, vs_entry["artifact_id"])
        assert vm is not None and vm.config.template
        assert vm.config.annotation == "built by vsphere-clone"
    code, info = run.hosts["vsphere-clone"].exec(f"cat /etc/pybuild-build-info {LOG}")
    assert code == 0 and "built by vsphere-clone build vsphere-clone" in info, info
    # The VMware Tools script ran on vSphere only (and skips itself off VMware, as here).
    assert re.search(r"vsphere-clone: install-vmware-tools: not running on VMware", out), out
    assert out.count("install-vmware-tools:") == 1, out
    assert re.search(r"qemu: install-qemu-guest-agent: no package manager", out), out
    assert out.count("install-qemu-guest-agent:") == 1, out

    # openstack: the image in Glance with the template's tags and properties.
    (os_entry,) = found["openstack"]
    conn = os_cloud.connect()
    try:
        glance = conn.image.get_image(os_entry["artifact_id"])
        assert glance.name.startswith("everywhere-") and glance.status == "active"
        assert sorted(glance.tags) == ["everywhere", "pybuild"]
        assert glance.properties.get("built_by") == "pybuild"
    finally:
        conn.close()
    code, info = run.hosts["openstack"].exec("cat /etc/pybuild-build-info")
    assert code == 0 and "built by openstack build openstack" in info, info

    # qemu: the qcow2 on disk, what the provisioner wrote in its file system, compressed and
    # checksummed copies, and the same disk imported as an AMI (the ISO to AMI chain).
    qcow2 = tmp_path / "output-everywhere" / "qemu" / "disk.qcow2"
    assert qcow2.is_file()
    assert read_qcow2_file(qemu_img, qcow2, "/pybuild-build-info", tmp_path) == (
        "built by qemu build qemu\n"
    )
    # checksum follows compress in its chain: it sums the .gz, which holds the disk.
    artifacts = tmp_path / "output-everywhere" / "artifacts"
    packed = (artifacts / "qemu.qcow2.gz").read_bytes()
    assert gzip.decompress(packed) == qcow2.read_bytes()
    sums = (artifacts / "qemu.sha256").read_text()
    assert sums == f"{hashlib.sha256(packed).hexdigest()}\tqemu.qcow2.gz\n"
    (imported,) = found["qemu"]  # the manifest follows amazon-import in the qemu chain
    region, imported_ami = imported["artifact_id"].split(":", 1)
    assert region == REGION and imported_ami != ami
    (image_iso,) = ec2.describe_images(ImageIds=[imported_ami])["Images"]
    assert image_iso["Name"].startswith("everywhere-from-iso-")
    assert {t["Key"]: t["Value"] for t in image_iso["Tags"]} == {
        "Name": "everywhere-from-iso", "Built_By": "pybuild"
    }  # fmt: skip
    assert aws.client("s3", region=REGION).list_objects_v2(Bucket=run.bucket).get("KeyCount") == 0

    # The run drawn (README's picture): a row per build.
    drawn = (tmp_path / "timeline.svg").read_text()
    for name in BUILDS:
        assert name in drawn, name

    # Nothing left for `pybuild cleanup`: every temporary resource went with its build.
    done = bench.cli("cleanup", "-dry-run", OS_CLIENT_CONFIG_FILE=str(os_cloud.clouds_yaml))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Nothing to clean up" in done.stdout, done.stdout
    leaks.assert_clean(allowed_images=set(run.made.get("docker", [])))


STALL = """#!/bin/sh
echo "apt-get $*" >> /var/log/apt-standin.log
touch /tmp/pybuild-stalled
exec sleep 600
"""


def test_one_platform_failing_leaves_the_other_four(
    everywhere: Everywhere,
    bench: Any,
    leaks: Any,
    aws: MotoServer,
    os_cloud: Any,
    tmp_path: Path,
) -> None:
    """The amazon-ebs build's machine dies while its provisioner runs (its host's sshd
    container killed): that build fails with the SSH error and cleans up its instance, key
    pair and group in EC2; docker, vsphere-clone, openstack and qemu finish and are reported;
    the exit code is 1 and `pybuild cleanup` finds nothing to do."""
    run = everywhere
    host = run.hosts["amazon-ebs"]
    code, said = host.exec(
        f"cat > /usr/local/sbin/apt-get <<'EOF'\n{STALL}EOF\nchmod 755 /usr/local/sbin/apt-get"
    )
    assert code == 0, said
    log = tmp_path / "build.log"
    proc = bench.start(
        "build", "-var-file", str(run.var_file), str(EXAMPLE), log=log,
        PACKER_TMP_DIR=str(leaks.tmp_root),
        OS_CLIENT_CONFIG_FILE=str(os_cloud.clouds_yaml),
        AWS_POLL_DELAY_SECONDS="0.2",
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while host.exec("test -e /tmp/pybuild-stalled")[0] != 0:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        host.container.kill()  # the platform's machine goes away mid-provisioning
        proc.wait(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(timeout=120)
    out = log.read_text()
    manifest_path, manifest, found = note_made(run, leaks, tmp_path)
    assert proc.returncode == 1, out

    assert re.search(r"Build 'amazon-ebs' errored after [^:]+: .*\S", out), out
    assert "==> Some builds didn't complete successfully and had errors:" in out
    errors = out.split("had errors:", 1)[1].split("==> Builds finished", 1)[0]
    assert re.search(r"--> amazon-ebs: .*\S", errors), errors
    for name in ("docker", "openstack", "qemu", "vsphere-clone"):
        assert f"Build '{name}' finished" in out, name
        assert f"--> {name}:" in out.split("==> Builds finished", 1)[1], name
    assert sorted(found) == ["docker", "openstack", "qemu", "vsphere-clone"], manifest
    assert "amazon-ebs: Terminating the source AWS instance..." in out, out

    done = bench.cli("cleanup", "-dry-run", OS_CLIENT_CONFIG_FILE=str(os_cloud.clouds_yaml))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Nothing to clean up" in done.stdout, done.stdout
    leaks.assert_clean(allowed_images=set(run.made.get("docker", [])))
    # the aws fixture then checks EC2 and S3: no instance, key pair, group, AMI or object left
