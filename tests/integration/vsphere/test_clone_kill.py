"""SIGKILL a vsphere-clone build at a step, then `pybuild cleanup`: nothing left in vSphere.

The build runs as its own process (`PYBUILD_FAULT=kill@...` kills it there with SIGKILL,
leaving the VM and the session behind) with its own PYBUILD_STATE_DIR; cleanup runs as a
process too, taking the password from the template (`-template`, never from the ledger).
Run as a script, this module is the CLI with the vSphere builder and cleanup handler
registered (until pyproject's entry points name them).
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

ROOT = Path(__file__).resolve().parents[3]


def cli(tmp_path: Path, *args: str, fault: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYBUILD_")}
    env["PYBUILD_STATE_DIR"] = str(tmp_path / "state")
    env["PYTHONPATH"] = str(ROOT)
    if fault:
        env["PYBUILD_FAULT"] = f"kill@{fault}"
    return subprocess.run(
        [sys.executable, __file__, *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def template(vsphere: Any, tmp_path: Path, name: str, **options: Any) -> Path:
    from tests.integration.vsphere.test_clone import clone_block

    path = tmp_path / "t.json"
    path.write_text(json.dumps({"builders": [clone_block(vsphere, name, **options)]}))
    return path


def ledgers(tmp_path: Path) -> list[Path]:
    state = tmp_path / "state"
    return sorted(state.glob("*.jsonl")) if state.exists() else []


CASES: dict[str, dict[str, Any]] = {
    # powered on, waiting for the guest IP: a running VM and an open session
    "step:StepWaitForIp": {"ssh_username": "u", "ssh_password": "unused-pw",
                           "customize": {"linux_options": {"host_name": "h", "domain": "d"},
                                         "network_interface": [{"ipv4_address": "127.0.0.1"}]}},
    # the clone call returned, its id not recorded yet: found by path and run id
    "created:vsphere.vm": {"communicator": "none"},
    # about to become a template
    "step:StepConvertToTemplate": {"communicator": "none", "create_snapshot": True},
}  # fmt: skip


@pytest.mark.parametrize("point", list(CASES))
def test_killed_build_then_cleanup_leaves_nothing(vsphere: Any, tmp_path: Path, point: str) -> None:
    name = "pybuild-kill-" + point.split(":")[1].replace(".", "-")
    path = template(vsphere, tmp_path, name, **CASES[point])
    proc = cli(tmp_path, "build", str(path), fault=point)
    assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr
    with vsphere.connection() as si:
        assert vsphere.vm(si, name) is not None  # the VM was left behind
    assert any(s["user"] == vsphere.username for s in vsphere.sessions())  # and its session
    (ledger,) = ledgers(tmp_path)
    assert vsphere.password not in ledger.read_text()
    out = cli(tmp_path, "cleanup", f"-template={path}")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "removed vsphere.vm" in out.stdout and "removed vsphere.session" in out.stdout, (
        out.stdout
    )
    if point.startswith("created:"):
        assert "create call not confirmed" in out.stdout, out.stdout
    assert ledgers(tmp_path) == []
    again = cli(tmp_path, "cleanup", f"-template={path}")
    assert "Nothing to clean up" in again.stdout, again.stdout


def test_cleanup_without_the_password_says_how(vsphere: Any, tmp_path: Path) -> None:
    path = template(vsphere, tmp_path, "pybuild-kill-nopw", communicator="none")
    proc = cli(tmp_path, "build", str(path), fault="step:StepConfigParams")
    assert proc.returncode == -signal.SIGKILL
    out = cli(tmp_path, "cleanup")
    assert out.returncode != 0
    assert "pass the template (-template) or set VSPHERE_PASSWORD" in out.stdout + out.stderr
    done = cli(tmp_path, "cleanup", f"-template={path}")
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_lost_ledger_is_made_up_for_by_sweep(vsphere: Any, tmp_path: Path) -> None:
    path = template(vsphere, tmp_path, "pybuild-kill-sweep", communicator="none")
    proc = cli(tmp_path, "build", str(path), fault="step:StepConvertToTemplate")
    assert proc.returncode == -signal.SIGKILL
    for ledger in ledgers(tmp_path):
        ledger.unlink()
    out = cli(tmp_path, "cleanup", "-sweep", f"-template={path}")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "removed vsphere.vm" in out.stdout, out.stdout
    with vsphere.connection() as si:
        assert vsphere.vm(si, "pybuild-kill-sweep") is None
    # the session was in the lost ledger only: it is the server's to expire
    assert vsphere.drop_sessions() >= 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    from builder.cli import main
    from builder.leftovers import override_handler
    from builder.plugins import registry
    from builder.vsphere.clone import Builder
    from builder.vsphere.common.resources import HANDLER

    with (
        registry.override("builder", "vsphere-clone", Builder),
        override_handler("vsphere", HANDLER),
    ):
        sys.exit(main(sys.argv[1:]))
