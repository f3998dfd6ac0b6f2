"""SIGKILL a qemu build at each step, then `pybuild cleanup`: no qemu process, no output left.

The build runs as `python -m builder build` with `PYBUILD_FAULT=kill@...` (it kills itself
with SIGKILL there, leaving qemu running as an orphan) and its own PYBUILD_STATE_DIR;
cleanup runs as `python -m builder cleanup -state-dir=...`. What is left is asked of the
machine: processes carrying this test's mark, the output directory, the ledger files.
Ctrl-C (SIGINT) during the boot wait stops the build within seconds and leaves nothing.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from builder.ledger import read_run, run_files
from tests.integration.qemu.conftest import BootISO
from tests.integration.qemu.test_qemu_build import EXAMPLE, QemuBench

STEPS = ["StepTypeBootCommand", "StepConnect", "StepConvertDisk"]


@pytest.fixture
def bench(tmp_path: Path, qemu_iso: BootISO, qemu_binary: str) -> Iterator[QemuBench]:
    """Where the killed builds run; any qemu they left is killed afterwards, whatever happened."""
    b = QemuBench(tmp_path, qemu_iso)
    try:
        yield b
    finally:
        b.kill_qemus()


def killed_build(bench: QemuBench, point: str, *extra: str) -> str:
    """Build the example until the fault point kills pybuild; the run id of its ledger."""
    proc = bench.cli(
        "build", *bench.iso_vars(), *extra, str(EXAMPLE), PYBUILD_FAULT=f"kill@{point}"
    )
    assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr
    (ledger,) = run_files(bench.state_dir)
    return ledger.name.removesuffix(".jsonl")


def cleanup(bench: QemuBench, *args: str) -> str:
    proc = bench.cli("cleanup", f"-state-dir={bench.state_dir}", *args, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def assert_nothing_left(bench: QemuBench) -> None:
    assert bench.qemus() == []
    assert not (bench.tmp_path / "output-qemu").exists()
    assert run_files(bench.state_dir) == []


def clean_up_twice(bench: QemuBench) -> str:
    first = cleanup(bench)
    assert_nothing_left(bench)
    second = cleanup(bench)
    assert "Nothing to clean up" in second, second
    return first


@pytest.mark.parametrize("step", STEPS)
def test_killed_before_a_step_then_cleanup(bench: QemuBench, step: str) -> None:
    killed_build(bench, f"step:{step}")
    assert (bench.tmp_path / "output-qemu").is_dir()  # the partial output was left
    vm_left = step != "StepConvertDisk"  # by then the guest has powered itself off
    assert bool(bench.qemus()) == vm_left
    out = clean_up_twice(bench)
    assert "removed local.dir" in out, out
    if vm_left:
        assert "removed qemu.process" in out, out


def test_killed_after_qemu_started_before_its_pid_was_recorded(bench: QemuBench) -> None:
    """The process is found by the token in its environment, recorded before the start."""
    run_id = killed_build(bench, "created:qemu.process")
    (ledger,) = run_files(bench.state_dir)
    (process,) = [r for r in read_run(ledger).resources if r.ref == "qemu.process"]
    assert process.state == "creating" and process.name.startswith(f"{run_id}:")
    assert len(bench.qemus()) == 1
    out = clean_up_twice(bench)
    assert "removed qemu.process" in out and "create call not confirmed" in out, out


class _ThisRunOnly:
    """The real qemu handler, its sweep narrowed to one run: other suites may be running
    qemu builds on this machine right now, with their ledgers elsewhere."""

    def __init__(self, run_id: str):
        from builder.qemu.resources import HANDLER

        self.run_id, self.real = run_id, HANDLER

    def open(self, recorded: Any, full: Any) -> Any:
        from contextlib import contextmanager

        run_id, real = self.run_id, self.real

        @contextmanager
        def narrowed() -> Iterator[Any]:
            with real.open(recorded, full) as remover:

                class Narrowed:
                    def remove(self, res: Any) -> bool:
                        return remover.remove(res)

                    def sweep(self) -> list[Any]:
                        return [r for r in remover.sweep() if r.run_id == run_id]

                yield Narrowed()

        return narrowed()


def test_a_lost_ledger_is_made_up_for_by_sweep(bench: QemuBench) -> None:
    from builder.leftovers import cleanup as library_cleanup
    from builder.leftovers import override_handler

    run_id = killed_build(bench, "step:StepTypeBootCommand")
    for path in run_files(bench.state_dir):
        path.unlink()  # the ledger is gone; the qemu process still carries its run id
    assert len(bench.qemus()) == 1
    with override_handler("qemu", _ThisRunOnly(run_id)):
        report = library_cleanup(
            sweep=True, state_dir=str(bench.state_dir), sweep_platforms=["qemu"]
        )
    assert [(line.ref, line.outcome) for line in report.lines] == [("qemu.process", "removed")]
    assert bench.qemus() == []
    # the output directory was recorded only in the lost ledger: it is the user's to remove
    assert (bench.tmp_path / "output-qemu").is_dir()


def test_ctrl_c_during_the_boot_wait_leaves_nothing(bench: QemuBench) -> None:
    log = bench.tmp_path / "build.log"
    proc = bench.start("build", *bench.iso_vars(), "-var=boot_wait=10m", str(EXAMPLE), log=log)
    try:
        deadline = time.monotonic() + 120
        while "Waiting 10m0s for boot..." not in log.read_text(errors="replace"):
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        assert len(bench.qemus()) == 1
        os.kill(proc.pid, signal.SIGINT)
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text(errors="replace")
    assert code != 0, text
    assert "Deleting output directory..." in text, text
    assert_nothing_left(bench)
