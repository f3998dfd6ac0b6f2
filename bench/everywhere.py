"""The five-platform build (examples/everywhere/template.json), pybuild against packer 1.6.6.

    python bench/everywhere.py [--runs 1] [--packer /usr/bin/packer] [--keep-logs DIR]

The services' inputs are set up once, as tests/integration/everywhere does (its helpers
are imported): the stand-in Docker image (the base image plus the recording apt-get), moto
on 127.0.0.1 in this process (the suite's VM Import extension installed, the source AMI
seeded) with an S3 bucket, the vSphere simulator (the suite's launcher), the OpenStack
stack's clouds.yaml, the test ISO, and the Nova key server. Each tool run gets three fresh
sshd test hosts (amazon-ebs and vsphere-clone by password, openstack by the build's Nova
key pair), its own work directory, state dir and Docker repository. The tools alternate
(run 1 pybuild first, run 2 packer first, ...), `--runs` pairs (default 1).

pybuild builds the example itself with a var file. packer 1.6.6 builds a variant written
by this bench into the temp dir, with the same var file; its differences (printed too):

- amazon-import is dropped: packer 1.6.6 sends its S3 requests to s3.amazonaws.com
  whatever the settings, so it cannot reach the local S3 (see bench/s3_upload.py); the
  qemu chain ends in the manifest with the qcow2 instead of an imported AMI.
- amazon-ebs: `custom_endpoint_ec2` is moto's URL (packer's Go SDK ignores
  AWS_ENDPOINT_URL), `skip_credential_validation` (that check asks STS, not EC2) and
  `skip_metadata_api_check`.
- openstack: identity_endpoint/username/password/tenant_name/domain_name of the clouds.yaml's
  `local` cloud instead of `cloud: local` (no OS_CLIENT_CONFIG_FILE reliance).
- {{template_dir}} is replaced by the example's directory (the variant lives elsewhere).

Both tools get AWS_POLL_DELAY_SECONDS=0.2 (both honour it), CHECKPOINT_DISABLE and
-color=false. Figures per run: wall seconds of the process; each build's seconds as the
tool itself prints them (`Build 'name' finished after 1 second 189 milliseconds.`, both
tools), and, as this bench timestamps lines on arrival (pybuild runs with
PYTHONUNBUFFERED), from the build's first `==> name:` line to that line and when it came;
overlap = sum of builds / wall, and longest / wall (the tools' own counts). Then the
medians and the pybuild/packer wall ratio, also with pybuild's amazon-import taken out
(the seconds from its `Running post-processor: amazon-import` line to the next step): it
ends the qemu build, the longest, so it lies on the critical path, and packer's variant
does not run it. Exit status 1 if any run failed. Afterwards everything made is removed:
AMIs and their snapshots, S3 objects and the bucket, vSphere templates (and the simulator),
Glance images (by the manifests' ids only: the stack may be shared), Docker images, sshd
hosts. 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.amazon import moto_import  # noqa: E402
from tests.integration.amazon.conftest import (  # noqa: E402
    MotoServer,
    _seed_source_ami,
    destroy_amis,
)
from tests.integration.amazon.test_examples import prepare_host  # noqa: E402
from tests.integration.conftest import (  # noqa: E402
    BASE_IMAGE,
    SSHD_IMAGE,
    SSHHostFactory,
    connect_docker,
    free_port,
)
from tests.integration.everywhere.test_everywhere import (  # noqa: E402
    EXAMPLE,
    PASSWORD,
    REGION,
    stand_in_image,
)
from tests.integration.openstack.conftest import (  # noqa: E402
    CLOUDS_YAML,
    FLAVOR,
    SOURCE_IMAGE,
    NovaKeyServer,
    OpenStackCloud,
    _builder_options,
    open_connection,
)
from tests.integration.qemu.conftest import ISO_NAME, iso_dir  # noqa: E402
from tests.integration.vsphere.conftest import Vcsim, start_vcsim, stop_vcsim  # noqa: E402

BUILDS = ("amazon-ebs", "docker", "openstack", "qemu", "vsphere-clone")
TIMEOUT = 1500.0
DIFFERENCES = [
    "amazon-import dropped (packer 1.6.6's S3 requests go to s3.amazonaws.com, never to a "
    "local S3): the qemu chain ends in the manifest with the qcow2",
    "amazon-ebs: custom_endpoint_ec2 = moto, skip_credential_validation (STS), "
    "skip_metadata_api_check",
    "openstack: explicit identity_endpoint/username/password/tenant_name/domain_name "
    "instead of cloud: local",
    "{{template_dir}} replaced by the example's directory",
]


@dataclass
class Services:
    """What every run shares: the engine, moto, the simulator, the stack, the ISO."""

    docker: Any
    moto: MotoServer
    vcsim: Vcsim
    cloud: OpenStackCloud
    keys: NovaKeyServer
    image: str
    bucket: str
    iso: Path
    iso_sha256: str
    glance: list[str] = field(default_factory=list)
    docker_refs: list[str] = field(default_factory=list)


def pybuild() -> list[str]:
    exe = shutil.which("pybuild", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "builder"]


def openstack_cloud() -> OpenStackCloud:
    import yaml

    try:
        clouds = yaml.safe_load(CLOUDS_YAML.read_text())["clouds"]
    except (OSError, KeyError, TypeError) as exc:
        raise SystemExit(f"{CLOUDS_YAML}: {exc} (run `bash tests/testbed/openstack.sh`)") from None
    conn = open_connection(CLOUDS_YAML, "local")
    try:
        image = conn.image.find_image(SOURCE_IMAGE)
        if image is None or image.status != "active":
            raise SystemExit(f"OpenStack image {SOURCE_IMAGE} missing or not active")
        image_id = str(image.id)
    finally:
        conn.close()
    return OpenStackCloud(
        auth_url="http://127.0.0.1:5000/v3", region="RegionOne",
        admin=_builder_options(clouds["local"]["auth"]),
        demo=_builder_options(clouds["local-demo"]["auth"]),
        clouds_yaml=CLOUDS_YAML, source_image=SOURCE_IMAGE, source_image_id=image_id,
        flavor=FLAVOR,
    )  # fmt: skip


def start_moto() -> tuple[Any, MotoServer]:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "false"
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    moto_import.install()
    moto = MotoServer(f"http://127.0.0.1:{port}")
    moto.source_ami = _seed_source_ami(moto)
    return server, moto


def packer_variant(cloud: OpenStackCloud, moto: MotoServer) -> dict[str, Any]:
    text = EXAMPLE.read_text().replace("{{template_dir}}", str(EXAMPLE.parent))
    template = json.loads(text)
    for block in template["builders"]:
        if block["type"] == "amazon-ebs":
            block.update(custom_endpoint_ec2=moto.url, skip_credential_validation=True,
                         skip_metadata_api_check=True)  # fmt: skip
        elif block["type"] == "openstack":
            block.pop("cloud")
            block.update(cloud.admin, region=cloud.region)
    chains = []
    for chain in template["post-processors"]:
        kept = [pp for pp in chain if pp.get("type") != "amazon-import"]
        if kept:
            chains.append(kept)
    template["post-processors"] = chains
    return dict(template)


FINISHED = re.compile(r"Build '([^']+)' (finished|errored)(?: after ([^.]+))?")
UNITS = {"hour": 3600.0, "minute": 60.0, "second": 1.0, "millisecond": 0.001}


def duration(text: str) -> float | None:
    """'1 minute 2 seconds 345 milliseconds' (both tools' wording) in seconds."""
    parts = re.findall(r"(\d+) (hour|minute|second|millisecond)s?\b", text)
    return sum(int(n) * UNITS[unit] for n, unit in parts) if parts else None


@dataclass
class Outcome:
    tool: str
    wall: float
    code: int
    builds: dict[str, float]  # name -> seconds, the tool's own "finished after" figure
    seen: dict[str, float]  # name -> seconds, first `==> name:` line to its finished line
    ended: dict[str, float]  # name -> seconds from the process's start to its finished line
    errored: list[str]
    log: str
    manifest: dict[str, Any]
    import_seconds: float = 0.0  # qemu's amazon-import post-processor (pybuild only)


def run_tool(tool: str, command: list[str], work: Path, env: dict[str, str]) -> Outcome:
    first: dict[str, float] = {}
    done: dict[str, float] = {}
    own: dict[str, float] = {}
    errored: list[str] = []
    import_began = import_ended = 0.0
    lines: list[str] = []
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=work, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            now = time.perf_counter() - started
            lines.append(f"{now:8.2f} {line}")
            found = re.match(r"==> ([\w.-]+):", line.strip())
            if found and found.group(1) in BUILDS:
                first.setdefault(found.group(1), now)
            if line.startswith("==> qemu: Running post-processor: amazon-import"):
                import_began = now
            elif import_began and not import_ended and line.startswith("==> qemu: Running "):
                import_ended = now
            end = FINISHED.search(line)
            if end:
                done[end.group(1)] = now
                reported = duration(end.group(3) or "")
                if reported is not None:
                    own[end.group(1)] = reported
                if end.group(2) == "errored":
                    errored.append(end.group(1))
        code = proc.wait(timeout=TIMEOUT)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    wall = time.perf_counter() - started
    seen = {name: done[name] - first.get(name, 0.0) for name in done}
    builds = {name: own.get(name, seen[name]) for name in done}
    path = work / "output-everywhere" / "manifest.json"
    manifest = json.loads(path.read_text()) if path.exists() else {"builds": []}
    imported = (import_ended or done.get("qemu", 0.0)) - import_began if import_began else 0.0
    outcome = Outcome(tool, wall, code, builds, seen, done, errored, "".join(lines), manifest)
    outcome.import_seconds = max(0.0, imported)
    return outcome


def remove_made(svc: Services, outcome: Outcome) -> None:
    """The manifest's artifacts: AMIs, vSphere templates, Glance images, Docker images."""
    for entry in outcome.manifest.get("builds", []):
        name, artifact = entry.get("name"), str(entry.get("artifact_id", ""))
        if name in ("amazon-ebs", "qemu") and artifact.startswith(f"{REGION}:ami-"):
            destroy_amis(svc.moto, {REGION: artifact.split(":", 1)[1]})
        elif name == "vsphere-clone":
            remove_vm(svc.vcsim, artifact)
        elif name == "openstack":
            svc.glance.append(artifact)
        elif name == "docker":
            svc.docker_refs.append(artifact)
    delete_glance(svc)
    for ref in svc.docker_refs:
        try:
            svc.docker.images.remove(ref, force=True)
        except Exception:  # noqa: BLE001 - already removed with its tag
            pass
    svc.docker_refs.clear()


def remove_vm(vc: Vcsim, name: str) -> None:
    from pyVim.task import WaitForTask

    with vc.connection() as si:
        vm = vc.vm(si, name)
        if vm is not None:
            WaitForTask(vm.Destroy_Task())


def delete_glance(svc: Services) -> None:
    from openstack import exceptions

    conn = svc.cloud.connect()
    try:
        for image_id in svc.glance:
            try:
                conn.image.delete_image(image_id)
            except exceptions.NotFoundException:
                pass
    finally:
        conn.close()
    svc.glance.clear()


def remove_everything_in_moto(svc: Services) -> None:
    """Any AMI but the seeded one (this moto is this bench's own), and the bucket."""
    ec2 = svc.moto.client(region=REGION)
    for image in ec2.describe_images(Owners=["self"])["Images"]:
        if image["ImageId"] != svc.moto.source_ami:
            destroy_amis(svc.moto, {REGION: image["ImageId"]})
    s3 = svc.moto.client("s3", region=REGION)
    for obj in s3.list_objects_v2(Bucket=svc.bucket).get("Contents", []):
        s3.delete_object(Bucket=svc.bucket, Key=obj["Key"])
    s3.delete_bucket(Bucket=svc.bucket)


def one_run(svc: Services, tool: str, n: int, packer: str, root: Path) -> Outcome:
    work = root / f"{tool}-{n}"
    work.mkdir()
    token = secrets.token_hex(3)
    hosts = SSHHostFactory(svc.docker, SSHD_IMAGE)
    try:
        amazon = hosts(user="root", password=PASSWORD)
        vsphere = hosts(user="root", password=PASSWORD)
        openstack = hosts(user="root", password=None, extra_config=svc.keys.sshd_config())
        for host in (amazon, vsphere, openstack):
            prepare_host(host)
        variables = {
            "docker_image": svc.image,
            "docker_repository": f"pybuild-bench/everywhere-{tool}-{token}",
            "aws_region": REGION,
            "aws_s3_bucket": svc.bucket,
            "vcenter_server": svc.vcsim.vcenter_server,
            "vcenter_username": svc.vcsim.username,
            "vcenter_password": svc.vcsim.password,
            "vsphere_guest_ip": "127.0.0.1",
            "openstack_source_image": svc.cloud.source_image,
            "openstack_flavor": svc.cloud.flavor,
            "iso_url": str(svc.iso),
            "iso_checksum": f"sha256:{svc.iso_sha256}",
            "qemu_accelerator": "tcg",
            "ssh_username": "root",
            "ssh_password": PASSWORD,
            "ssh_host": "127.0.0.1",
            "aws_ssh_port": str(amazon.port),
            "vsphere_ssh_port": str(vsphere.port),
            "openstack_ssh_port": str(openstack.port),
        }
        var_file = work / "local.json"
        var_file.write_text(json.dumps(variables, indent=2))
        svc.docker_refs.append(f"{variables['docker_repository']}:latest")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(work),
            "CHECKPOINT_DISABLE": "1",
            "NO_COLOR": "1",
            "PYTHONUNBUFFERED": "1",
            "PYBUILD_STATE_DIR": str(work / "state"),
            "PACKER_CACHE_DIR": str(work / "packer_cache"),
            "PACKER_TMP_DIR": str(work / "packer_tmp"),
            "OS_CLIENT_CONFIG_FILE": str(svc.cloud.clouds_yaml),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": svc.moto.url,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_POLL_DELAY_SECONDS": "0.2",
        }
        if tool == "packer":
            template = work / "template.json"
            template.write_text(json.dumps(packer_variant(svc.cloud, svc.moto), indent=2))
            command = [packer, "build", "-color=false", "-var-file", str(var_file), str(template)]
        else:
            command = [*pybuild(), "build", "-color=false", "-var-file", str(var_file),
                       str(EXAMPLE)]  # fmt: skip
        outcome = run_tool(tool, command, work, env)
        (work / "build.log").write_text(outcome.log)
        return outcome
    finally:
        hosts.close()


