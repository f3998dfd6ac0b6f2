"""`pybuild plan` against `pybuild validate` on the same template, alternating runs.

    python bench/plan_vs_validate.py [--runs 20] [--template T]

The default template has a docker, an amazon-ebs and two null builds, provisioners with
only/except/override and two post-processor chains (tests/unit/test_plan.py's). Prints
the median wall time of each and plan/validate (plan should cost little more: it
prepares the builds exactly as validate does, then only describes them).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def timed(cmd: list[str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--template", default="")
    args = ap.parse_args()
    path = args.template
    if not path:
        from tests.unit.test_plan import TEMPLATE

        fd, path = tempfile.mkstemp(suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump(TEMPLATE, f)
    exe = str(Path(sys.executable).with_name("pybuild"))
    commands = {
        "validate": [exe, "validate", path],
        "plan": [exe, "plan", path],
        "plan -format=json": [exe, "plan", "-format=json", path],
    }
    for cmd in commands.values():  # warm the bytecode cache
        timed(cmd)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, cmd in commands.items():
            times[name].append(timed(cmd))
    base = statistics.median(times["validate"])
    print(f"template: {path}, {args.runs} alternating runs each")
    for name, samples in times.items():
        median = statistics.median(samples)
        print(f"{name:<20} median {median * 1000:7.1f} ms   ratio to validate {median / base:.2f}x")


if __name__ == "__main__":
    main()
