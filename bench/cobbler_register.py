"""The `cobbler` post-processor against the real cobblerd: time from artifact to a synced
profile, and XML-RPC calls per registration, counted by a counting proxy.

    python bench/cobbler_register.py [--runs 5] [--systems 1] [--state DIR]

Starts its own cobblerd with `tests/testbed/cobbler.sh start` (root; Cobbler installed by
`bash tests/testbed/cobbler.sh`) on 127.0.0.1:25151 unless one answers there already, and
stops it at the end if it started it. The post-processor talks to a counting XML-RPC proxy on
an ephemeral loopback port in front of it. Each run is a `pybuild build` of a `file` builder
chained through `artifice` (a 256 KiB kernel, a 128 KiB initrd and a 4 MiB raw disk) to
`cobbler` (distro, profile, N systems, files_dir, sync); a re-run replaces the previous
run's objects, so runs 2.. show the replacing path. Printed per run and as medians: the wall
time of the CLI, the post-processor's own seconds (artifact in to synced profile), and the
calls per XML-RPC method. Everything registered is destroyed at the end (`pybuild cleanup`
is not needed).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import xmlrpc.client
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UPSTREAM = ("127.0.0.1", 25151)


class Counting(ThreadingHTTPServer):
    calls: Counter[str]
    lock: threading.Lock


class Proxy(BaseHTTPRequestHandler):
    server: Counting

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        try:
            _params, method = xmlrpc.client.loads(body)
        except Exception:  # noqa: BLE001 - counted as unreadable, forwarded as is
            method = "?"
        with self.server.lock:
            self.server.calls[method or "?"] += 1
        conn = http.client.HTTPConnection(*UPSTREAM, timeout=600)
        conn.request("POST", self.path, body, {"Content-Type": "text/xml"})
        answer = conn.getresponse()
        data = answer.read()
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.getheader("Content-Type", "text/xml"))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        conn.close()


def answers() -> bool:
    try:
        xmlrpc.client.ServerProxy(f"http://{UPSTREAM[0]}:{UPSTREAM[1]}/").version()
    except OSError:
        return False
    return True


def template(work: Path, url: str, distro: str, systems: int) -> Path:
    src = work / "image"
    src.mkdir(exist_ok=True)
    (src / "vmlinuz").write_bytes(b"MZ" + secrets.token_bytes(256 * 1024))
    (src / "initrd.img").write_bytes(secrets.token_bytes(128 * 1024))
    with (src / "disk.raw").open("wb") as f:
        f.truncate(4 * 1024 * 1024)
    macs = [
        "52:54:00:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(3)) for _ in range(systems)
    ]
    t = {
        "builders": [{"type": "file", "content": "x", "target": str(work / "built.txt")}],
        "post-processors": [
            [
                {
                    "type": "artifice",
                    "files": [str(src / n) for n in ("vmlinuz", "initrd.img", "disk.raw")],
                },
                {
                    "type": "cobbler",
                    "url": url,
                    "username": "cobbler",
                    "distro": {"name": distro, "arch": "x86_64", "breed": "generic"},
                    "profile": {"kernel_options": "console=ttyS0"},
                    "systems": [{"name": f"{distro}-{i}", "mac": m} for i, m in enumerate(macs)],
                    "files_dir": str(work / "files"),
                    "image_base_url": "http://10.0.2.2:8080",
                },
            ]
        ],
    }
    path = work / "template.json"
    path.write_text(json.dumps(t, indent=2))
    return path


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--systems", type=int, default=1)
    parser.add_argument("--state", help="cobblerd state directory (default: a temporary one)")
    args = parser.parse_args()
    script = ROOT / "tests" / "testbed" / "cobbler.sh"
    started_here = None
    if not answers():
        started_here = Path(args.state or tempfile.mkdtemp(prefix="pybuild-bench-cobbler."))
        subprocess.run(
            ["bash", str(script), "start", str(started_here)], check=True, capture_output=True
        )
    proxy = Counting(("127.0.0.1", 0), Proxy)
    proxy.calls, proxy.lock = Counter(), threading.Lock()
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{proxy.server_address[1]}/"
    exe = shutil.which("pybuild", path=str(Path(sys.executable).parent)) or "pybuild"
    env = {**os.environ, "COBBLER_PASSWORD": "cobbler"}
    distro = f"bench-{secrets.token_hex(3)}"
    work = Path(tempfile.mkdtemp(prefix="pybuild-bench-cobbler-run."))
    walls, seconds, totals, reported = [], [], [], []
    try:
        path = template(work, url, distro, args.systems)
        for n in range(args.runs):
            proxy.calls.clear()
            t = time.monotonic()
            proc = subprocess.run(
                [exe, "build", str(path)], cwd=work, env=env, capture_output=True, text=True
            )
            wall = time.monotonic() - t
            if proc.returncode != 0:
                print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n")
                return 1
            line = next((ln for ln in proc.stdout.splitlines() if "XML-RPC calls" in ln), "")
            calls = sum(proxy.calls.values())
            walls.append(wall)
            totals.append(calls)
            reported.append(re.sub(r"\x1b\[[0-9;]*m", "", line).strip())
            pp_s = line.rsplit(", ", 1)[-1].split(" s)")[0] if line else ""
            seconds.append(float(pp_s) if pp_s else 0.0)
            by_method = ", ".join(f"{m} {c}" for m, c in sorted(proxy.calls.items()))
            print(
                f"run {n + 1}: wall {wall:.2f} s; post-processor {pp_s} s; {calls} calls ({by_method})"
            )
        print(
            f"median of {args.runs}: wall {statistics.median(walls):.2f} s; "
            f"artifact to synced profile {statistics.median(seconds):.2f} s; "
            f"{statistics.median(totals):g} XML-RPC calls per registration "
            f"({args.systems} system(s); first run {totals[0]}, re-runs replace)"
        )
        print(f"post-processor's own line: {reported[-1]}")
    finally:
        api = xmlrpc.client.ServerProxy(f"http://{UPSTREAM[0]}:{UPSTREAM[1]}/", allow_none=True)
        token = api.login("cobbler", "cobbler")
        for kind, names in (("system", [f"{distro}-{i}" for i in range(args.systems)]),
                            ("profile", [distro]), ("distro", [distro])):  # fmt: skip
            for name in names:
                if api.get_item(kind, name) != "~":
                    api.remove_item(kind, name, token, True)
        proxy.shutdown()
        shutil.rmtree(work, ignore_errors=True)
        if started_here is not None:
            subprocess.run(["bash", str(script), "stop", str(started_here)], capture_output=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
