"""The Docker example end to end: pybuild against packer 1.6.6 in the same run, and 8 builds in parallel.

    python bench/docker_build.py [--runs 5] [--apt-runs 2] [--parallel 8] [--apt-parallel]

1. `examples/docker/template.json` as it is (apt-get installs cloud-init): `--apt-runs`
   alternating runs of each tool. apt dominates this figure (~14 s), so:
2. the same template with a cheap provisioner (one `echo` into the image) for `--runs`
   alternating runs: the figure that shows each tool's own cost.
3. `--parallel` copies of the cheap build in one template (builders b1..bN) against one
   build, pybuild only: wall-time ratio (goal: under 2x on 2 cores). `--apt-parallel`
   does the same with the full apt example.

4. `--api-profile`: the N-wide cheap build once more, in this process, with every Engine
   API call timed (count, total and worst latency per call): where the wall time goes.
5. `--floor`: the same Engine API calls as one cheap build (create, start, inspect, one
   archive upload, three execs, kill, commit, remove, tag) made directly through the SDK,
   1-wide and N-wide: what the engine alone costs, with no pybuild at all.

Needs the local engine and base image (tests/testbed/setup.sh), Debian's packer for (1)
and (2), and pybuild installed. Images the runs make are removed afterwards.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "docker" / "template.json"
CHEAP = ["echo cheap > /etc/pybuild-build-info"]


def pybuild_cmd() -> list[str]:
    exe = shutil.which("pybuild", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "builder"]


def variant(cheap: bool, builders: int = 1) -> dict[str, Any]:
    """The example, optionally with the cheap provisioner and N named copies of its builder."""
    data = json.loads(EXAMPLE.read_text())
    if cheap:
        data["provisioners"][0]["inline"] = list(CHEAP)
    if builders > 1:
        one = data["builders"][0]
        data["builders"] = [{**copy.deepcopy(one), "name": f"b{i}"} for i in range(1, builders + 1)]
        data["post-processors"][0][0]["repository"] = "{{user `repository`}}-{{build_name}}"
    return data


def run(cmd: list[str], work: Path, template: Path, repo: str, env: dict[str, str]) -> float:
    args = [
        "build",
        "-color=false",
        "-var",
        f"repository={repo}",
        "-var",
        f"manifest={work / 'manifest.json'}",
        str(template),
    ]
    started = time.perf_counter()
    proc = subprocess.run([*cmd, *args], cwd=work, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return elapsed


def remove_images(prefix: str) -> None:
    """Remove every image tagged `<prefix>...` (the bench's own)."""
    out = subprocess.run(
        ["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"],
        capture_output=True,
        text=True,
    ).stdout.split()
    refs = [r for r in out if r.startswith(prefix)]
    if refs:
        subprocess.run(["docker", "rmi", "-f", *refs], capture_output=True)


def compare(
    name: str,
    runs: int,
    template: Path,
    tools: dict[str, list[str]],
    work: Path,
    env: dict[str, str],
) -> None:
    times: dict[str, list[float]] = {t: [] for t in tools}
    for i in range(runs):
        for tool, cmd in tools.items():  # alternating: pybuild, packer, pybuild, packer ...
            repo = f"pybuild-bench/{tool}"
            times[tool].append(run(cmd, work, template, repo, env))
            remove_images("pybuild-bench/")
        print(f"  {name} run {i + 1}: " + ", ".join(f"{t} {v[-1]:.2f} s" for t, v in times.items()))
    med = {t: statistics.median(v) for t, v in times.items()}
    line = ", ".join(f"{t} median {m:.2f} s" for t, m in med.items())
    if "packer" in med:
        line += f", ratio pybuild/packer {med['pybuild'] / med['packer']:.2f}"
    print(f"{name}: {line}\n")


def parallel(n: int, cheap: bool, work: Path, env: dict[str, str], runs: int) -> None:
    single, many = work / f"single-{cheap}.json", work / f"many-{cheap}.json"
    single.write_text(json.dumps(variant(cheap)))
    many.write_text(json.dumps(variant(cheap, n)))
    one: list[float] = []
    all_: list[float] = []
    for _ in range(runs):
        one.append(run(pybuild_cmd(), work, single, "pybuild-bench/par", env))
        remove_images("pybuild-bench/")
        all_.append(run(pybuild_cmd(), work, many, "pybuild-bench/par", env))
        remove_images("pybuild-bench/")
    a, b = statistics.median(one), statistics.median(all_)
    label = "cheap provisioner" if cheap else "apt example"
    print(
        f"parallel ({label}): 1 build {a:.2f} s, {n} builds in one template {b:.2f} s, "
        f"ratio {b / a:.2f} (goal < 2 on {os.cpu_count()} cores)\n"
    )


def api_profile(n: int, work: Path, env: dict[str, str]) -> None:
    """Run the N-wide cheap build in this process and time each Engine API call."""
    import collections
    import io
    import re

    import requests

    calls: list[tuple[str, float]] = []
    send = requests.Session.send

    def timed(self: Any, request: Any, **kw: Any) -> Any:
        started = time.perf_counter()
        try:
            return send(self, request, **kw)
        finally:
            path = re.sub(r"/v1\.\d+|\?.*", "", request.path_url)
            path = re.sub(r"/(containers|exec|images)/(?!create$)[^/]+", r"/\1/<id>", path)
            calls.append((f"{request.method} {path}", time.perf_counter() - started))

    many = work / "profile.json"
    many.write_text(json.dumps(variant(True, n)))
    os.environ.update(env)
    from builder.cli import main as pybuild_main

    requests.Session.send = timed  # type: ignore[method-assign]
    started = time.perf_counter()
    try:
        args = ["build", "-color=false", "-var", "repository=pybuild-bench/prof"]
        code = pybuild_main(
            [*args, "-var", f"manifest={work / 'm.json'}", str(many)], io.StringIO()
        )
    finally:
        requests.Session.send = send  # type: ignore[method-assign]
    wall = time.perf_counter() - started
    remove_images("pybuild-bench/")
    print(f"API profile, {n} builds in one process: exit {code}, wall {wall:.2f} s")
    table: dict[str, list[float]] = collections.defaultdict(list)
    for name, took in calls:
        table[name].append(took)
    for name, took in sorted(table.items(), key=lambda kv: -sum(kv[1])):
        print(f"  {len(took):4d} x {name:36} total {sum(took):6.2f} s, worst {max(took):5.2f} s")
    print(f"  ({len(calls) / n:.1f} calls per build)\n")


def engine_floor(n: int, runs: int) -> None:
    """One cheap build's Engine API calls through the SDK alone, 1-wide and N-wide."""
    import io
    import tarfile
    import threading

    import docker

    api = docker.APIClient()
    image = json.loads(EXAMPLE.read_text())["variables"]["base_image"]
    script = b"echo cheap > /etc/pybuild-build-info\n"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("script.sh")
        info.size, info.mode = len(script), 0o644
        tar.addfile(info, io.BytesIO(script))

    def run_exec(cid: str, cmd: str) -> None:
        exec_id = api.exec_create(cid, ["/bin/sh", "-c", cmd])["Id"]
        for _ in api.exec_start(exec_id, stream=True):
            pass
        api.exec_inspect(exec_id)

    def build(i: int) -> None:
        shared = tempfile.mkdtemp(prefix="floor-")
        host = api.create_host_config(binds=[f"{shared}:/packer-files"])
        cid = api.create_container(
            image, stdin_open=True, tty=True, entrypoint=["/bin/sh"], host_config=host
        )["Id"]
        api.start(cid)
        api.inspect_container(cid)
        api.put_archive(cid, "/tmp", buf.getvalue())
        for cmd in ("chmod 0755 /tmp/script.sh", "/tmp/script.sh", "rm -f /tmp/script.sh"):
            run_exec(cid, cmd)
        api.kill(cid)
        api.wait(cid)
        committed = api.commit(cid, pause=False)["Id"]
        api.remove_container(cid, force=True, v=True)
        os.rmdir(shared)
        api.tag(committed, f"pybuild-bench/floor{i}", "latest")

    def wave(width: int) -> float:
        threads = [threading.Thread(target=build, args=(i,)) for i in range(width)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        remove_images("pybuild-bench/floor")
        return elapsed

    one, many = [], []
    for _ in range(runs):
        one.append(wave(1))
        many.append(wave(n))
    a, b = statistics.median(one), statistics.median(many)
    print(
        f"engine floor (SDK only, no pybuild): 1 build {a:.2f} s, {n} builds {b:.2f} s, "
        f"ratio {b / a:.2f}\n"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5, help="alternating runs, cheap provisioner")
    ap.add_argument("--apt-runs", type=int, default=2, help="alternating runs of the apt example")
    ap.add_argument("--parallel", type=int, default=8, help="builds in the parallel template")
    ap.add_argument("--parallel-runs", type=int, default=2)
    ap.add_argument("--apt-parallel", action="store_true", help="also run the apt example N-wide")
    ap.add_argument("--api-profile", action="store_true", help="time each Engine API call")
    ap.add_argument("--floor", action="store_true", help="the engine alone, no pybuild")
    args = ap.parse_args()
    env = dict(os.environ, CHECKPOINT_DISABLE="1", NO_COLOR="1")
    for key in ("PYBUILD_LOG", "PACKER_LOG", "DOCKER_HOST"):
        env.pop(key, None)
    tools = {"pybuild": pybuild_cmd()}
    packer = shutil.which("packer")
    if packer:
        tools["packer"] = [packer]
    else:
        print("packer is not installed (apt-get install packer): pybuild figures only\n")
    with tempfile.TemporaryDirectory(prefix="pybuild-bench-") as tmp:
        work = Path(tmp)
        env["PACKER_TMP_DIR"] = str(work / "packer-tmp")
        cheap = work / "cheap.json"
        cheap.write_text(json.dumps(variant(True)))
        print(
            f"pybuild: {' '.join(tools['pybuild'])}\npacker:  {packer}\ncores: {os.cpu_count()}\n"
        )
        if args.apt_runs:
            compare(
                "example (apt-get install cloud-init)", args.apt_runs, EXAMPLE, tools, work, env
            )
        if args.runs:
            compare("example, cheap provisioner", args.runs, cheap, tools, work, env)
        if args.parallel > 1 and args.parallel_runs:
            parallel(args.parallel, True, work, env, args.parallel_runs)
            if args.apt_parallel:
                parallel(args.parallel, False, work, env, 1)
        if args.floor:
            engine_floor(args.parallel, max(args.parallel_runs, 3))
        if args.api_profile:
            api_profile(args.parallel, work, env)
        remove_images("pybuild-bench/")


if __name__ == "__main__":
    main()