def report(outcome: Outcome, n: int) -> None:
    builds = outcome.builds
    total = sum(builds.values())
    longest = max(builds.items(), key=lambda kv: kv[1]) if builds else ("-", 0.0)
    print(f"run {n + 1} {outcome.tool:8s} wall {outcome.wall:7.1f} s  exit {outcome.code}"
          f"  sum of builds {total:7.1f} s  overlap {total / outcome.wall:4.2f}"
          f"  longest {longest[0]} {longest[1]:6.1f} s = {longest[1] / outcome.wall:4.2f} of wall")  # fmt: skip
    for name in BUILDS:
        if name not in builds:
            print(f"    {name:14s} (no 'Build {name!r} finished' line)")
            continue
        state = "errored" if name in outcome.errored else "finished"
        print(f"    {name:14s} {builds[name]:7.1f} s {state} (its own count); first line to "
              f"finished {outcome.seen[name]:6.1f} s; finished at {outcome.ended[name]:6.1f} s")  # fmt: skip
    if outcome.import_seconds:
        print(f"    (qemu's amazon-import, which packer does not run: {outcome.import_seconds:.1f} s;"
              f" wall without it about {outcome.wall - outcome.import_seconds:.1f} s)")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1, help="pairs of runs (pybuild, packer)")
    ap.add_argument("--packer", default="/usr/bin/packer")
    ap.add_argument("--keep-logs", default="", help="copy each run's build.log into DIR")
    args = ap.parse_args()
    if not Path(args.packer).exists():
        raise SystemExit(f"{args.packer} missing: apt-get install packer (1.6.6)")
    iso = iso_dir() / ISO_NAME
    if not iso.is_file():
        raise SystemExit(f"test ISO {iso} missing: run `bash tests/testbed/qemu.sh`")
    docker = connect_docker()
    if docker is None:
        raise SystemExit("Docker engine not answering on /var/run/docker.sock")
    root = Path(tempfile.mkdtemp(prefix="bench-everywhere-"))
    cleanups: list[Any] = []
    outcomes: list[Outcome] = []
    try:
        cloud = openstack_cloud()
        token = secrets.token_hex(3)
        image = stand_in_image(docker, BASE_IMAGE, f"pybuild-bench/everywhere-base:{token}")
        cleanups.append(lambda: docker.images.remove(image, force=True))
        server, moto = start_moto()
        cleanups.append(server.stop)
        bucket = f"pybuild-bench-everywhere-{token}"
        moto.client("s3", region=REGION).create_bucket(Bucket=bucket)
        vc = start_vcsim(root / "vcsim")
        cleanups.append(lambda: stop_vcsim(vc))
        keys = NovaKeyServer(cloud)
        cleanups.append(keys.close)
        svc = Services(docker, moto, vc, cloud, keys, image, bucket, iso,
                       hashlib.sha256(iso.read_bytes()).hexdigest())  # fmt: skip
        cleanups.append(lambda: remove_everything_in_moto(svc))
        print("packer 1.6.6 builds a variant of the template:")
        for line in DIFFERENCES:
            print(f"  - {line}")
        print()
        for n in range(args.runs):
            order = ["pybuild", "packer"] if n % 2 == 0 else ["packer", "pybuild"]
            for tool in order:
                outcome = one_run(svc, tool, n, args.packer, root)
                try:
                    remove_made(svc, outcome)
                finally:
                    if args.keep_logs:
                        Path(args.keep_logs).mkdir(parents=True, exist_ok=True)
                        dest = Path(args.keep_logs) / f"{tool}-{n + 1}.log"
                        dest.write_text(outcome.log)
                outcomes.append(outcome)
                report(outcome, n)
                if outcome.code != 0:
                    tail = outcome.log.splitlines()[-30:]
                    print("    last lines:\n" + "\n".join(f"      {t}" for t in tail))
    finally:
        for step in reversed(cleanups):
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - report and go on cleaning
                print(f"cleanup: {type(exc).__name__}: {exc}", file=sys.stderr)
        shutil.rmtree(root, ignore_errors=True)
    print()
    tools = [t for t in ("pybuild", "packer") if any(o.tool == t for o in outcomes)]
    walls = {t: statistics.median(o.wall for o in outcomes if o.tool == t) for t in tools}
    for tool, wall in walls.items():
        mine = [o for o in outcomes if o.tool == tool]
        overlap = statistics.median(sum(o.builds.values()) / o.wall for o in mine)
        longest = statistics.median(max(o.builds.values(), default=0.0) / o.wall for o in mine)
        print(
            f"median {tool:8s} wall {wall:7.1f} s  overlap {overlap:4.2f}  longest/wall {longest:4.2f}"
        )
    if len(walls) == 2:
        print(f"pybuild/packer wall: {walls['pybuild'] / walls['packer']:.2f}")
        # amazon-import ends the longest build (qemu), so it is on the critical path
        net = statistics.median(o.wall - o.import_seconds for o in outcomes if o.tool == "pybuild")
        print(f"pybuild/packer wall without pybuild's amazon-import: {net / walls['packer']:.2f}"
              f" (pybuild {net:.1f} s)")  # fmt: skip
    failed = [f"{o.tool} run exited {o.code}" for o in outcomes if o.code != 0]
    if failed:
        raise SystemExit("; ".join(failed))


if __name__ == "__main__":
    main()
