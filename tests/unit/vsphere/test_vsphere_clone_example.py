"""examples/vsphere/clone.json prepares without errors (packer 1.6.6 validates it too)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from builder.engine import RunOptions, load_template, prepare

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "vsphere" / "clone.json"


def test_clone_example_prepares(fake: Any, monkeypatch: Any) -> None:
    from provisioners.shell import ShellProvisioner

    monkeypatch.chdir(EXAMPLE.parent)
    variables = {"vcenter_server": "vc.test", "username": "u", "password": "example-pw",
                 "cluster": "DC0_C0", "ssh_password": "example-ssh-pw"}  # fmt: skip
    prepared = prepare(load_template(str(EXAMPLE), variables), RunOptions(record_resources=False))
    assert not prepared.errors, prepared.errors
    (build,) = prepared.builds
    assert build.builder.config.convert_to_template
    assert ShellProvisioner is not None
