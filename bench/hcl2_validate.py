"""`pybuild validate` of an HCL2 template against the same template in JSON, and against
packer 1.6.6 on the HCL2 template, alternating runs.

    python bench/hcl2_validate.py [--runs 20]

The templates are examples/docker (template.json and template.pkr.hcl, whose prepared
builds are equal: tests/unit/template/hcl2/test_hcl2_parity.py). Prints the median wall
time of each and the HCL2/JSON ratio (the goal: within 1.5x), with the parse cache warm (a
template validated again) and cold (the first time). Packer is skipped when absent.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "docker"


def timed(cmd: list[str]) -> float:
    env = dict(os.environ, CHECKPOINT_DISABLE="1")
    if cmd[0] == "cold":  # a parse cache of its own, empty: the first validate of a template
        cmd = cmd[1:]
        env["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="hcl2-bench-")
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=EXAMPLE, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    exe = str(Path(sys.executable).with_name("pybuild"))
    commands = {
        "pybuild validate template.json": [exe, "validate", "template.json"],
        "pybuild validate template.pkr.hcl": [exe, "validate", "template.pkr.hcl"],
        "pybuild validate template.pkr.hcl (cold cache)": [
            "cold",
            exe,
            "validate",
            "template.pkr.hcl",
        ],
    }
    if shutil.which("packer"):
        commands["packer 1.6.6 validate template.pkr.hcl"] = [
            "packer",
            "validate",
            "template.pkr.hcl",
        ]
    times: dict[str, list[float]] = {k: [] for k in commands}
    for cmd in commands.values():  # warm the page cache and python-hcl2's lark cache
        timed(cmd)
    for _ in range(args.runs):
        for name, cmd in commands.items():
            times[name].append(timed(cmd))
    medians = {k: statistics.median(v) * 1000 for k, v in times.items()}
    for name, ms in medians.items():
        print(f"{name:45s} {ms:7.1f} ms (median of {args.runs})")
    hcl, js = (
        medians["pybuild validate template.pkr.hcl"],
        medians["pybuild validate template.json"],
    )
    cold = medians["pybuild validate template.pkr.hcl (cold cache)"]
    print(f"{'HCL2 / JSON':45s} {hcl / js:7.2f}x (goal: within 1.5x)")
    print(f"{'HCL2 cold cache / JSON':45s} {cold / js:7.2f}x")
    if "packer 1.6.6 validate template.pkr.hcl" in medians:
        packer = medians["packer 1.6.6 validate template.pkr.hcl"]
        print(f"{'pybuild HCL2 / packer HCL2':45s} {hcl / packer:7.2f}x")


if __name__ == "__main__":
    main()
