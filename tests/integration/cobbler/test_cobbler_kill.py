"""SIGKILL `pybuild build` inside the cobbler post-processor, then `pybuild cleanup`: Cobbler
and files_dir are as before.

The build runs as `python -m builder build` (file builder, artifice, cobbler) with
`PYBUILD_FAULT=kill@POINT`: after the files are copied (nothing registered yet), after the
distro was saved, after the profile, after a system (the create call returned, the
ledger's `created` record not yet written). Cleanup logs in with COBBLER_PASSWORD (the
password is never in the ledger); the `cobbler` fixture checks that no distro, profile or
system is left.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.conftest import run_cli, write_template
from tests.integration.cobbler.conftest import BootFiles, Cobbler, random_mac, unique
from tests.integration.cobbler.test_cobbler import cobbler_pp


@pytest.mark.parametrize(
    "fault",
    [
        "cobbler:files",
        "created:cobbler.distro",
        "created:cobbler.profile",
        "created:cobbler.system",
    ],
)
def test_a_killed_registration_leaves_nothing_after_cleanup(
    cobbler: Cobbler, boot_files: BootFiles, tmp_path: Path, fault: str
) -> None:
    distro = unique("killed")
    pp = cobbler_pp(tmp_path, distro, systems=[{"name": f"{distro}-n", "mac": random_mac()}])
    (tmp_path / "out").mkdir()
    template = write_template(
        tmp_path,
        {
            "builders": [{"type": "file", "content": "x", "target": str(tmp_path / "out" / "x")}],
            "post-processors": [[{"type": "artifice", "files": boot_files.paths}, pp]],
        },
    )
    env = {"PYBUILD_STATE_DIR": str(tmp_path / "state"), "NO_COLOR": "1"}
    proc = run_cli(
        "build", str(template), cwd=tmp_path, env={**env, "PYBUILD_FAULT": f"kill@{fault}"}
    )
    assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr
    files = tmp_path / "files" / distro
    assert any(files.iterdir()), "the kill came before anything was copied"
    if fault != "cobbler:files":
        assert cobbler.get("distro", distro) is not None
    cleaned = run_cli("cleanup", f"-state-dir={tmp_path / 'state'}", cwd=tmp_path, env=env)
    assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
    assert cobbler.get("distro", distro) is None
    assert not files.exists()
    assert not list((tmp_path / "state").glob("*.jsonl")), "the ledger is still there"
