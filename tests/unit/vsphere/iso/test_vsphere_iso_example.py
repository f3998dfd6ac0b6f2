"""examples/vsphere/iso.json: valid for pybuild as written (and for packer 1.6.6), every
option it names is a vsphere-iso option, its preseed is where http_directory says."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from builder.engine import RunOptions, load_template, prepare

ROOT = Path(__file__).resolve().parents[4]
EXAMPLE = ROOT / "examples" / "vsphere" / "iso.json"
VARS = {
    "vcenter_server": "vcenter.example:443",
    "username": "builder@vsphere.local",
    "password": "example-password",
    "cluster": "Cluster",
    "datastore": "datastore1",
    "iso_url": "https://cdimage.example/debian-netinst.iso",
    "iso_checksum": "sha256:" + "ab" * 32,
}


def test_the_example_validates_and_plans_the_iso_steps(fake: Any) -> None:
    prepared = prepare(load_template(str(EXAMPLE), VARS), RunOptions(record_resources=False))
    assert not prepared.errors, prepared.all_errors
    (build,) = prepared.builds
    cfg = build.builder.config
    assert cfg.communicator == "ssh" and cfg.convert_to_template and cfg.boot_command
    assert Path(cfg.http_directory, "preseed.cfg").is_file()
    steps = [name for name, _ in build.builder.plan_steps()]
    assert steps[:5] == [
        "StepConnectVSphere",
        "StepDownload",
        "StepCreateCD",
        "StepRemoteUpload",
        "StepCreateVM",
    ]
    assert "StepBootCommand" in steps and "StepWaitForIp" in steps


def test_the_preseed_installs_vmware_tools_and_ssh() -> None:
    preseed = (EXAMPLE.parent / "http" / "preseed.cfg").read_text()
    assert "d-i pkgsel/include string open-vm-tools" in preseed
    assert "ssh-server" in preseed


@pytest.mark.packer
def test_packer_validates_the_example_unchanged(tmp_path: Path) -> None:
    packer = shutil.which("packer")
    if packer is None:
        pytest.skip("packer 1.6.6 is not installed (Debian package packer)")
    # a local ISO with a checksum: packer 1.6.6 fetches `file:` checksums at validate time
    iso = tmp_path / "netinst.iso"
    iso.write_bytes(b"CD001")
    args = [f"-var={k}={v}" for k, v in {**VARS, "iso_url": str(iso)}.items()]
    proc = subprocess.run(
        [packer, "validate", *args, str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "CHECKPOINT_DISABLE": "1"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
