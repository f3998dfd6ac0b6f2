"""SIGKILL an amazon-ebs build at each step, then `pybuild cleanup`: EC2 is left as it was.

Each build runs as `python -m builder build` against moto's server, provisioning over SSH
to a loopback sshd test host, with `PYBUILD_FAULT=kill@...` (the process kills itself
with SIGKILL there) and its own PYBUILD_STATE_DIR; cleanup runs as `python -m builder
cleanup -state-dir=...`. What is left is asked of the endpoint through boto3: no live
instance, security group or key pair carrying the run's id, no AMI of the killed build and
no snapshot of one (the `aws` fixture also checks that nothing at all was left).
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from builder.ledger import RUN_TAG, read_run, run_files
from tests.conftest import run_cli, write_template
from tests.integration.amazon.conftest import REGIONS, MotoServer, over_ssh

# amazon-ebs's steps in order, by the names the runner (and PYBUILD_FAULT) knows them by.
STEPS = [
    "StepPreValidate",
    "StepSourceAMIInfo",
    "StepNetworkInfo",
    "StepKeyPair",
    "StepSecurityGroup",
    "StepCleanupVolumes",
    "StepRunSourceInstance",
    "StepConnect",
    "StepProvision",
    "StepCleanupTempKeys",
    "StepStopEBSBackedInstance",
    "StepModifyEBSBackedInstance",
    "StepDeregisterAMI",
    "StepCreateAMI",
    "StepAMIRegionCopy",
    "StepModifyAMIAttributes",
    "StepCreateTags",
]
FAST = {"AWS_POLL_DELAY_SECONDS": "0.05", "AWS_MAX_ATTEMPTS": "200"}  # cleanup's waits


@dataclass
class Killed:
    """A build that died by SIGKILL: its run id and what it printed."""

    run_id: str
    output: str


@dataclass
class KillBuild:
    aws: MotoServer
    host: Any
    tmp_path: Path
    ami_name: str

    @property
    def state_dir(self) -> Path:
        return self.tmp_path / "state"

    def template(self, inline: list[str] | None = None) -> Path:
        builder = over_ssh(
            self.host,
            ami_name=self.ami_name,
            ami_regions=["us-west-2"],
            tags={"Name": "killed"},
            aws_polling={"delay_seconds": 0.05, "max_attempts": 200},
        )
        shell = {"type": "shell", "inline": inline or ["echo provisioned > /tmp/kill-test"]}
        return write_template(self.tmp_path, {"builders": [builder], "provisioners": [shell]})

    def env(self, **extra: str) -> dict[str, str]:
        return {"PYBUILD_STATE_DIR": str(self.state_dir), "NO_COLOR": "1", **FAST, **extra}

    def run(self, fault: str) -> Killed:
        """`pybuild build` with PYBUILD_FAULT=<fault>; it must die by SIGKILL."""
        proc = run_cli(
            "build",
            str(self.template()),
            cwd=self.tmp_path,
            env=self.env(PYBUILD_FAULT=fault),
            timeout=120,
        )
        assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr
        return self.killed(proc.stdout)

    def run_killed_while_provisioning(self) -> Killed:
        """A build killed from outside while its provisioner runs."""
        marker = f"provisioning-{secrets.token_hex(4)}"
        path = self.template(inline=[f"echo {marker}", "sleep 60"])
        proc = subprocess.Popen(
            [sys.executable, "-m", "builder", "build", str(path)],
            cwd=self.tmp_path,
            env={**os.environ, **self.env(), "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert proc.stdout is not None
        lines: list[str] = []
        try:
            for line in proc.stdout:
                lines.append(line)
                if marker in line and "echo" not in line:
                    break
            proc.send_signal(signal.SIGKILL)
            rest, _ = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == -signal.SIGKILL, "".join(lines)
        return self.killed("".join(lines) + rest)

    def killed(self, output: str) -> Killed:
        (path,) = run_files(self.state_dir)
        return Killed(read_run(path).run_id, output)

    def cleanup(self, *args: str) -> str:
        proc = run_cli(
            "cleanup",
            f"-state-dir={self.state_dir}",
            *args,
            cwd=self.tmp_path,
            env=self.env(),
            timeout=120,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    def left(self, run_id: str) -> list[str]:
        """What the run still has at the endpoint, in every region."""
        out: list[str] = []
        ours = [{"Name": f"tag:{RUN_TAG}", "Values": [run_id]}]
        live = [{"Name": "instance-state-name", "Values": ["pending", "running", "stopping",
                                                             "stopped", "shutting-down"]}]  # fmt: skip
        for region in REGIONS:
            ec2 = self.aws.client(region=region)
            for r in ec2.describe_instances(Filters=ours + live)["Reservations"]:
                out += [f"{region} instance {i['InstanceId']}" for i in r["Instances"]]
            groups = ec2.describe_security_groups(Filters=ours)["SecurityGroups"]
            out += [f"{region} security group {g['GroupId']}" for g in groups]
            pairs = ec2.describe_key_pairs(Filters=ours)["KeyPairs"]
            out += [f"{region} key pair {k['KeyName']}" for k in pairs]
            named = [{"Name": "name", "Values": [self.ami_name]}]
            images = ec2.describe_images(Owners=["self"], Filters=named)["Images"]
            out += [f"{region} image {i['ImageId']}" for i in images]
            everything = ec2.describe_images(Owners=["self"])["Images"]
            used = {
                m["Ebs"]["SnapshotId"]
                for i in everything
                for m in i.get("BlockDeviceMappings", [])
                if "SnapshotId" in m.get("Ebs", {})
            }
            snapshots = ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]
            out += [
                f"{region} orphan snapshot {s['SnapshotId']}"
                for s in snapshots
                if s["SnapshotId"] not in used
            ]
        return out

    def clean_up_twice(self, killed: Killed, *args: str) -> str:
        first = self.cleanup(*args)
        assert self.left(killed.run_id) == [], first
        assert run_files(self.state_dir) == [], first
        second = self.cleanup(*args)
        assert "Nothing to clean up" in second, second
        return first


@pytest.fixture
def kill_build(aws: MotoServer, sshd_host: Any, tmp_path: Path) -> KillBuild:
    return KillBuild(aws, sshd_host(), tmp_path, f"pybuild-kill-{secrets.token_hex(4)}")


# What a build killed before each step has made (and cleanup must remove).
MADE = {
    "StepSecurityGroup": ["key_pair"],
    "StepRunSourceInstance": ["key_pair", "security_group"],
    "StepConnect": ["key_pair", "security_group", "instance"],
    "StepCreateAMI": ["key_pair", "security_group", "instance"],
    "StepAMIRegionCopy": ["key_pair", "security_group", "instance", "image", "snapshot"],
    "StepCreateTags": ["key_pair", "security_group", "instance", "image", "snapshot"],
}


@pytest.mark.parametrize("step", STEPS)
def test_killed_before_a_step_then_cleanup(kill_build: KillBuild, step: str) -> None:
    killed = kill_build.run(f"kill@step:{step}")
    before = kill_build.left(killed.run_id)
    if STEPS.index(step) > STEPS.index("StepKeyPair"):
        assert any(" key pair packer_it_" in item for item in before), before
    if STEPS.index(step) > STEPS.index("StepRunSourceInstance"):
        assert any(" instance i-" in item for item in before), before
    if STEPS.index(step) > STEPS.index("StepAMIRegionCopy"):
        assert any(item.startswith("us-west-2 image") for item in before), before
    out = kill_build.clean_up_twice(killed)
    for kind in MADE.get(step, []):
        assert f"removed amazon.{kind}" in out, out


def test_killed_while_the_provisioner_runs(kill_build: KillBuild) -> None:
    killed = kill_build.run_killed_while_provisioning()
    assert any(" instance i-" in item for item in kill_build.left(killed.run_id))
    out = kill_build.clean_up_twice(killed)
    assert "removed amazon.instance" in out and "removed amazon.key_pair" in out, out


@pytest.mark.parametrize("kind", ["key_pair", "security_group", "instance", "image"])
def test_killed_after_a_create_call_before_its_id_was_recorded(
    kill_build: KillBuild, kind: str
) -> None:
    """The ledger has the name (or client token) only: cleanup finds the resource by it."""
    killed = kill_build.run(f"kill@created:amazon.{kind}")
    assert kill_build.left(killed.run_id)
    out = kill_build.clean_up_twice(killed)
    assert f"removed amazon.{kind}" in out and "(create call not confirmed)" in out, out


@pytest.mark.parametrize("ledger", ["kept", "lost"])
def test_instance_created_before_the_record_is_found_by_sweep(
    kill_build: KillBuild, ledger: str
) -> None:
    """`cleanup -sweep` finds what carries the run id tag, with or without its ledger."""
    killed = kill_build.run("kill@created:amazon.instance")
    if ledger == "lost":
        for path in run_files(kill_build.state_dir):
            path.unlink()
    assert any(" instance i-" in item for item in kill_build.left(killed.run_id))
    out = kill_build.cleanup("-sweep")
    assert kill_build.left(killed.run_id) == [], out
    assert "removed amazon.instance" in out, out
    if ledger == "lost":  # the sweep found all three by their tag, instance first
        lines = [line for line in out.splitlines() if "removed amazon." in line]
        kinds = [line.split("removed amazon.")[1].split()[0] for line in lines]
        assert kinds == ["instance", "security_group", "key_pair"], out
    assert "Nothing to clean up" in kill_build.cleanup("-sweep")
