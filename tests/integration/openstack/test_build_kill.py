"""SIGKILL an openstack build, then `pybuild cleanup`: nothing left in the cloud.

The build runs as a CLI process (`PYBUILD_FAULT=kill@...` kills it there with SIGKILL,
leaving the server and the temporary key pair behind) with its own PYBUILD_STATE_DIR;
cleanup runs as a process too, with the template (`-template`: the password is never in
the ledger) or with the recorded clouds.yaml `cloud` alone.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.openstack.test_build import block, over_ssh

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]


def cli(
    tmp_path: Path, *args: str, fault: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("PYBUILD_", "OS_"))}
    full["PYBUILD_STATE_DIR"] = str(tmp_path / "state")
    full["PYTHONPATH"] = str(ROOT)
    full.update(env or {})
    if fault:
        full["PYBUILD_FAULT"] = f"kill@{fault}"
    return subprocess.run(
        [sys.executable, "-m", "builder", *args],
        cwd=tmp_path,
        env=full,
        capture_output=True,
        text=True,
        timeout=300,
    )


def ledgers(tmp_path: Path) -> list[Path]:
    state = tmp_path / "state"
    return sorted(state.glob("*.jsonl")) if state.exists() else []


def servers_named(os_cloud: Any, name: str) -> list[Any]:
    conn = os_cloud.connect()
    try:
        return [s for s in conn.compute.servers(all_projects=True) if s.name == name]
    finally:
        conn.close()


CASES: dict[str, str] = {
    # connected, about to provision: a running server and a temporary Nova key pair
    "step:StepProvision": "ssh",
    # the create call returned, its id not recorded yet: found by name and run id
    "created:openstack.server": "none",
    # the snapshot call returned, not recorded: found by name and creation time
    "created:openstack.image": "none",
}


@pytest.mark.parametrize("point", list(CASES))
def test_killed_build_then_cleanup_leaves_nothing(
    os_cloud: Any, os_leaks: Any, tmp_path: Path, point: str, request: pytest.FixtureRequest
) -> None:
    name = "pybuild-kill-" + point.split(":")[1].replace(".", "-").lower()
    if CASES[point] == "ssh":
        builder = over_ssh(os_cloud, request.getfixturevalue("os_ssh_host"), name)
        provisioners = [{"type": "shell", "inline": ["echo never-reached"]}]
    else:
        builder, provisioners = block(os_cloud, name, communicator="none"), []
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"builders": [builder], "provisioners": provisioners}))
    proc = cli(tmp_path, "build", str(path), fault=point)
    assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr
    assert servers_named(os_cloud, name), "the server was left behind"
    (ledger,) = ledgers(tmp_path)
    assert os_cloud.admin["password"] not in ledger.read_text()
    out = cli(tmp_path, "cleanup", f"-template={path}")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "removed openstack.server" in out.stdout, out.stdout
    if point == "step:StepProvision":
        assert "removed openstack.keypair" in out.stdout, out.stdout
    if point.startswith("created:"):
        assert "create call not confirmed" in out.stdout, out.stdout
    if point == "created:openstack.image":
        assert "removed openstack.image" in out.stdout, out.stdout
    assert ledgers(tmp_path) == []
    assert servers_named(os_cloud, name) == []
    again = cli(tmp_path, "cleanup", f"-template={path}")
    assert "Nothing to clean up" in again.stdout, again.stdout


def test_cleanup_with_the_recorded_cloud_alone(
    os_cloud: Any, os_leaks: Any, tmp_path: Path
) -> None:
    """A build from clouds.yaml records the cloud's name: cleanup needs no template."""
    env = {"OS_CLIENT_CONFIG_FILE": str(os_cloud.clouds_yaml)}
    builder = {
        "type": "openstack",
        "cloud": "local",
        "source_image": os_cloud.source_image_id,
        "flavor": os_cloud.flavor,
        "image_name": "pybuild-kill-cloud",
        "communicator": "none",
    }
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"builders": [builder]}))
    proc = cli(tmp_path, "build", str(path), fault="step:StepStopServer", env=env)
    assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr
    out = cli(tmp_path, "cleanup", env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "removed openstack.server" in out.stdout, out.stdout
    assert servers_named(os_cloud, "pybuild-kill-cloud") == []


def test_a_lost_ledger_is_made_up_for_by_sweep(
    os_cloud: Any, os_leaks: Any, tmp_path: Path
) -> None:
    builder = block(os_cloud, "pybuild-kill-sweep", communicator="none")
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"builders": [builder]}))
    proc = cli(tmp_path, "build", str(path), fault="step:StepStopServer")
    assert proc.returncode == -signal.SIGKILL
    for ledger in ledgers(tmp_path):
        ledger.unlink()
    out = cli(tmp_path, "cleanup", "-sweep", f"-template={path}")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "removed openstack.server" in out.stdout, out.stdout
    assert servers_named(os_cloud, "pybuild-kill-sweep") == []
