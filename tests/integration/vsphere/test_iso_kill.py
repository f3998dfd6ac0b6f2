"""SIGKILL a vsphere-iso build against the simulator, then `pybuild cleanup`: nothing left.

The build runs as its own process (`python -m builder build` with `PYBUILD_FAULT=kill@...`:
it kills itself with SIGKILL there) and its own PYBUILD_STATE_DIR; `pybuild cleanup`
reads the ledger it left and removes the VM, the uploads and the local images, logging
in with the password from VSPHERE_PASSWORD (the ledger never holds it). The ISO upload is
kept whole (as packer 1.6.6 keeps it in packer_cache); one cut off by the kill is removed.

Until pyproject names vsphere-iso and the vsphere cleanup handler, the processes register
them the way the `plugins` fixture does, through `RUNNER`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from builder.ledger import read_run, run_files
from tests.integration.vsphere.conftest import LeakCheck
from tests.integration.vsphere.test_iso_build import (
    Guest,
    ISOBench,
    bench,
    remove_cached_iso,
    vm_name,
)

__all__ = ["bench"]  # the fixture, shared with test_iso_build

ROOT = Path(__file__).resolve().parents[3]

# `python -c RUNNER ARGS...`: pybuild's CLI with vsphere-iso and the vsphere cleanup handler
# registered when the installed entry points do not name them yet.
RUNNER = """
import sys
from contextlib import ExitStack
from importlib.metadata import entry_points

stack = ExitStack()
if not [e for e in entry_points(group="pybuild.builders") if e.name == "vsphere-iso"]:
    from builder.plugins import registry
    from builder.vsphere.iso import Builder
    stack.enter_context(registry.override("builder", "vsphere-iso", Builder))
if not [e for e in entry_points(group="pybuild.resources") if e.name == "vsphere"]:
    from builder.leftovers import override_handler
    from builder.vsphere.common.resources import HANDLER
    stack.enter_context(override_handler("vsphere", HANDLER))
from builder.cli import main
with stack:
    sys.exit(main(sys.argv[1:]))
"""


def cli(
    bench: ISOBench, *args: str, fault: str = "", timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYBUILD_STATE_DIR": str(bench.root / "state"),
        "PACKER_CACHE_DIR": str(bench.root / "packer_cache"),
        "VSPHERE_PASSWORD": bench.vsphere.password,
        "PYTHONPATH": str(ROOT),
    }
    if fault:
        env["PYBUILD_FAULT"] = f"kill@{fault}"
    return subprocess.run(
        [sys.executable, "-c", RUNNER, *args],
        cwd=bench.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def state_dir(bench: ISOBench) -> Path:
    return bench.root / "state"


@pytest.mark.parametrize(
    "point",
    [
        "created:vsphere.file",  # an upload done, its record not yet confirmed
        "step:StepAddFloppy",  # the VM made, the ISO and CD image uploaded
        "step:StepBootCommand",  # powered on, the floppy uploaded and attached
        "step:StepConvertToTemplate",  # shut down, the floppy gone, the CD-ROMs ejected
    ],
)
def test_killed_at_a_point_then_cleanup_leaves_nothing(
    bench: ISOBench, vsphere: LeakCheck, point: str
) -> None:
    name = vm_name("kill")
    guest = Guest(vsphere.server, name, keys=bench.boot_keys(name), timeout=60)
    if point == "step:StepConvertToTemplate":
        guest.start()  # the installer powers the VM off, so the build gets that far
    path = bench.template(bench.block(name))
    proc = cli(bench, "build", str(path), fault=point)
    assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr
    (ledger,) = run_files(state_dir(bench))
    left = read_run(ledger).outstanding()
    assert left, "the killed build recorded what it made"
    out = cli(bench, "cleanup", f"-state-dir={state_dir(bench)}")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "removed vsphere.session" in out.stdout, out.stdout  # logged out for the dead run
    if point.startswith("step:"):
        assert "removed vsphere.vm" in out.stdout, out.stdout
        assert "removed local.file" in out.stdout, out.stdout  # the cd_files image
    assert run_files(state_dir(bench)) == []
    again = cli(bench, "cleanup", f"-state-dir={state_dir(bench)}")
    assert "Nothing to clean up" in again.stdout, again.stdout + again.stderr
    if point == "step:StepConvertToTemplate":
        guest.join(1)
    with vsphere.connection() as si:
        assert vsphere.vm(si, name) is None
        if vsphere.download(bench.iso_remote) is not None:  # a whole ISO upload is kept
            assert point != "created:vsphere.file"
            remove_cached_iso(vsphere, si, bench.iso_remote)
    local = [r.name for r in left if r.ref == "local.file"]
    assert [p for p in local if os.path.exists(p)] == []  # the cd and floppy images
    # the `vsphere` leak check: no VM, no datastore file, no session left
