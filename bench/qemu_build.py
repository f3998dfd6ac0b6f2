"""The same qemu ISO build with pybuild and with packer 1.6.6, alternating runs.

    python bench/qemu_build.py [--runs 3] [--iso PATH] [--accelerator tcg]

Both tools build examples/qemu/template.json from the project's test ISO (bash
tests/testbed/qemu.sh makes it) in a fresh directory each run: boot command over VNC,
the answer file over HTTP, SSH, a shell provisioner, poweroff, qemu-img convert -c, then
the compress and checksum post-processors. The order alternates run by run. Printed:
each run's wall time and the seconds from start until "Connected to SSH!", the medians,
and pybuild/packer. Every byte stays on this machine (packer 1.6.6 forwards the SSH port
on every address, pybuild on 127.0.0.1 only; both connect to 127.0.0.1).
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "examples" / "qemu" / "template.json"
ISO_GLOB = "/var/cache/pybuild-testbed/qemu/iso-*/pybuild-test.iso"
# pybuild's CLI, registering the qemu builder itself until pyproject's entry point exists.
LAUNCH = (ROOT / "tests" / "integration" / "qemu" / "test_qemu_build.py").read_text()
LAUNCH = LAUNCH.split('LAUNCH = """', 1)[1].split('"""', 1)[0]


def newest_iso() -> str:
    found = sorted(glob.glob(ISO_GLOB), key=os.path.getmtime)
    if not found:
        raise SystemExit(f"no test ISO at {ISO_GLOB}: run `bash tests/testbed/qemu.sh`")
    return found[-1]


def one_build(name: str, command: list[str]) -> tuple[float, float]:
    """Build once in a fresh directory: (wall seconds, seconds until SSH connected)."""
    work = Path(tempfile.mkdtemp(prefix=f"bench-qemu-{name}-"))
    env = {**os.environ, "PACKER_CACHE_DIR": str(work / "packer_cache"), "NO_COLOR": "1",
           "CHECKPOINT_DISABLE": "1", "PYBUILD_STATE_DIR": str(work / "state")}  # fmt: skip
    started = time.perf_counter()
    ssh_at = float("nan")
    lines: list[str] = []
    try:
        proc = subprocess.Popen(command, cwd=work, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)  # fmt: skip
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "Connected to SSH!" in line and ssh_at != ssh_at:
                ssh_at = time.perf_counter() - started
        code = proc.wait()
        wall = time.perf_counter() - started
        if code != 0:
            raise SystemExit(f"{name} build failed ({code}):\n{''.join(lines[-40:])}")
        return wall, ssh_at
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--iso", default="")
    ap.add_argument("--accelerator", default="tcg", help="tcg (default), kvm, or '' to detect")
    args = ap.parse_args()
    iso = args.iso or newest_iso()
    digest = hashlib.sha256(Path(iso).read_bytes()).hexdigest()
    variables = [f"-var=iso_url={iso}", f"-var=iso_checksum=sha256:{digest}",
                 f"-var=accelerator={args.accelerator}"]  # fmt: skip
    packer = shutil.which("packer")
    if packer is None:
        raise SystemExit("packer is not installed: apt-get install packer (1.6.6)")
    commands = {
        "pybuild": [sys.executable, "-c", LAUNCH, "build", *variables, str(TEMPLATE)],
        "packer": [packer, "build", *variables, str(TEMPLATE)],
    }
    print(f"ISO {iso} (sha256 {digest[:12]}...), accelerator {args.accelerator or 'detected'}")
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for run in range(args.runs):
        order = list(commands) if run % 2 == 0 else list(reversed(commands))
        for name in order:
            wall, ssh = one_build(name, commands[name])
            times[name].append((wall, ssh))
            print(f"run {run + 1} {name:8s} {wall:6.1f} s  (SSH connected after {ssh:5.1f} s)")
    medians = {n: statistics.median(w for w, _ in t) for n, t in times.items()}
    to_ssh = {n: statistics.median(s for _, s in t) for n, t in times.items()}
    for name in commands:
        print(f"median {name:8s} {medians[name]:6.1f} s  (SSH after {to_ssh[name]:5.1f} s)")
    print(f"pybuild/packer wall: {medians['pybuild'] / medians['packer']:.2f}")


if __name__ == "__main__":
    main()
