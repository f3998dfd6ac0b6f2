"""`pybuild validate` / `build` / `version` against packer 1.6.6, alternating runs, same template.

    python bench/cli_startup.py [--runs 20] [--template examples/null/template.json]
    python bench/cli_startup.py --one        # one null build + one shell-local (`true`)
    python bench/cli_startup.py --builds 50  # 50 null builds, each with that provisioner

Prints the median wall time of each command and pybuild/packer ratios (< 1 = pybuild faster).
Needs Debian's `packer` on PATH and pybuild installed (the `pybuild` of the active venv,
or `python -m builder`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--template", default=str(ROOT / "examples/null/template.json"))
    ap.add_argument(
        "--pybuild",
        help="pybuild executable to time (default: the one beside this Python); an editable "
        "install pays ~8 ms more per start for its import hook",
    )
    ap.add_argument("--one", action="store_true", help="time the one-build template")
    ap.add_argument("--builds", type=int, default=0, help="time an N-build null template")
    args = ap.parse_args()
    if args.one or args.builds:
        import json
        import tempfile

        n = max(1, args.builds)
        builders = [{"type": "null", "name": f"b{i}", "communicator": "none"} for i in range(n)]
        if n == 1:
            builders = [{"type": "null", "communicator": "none"}]
        shell = {"type": "shell-local", "inline": ["true"]}
        path = Path(tempfile.mkdtemp(prefix="bench-startup-")) / "t.json"
        path.write_text(json.dumps({"builders": builders, "provisioners": [shell]}))
        args.template = str(path)
    packer = shutil.which("packer")
    if not packer:
        raise SystemExit(
            "packer is not installed (apt-get install packer): nothing to compare with"
        )
    pybuild = args.pybuild or shutil.which("pybuild", path=str(Path(sys.executable).parent)) or ""
    py = [pybuild] if pybuild else [sys.executable, "-m", "builder"]
    env = dict(os.environ, CHECKPOINT_DISABLE="1", NO_COLOR="1")
    env.pop("PYBUILD_LOG", None)
    env.pop("PACKER_LOG", None)
    # measure what users run: bytecode cached (pip writes .pyc at install; the warm-up
    # run writes it for an editable checkout). Some shells here set this variable.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    cases = {
        "validate": ([*py, "validate", args.template], [packer, "validate", args.template]),
        "build": ([*py, "build", args.template], [packer, "build", args.template]),
        "version": ([*py, "version"], [packer, "version"]),
    }
    print(
        f"pybuild: {' '.join(py)}\npacker:  {packer}\ntemplate: {args.template}\nruns: {args.runs}\n"
    )
    print(f"{'command':<10} {'pybuild (s)':>12} {'packer (s)':>11} {'ratio':>7}")
    for name, (ours, theirs) in cases.items():
        timed(ours, env), timed(theirs, env)  # warm caches once
        a, b = [], []
        for _ in range(args.runs):  # alternate so drift affects both equally
            a.append(timed(ours, env))
            b.append(timed(theirs, env))
        ma, mb = statistics.median(a), statistics.median(b)
        print(f"{name:<10} {ma:>12.3f} {mb:>11.3f} {ma / mb:>7.2f}")


if __name__ == "__main__":
    main()
