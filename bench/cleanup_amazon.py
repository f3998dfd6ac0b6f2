"""`pybuild cleanup` after an amazon-ebs build killed at StepProvision: seconds and API calls.

    python bench/cleanup_amazon.py [--runs 3] [--regions 0] [--latency 0]

Starts moto's server on 127.0.0.1 (no network), seeds a source AMI, then per run:

1. `python -m builder build` (communicator none) with `PYBUILD_FAULT=kill@step:StepProvision`
   and its own PYBUILD_STATE_DIR: it dies by SIGKILL with a key pair, a security group
   and a running instance left, all in its ledger.
2. `pybuild cleanup` in-process (`builder.leftovers.cleanup`), EC2 calls counted with
   `builder.amazon.common.sdk.CLIENT_HOOKS` (botocore's `before-call` on every client).
3. Another killed build, then `python -m builder cleanup -state-dir=...` as a user runs it:
   wall time with interpreter start-up, requests counted by a proxy in front of moto.

`--latency S` makes every instance state change take S seconds at the endpoint for the
cleanups (termination takes 30-60 s on real EC2), to show what the polling costs.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from aws_calls import Latency, seed, start_moto  # noqa: E402  (the same moto set-up)


class CountingProxy:
    """HTTP proxy on 127.0.0.1 in front of moto that counts EC2 actions."""

    def __init__(self, upstream: str):
        self.counts: Counter[str] = Counter()
        lock, proxy = threading.Lock(), self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    proxy.counts[parse_qs(body.decode()).get("Action", ["?"])[0]] += 1
                request = urllib.request.Request(
                    upstream + self.path, body, dict(self.headers.items()), method="POST"
                )
                try:
                    with urllib.request.urlopen(request, timeout=60) as resp:
                        status, headers, data = resp.status, resp.getheaders(), resp.read()
                except urllib.error.HTTPError as err:
                    status, headers, data = err.code, err.headers.items(), err.read()
                self.send_response(status)
                for key, value in headers:
                    if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def template(directory: Path, regions: list[str]) -> Path:
    path = directory / "t.json"
    builder = {
        "type": "amazon-ebs",
        "region": "us-east-1",
        "source_ami_filter": {
            "filters": {"name": "debian-12-*"},
            "owners": ["self"],
            "most_recent": True,
        },
        "instance_type": "t3.micro",
        "ami_name": "bench-cleanup-" + os.urandom(4).hex(),
        "ami_regions": regions,
        "communicator": "none",
        "aws_polling": {"delay_seconds": 0.05, "max_attempts": 200},
    }
    path.write_text(json.dumps({"builders": [builder]}))
    return path


def killed_build(directory: Path, state: Path, regions: list[str]) -> None:
    """A build that dies by SIGKILL just before StepProvision."""
    env = {**os.environ, "PYBUILD_STATE_DIR": str(state)}
    env["PYBUILD_FAULT"] = "kill@step:StepProvision"
    proc = subprocess.run(
        [sys.executable, "-m", "builder", "build", str(template(directory, regions))],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != -signal.SIGKILL:
        raise SystemExit(f"the build was not killed ({proc.returncode}):\n{proc.stdout}")


def library_cleanup(state: Path) -> tuple[float, Counter[str], list[str]]:
    """`builder.leftovers.cleanup()` in this process: (seconds, EC2 calls, outcome lines)."""
    from builder.amazon.common import sdk
    from builder.leftovers import cleanup

    calls: Counter[str] = Counter()

    def hook(client: Any) -> None:
        def count(model: Any, **_: Any) -> None:
            calls[model.name] += 1

        client.meta.events.register("before-call.*.*", count)

    sdk.CLIENT_HOOKS.append(hook)
    started = time.perf_counter()
    try:
        report = cleanup(state_dir=str(state))
    finally:
        sdk.CLIENT_HOOKS.remove(hook)
    seconds = time.perf_counter() - started
    if not report.ok:
        raise SystemExit(f"cleanup failed: {report.lines}")
    return seconds, calls, [f"{line.outcome} {line.ref}" for line in report.lines]


def cli_cleanup(state: Path, proxy: CountingProxy) -> tuple[float, Counter[str]]:
    """`python -m builder cleanup` as a user runs it: (wall seconds, requests by action)."""
    proxy.counts.clear()
    env = {**os.environ, "AWS_ENDPOINT_URL": proxy.url}
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "builder", "cleanup", f"-state-dir={state}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"pybuild cleanup failed:\n{proc.stdout}{proc.stderr}")
    return seconds, Counter(proxy.counts)


def by_operation(calls: Counter[str]) -> str:
    return ", ".join(f"{op} {n}" for op, n in sorted(calls.items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="killed builds cleaned up per way")
    ap.add_argument("--regions", type=int, default=0, help="copy regions (none are made yet)")
    ap.add_argument("--latency", type=float, default=0.0, help="seconds per state change")
    args = ap.parse_args()
    server, url = start_moto()
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=url,
        AWS_EC2_METADATA_DISABLED="true",
    )
    proxy = CountingProxy(url)
    regions = ["us-west-2", "eu-west-1", "eu-central-1"][: args.regions]
    try:
        seed(url)
        if args.latency:
            Latency.install()
        print(
            "== pybuild cleanup after an amazon-ebs build killed at StepProvision "
            f"(moto on loopback, state-change latency {args.latency:g} s)"
        )
        lib_times, cli_times = [], []
        for run in range(args.runs):
            with tempfile.TemporaryDirectory() as tmp:
                state = Path(tmp) / "state"
                Latency.seconds = 0.0
                killed_build(Path(tmp), state, regions)
                Latency.seconds = args.latency
                seconds, calls, lines = library_cleanup(state)
                lib_times.append(seconds)
                print(
                    f"  library run {run + 1}: {seconds:.2f} s, {sum(calls.values())} EC2 calls "
                    f"({by_operation(calls)})"
                )
                if run == 0:
                    print("    " + "; ".join(lines))
            with tempfile.TemporaryDirectory() as tmp:
                state = Path(tmp) / "state"
                Latency.seconds = 0.0
                killed_build(Path(tmp), state, regions)
                Latency.seconds = args.latency
                seconds, requests = cli_cleanup(state, proxy)
                cli_times.append(seconds)
                print(
                    f"  CLI run {run + 1}: {seconds:.2f} s wall, {sum(requests.values())} "
                    f"requests ({by_operation(requests)})"
                )
        print(
            f"median: library {statistics.median(lib_times):.2f} s, "
            f"`python -m builder cleanup` {statistics.median(cli_times):.2f} s wall"
        )
    finally:
        proxy.close()
        server.stop()


if __name__ == "__main__":
    main()
