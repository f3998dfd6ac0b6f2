"""One openstack build against the local stack, pybuild against packer 1.6.6, alternating.

    python bench/openstack_build.py [--runs 3] [--password PW] [--ssh-port P --ssh-user U]

The stack is the testbed's (Keystone, Nova with libvirt/qemu, Glance, Neutron on
127.0.0.1; `tests/testbed/` starts it). Both tools build the same template through their
CLI: the test image booted without a network, stop, snapshot, tags, min_disk; with
--ssh-port, a temporary Nova key pair and SSH to a loopback sshd test host through
ssh_host/ssh_port (one that accepts the Nova key pairs' keys) running one inline `echo`.
With communicator none packer 1.6.6 still makes (and deletes) a temporary key pair;
pybuild does not. Which tool goes first alternates per run.

API requests are counted by a counting reverse proxy started here: the tools' identity
endpoint is the proxy's Keystone port, and the proxy rewrites the service catalog in
Keystone's answers so that Nova, Glance, Neutron and Placement are reached through
proxy ports too. Printed per run and as medians: wall seconds, requests per service, and
pybuild/packer ratios. The images are deleted after each run. 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
UPSTREAM = {  # service -> upstream port on 127.0.0.1
    "keystone": 5000,
    "nova": 8774,
    "glance": 9292,
    "neutron": 9696,
    "placement": 8778,
}
OFFSET = 10000  # proxy port = upstream port + OFFSET


class CountingProxy:
    """One reverse proxy per service on 127.0.0.1; counts requests per service."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.servers: list[ThreadingHTTPServer] = []

    def start(self) -> None:
        for service, port in UPSTREAM.items():
            server = ThreadingHTTPServer(("127.0.0.1", port + OFFSET), self._handler(service, port))
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self.servers.append(server)

    def stop(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()

    def take(self) -> dict[str, int]:
        with self.lock:
            out = dict(self.counts)
            self.counts.clear()
        return out

    def _handler(self, service: str, port: int) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                with proxy.lock:
                    proxy.counts[service] += 1
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                headers["Host"] = f"127.0.0.1:{port}"
                upstream = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
                data = response.read()
                if service == "keystone":  # the catalog: every service through its proxy
                    text = data.decode("utf-8", "replace")
                    for target in UPSTREAM.values():
                        text = text.replace(f"127.0.0.1:{target}", f"127.0.0.1:{target + OFFSET}")
                    data = text.encode()
                self.send_response(response.status, response.reason)
                for key, value in response.getheaders():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data)
                upstream.close()
                self.close_connection = True

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _forward

        return Handler


def template(args: argparse.Namespace, name: str) -> dict[str, Any]:
    ssh: dict[str, Any] = {"communicator": "none"}
    if args.ssh_port:  # an sshd test host on loopback that accepts the Nova key pairs' keys
        ssh = {"communicator": "ssh", "ssh_host": "127.0.0.1", "ssh_port": args.ssh_port,
               "ssh_username": args.ssh_user, "ssh_timeout": "2m"}  # fmt: skip
    return {
        "builders": [
            {
                "type": "openstack",
                "identity_endpoint": f"http://127.0.0.1:{5000 + OFFSET}/v3",
                "username": args.username,
                "password": args.password,
                "tenant_name": args.project,
                "domain_name": "Default",
                "region": "RegionOne",
                "source_image_name": args.image,
                "flavor": args.flavor,
                "image_name": name,
                "image_tags": ["bench"],
                "image_min_disk": 1,
                **ssh,
            }
        ],
        **(
            {"provisioners": [{"type": "shell", "inline": ["echo bench"]}]} if args.ssh_port else {}
        ),
    }


def command(tool: str, args: argparse.Namespace, path: Path) -> list[str]:
    if tool == "packer":
        return [args.packer, "build", str(path)]
    exe = shutil.which("pybuild", path=str(Path(sys.executable).parent))
    return [*([exe] if exe else [sys.executable, "-m", "builder"]), "build", str(path)]


def delete_images(args: argparse.Namespace, name: str) -> None:
    import openstack

    conn = openstack.connect(
        auth_url="http://127.0.0.1:5000/v3", username=args.username, password=args.password,
        project_name=args.project, user_domain_name="Default", project_domain_name="Default",
        region_name="RegionOne",
    )  # fmt: skip
    try:
        for image in list(conn.image.images(name=name)):
            conn.image.delete_image(image.id)
    finally:
        conn.close()


def one(tool: str, args: argparse.Namespace, proxy: CountingProxy, work: Path, n: int) -> dict:
    name = f"bench-{tool}-{n}-{int(time.time())}"
    path = work / f"{tool}-{n}.json"
    path.write_text(json.dumps(template(args, name), indent=2))
    env = {"PATH": "/usr/bin:/bin", "HOME": str(work), "CHECKPOINT_DISABLE": "1",
           "PYBUILD_STATE_DIR": str(work / "state"), "PYTHONPATH": str(ROOT)}  # fmt: skip
    proxy.take()
    began = time.monotonic()
    proc = subprocess.run(command(tool, args, path), cwd=work, env=env, capture_output=True,
                          text=True, timeout=900)  # fmt: skip
    seconds = time.monotonic() - began
    counts = proxy.take()
    delete_images(args, name)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit(f"{tool} build failed ({proc.returncode})")
    return {"tool": tool, "seconds": seconds, "requests": counts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--packer", default="/usr/bin/packer")
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password", default="secret")
    parser.add_argument("--project", default="admin")
    parser.add_argument("--image", default="pybuild-base")
    parser.add_argument("--flavor", default="m1.tiny")
    parser.add_argument("--ssh-port", type=int, default=0, help="0: communicator none")
    parser.add_argument("--ssh-user", default="root")
    args = parser.parse_args()
    proxy = CountingProxy()
    proxy.start()
    results: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-openstack-") as tmp:
            work = Path(tmp)
            for n in range(args.runs):
                order = ["pybuild", "packer"] if n % 2 == 0 else ["packer", "pybuild"]
                for tool in order:
                    result = one(tool, args, proxy, work, n)
                    results.append(result)
                    reqs = result["requests"]
                    print(f"run {n} {tool:8s} {result['seconds']:6.1f} s  "
                          f"requests {sum(reqs.values()):3d} {dict(sorted(reqs.items()))}")  # fmt: skip
    finally:
        proxy.stop()
    print()
    services = sorted({s for r in results for s in r["requests"]})
    medians: dict[str, dict[str, float]] = {}
    for tool in ("pybuild", "packer"):
        mine = [r for r in results if r["tool"] == tool]
        row = {"seconds": statistics.median(r["seconds"] for r in mine)}
        for s in services:
            row[s] = statistics.median(r["requests"].get(s, 0) for r in mine)
        row["total"] = statistics.median(sum(r["requests"].values()) for r in mine)
        medians[tool] = row
    header = ["tool", "seconds", *services, "total"]
    print("  ".join(f"{h:>9s}" for h in header))
    for tool, row in medians.items():
        print("  ".join([f"{tool:>9s}", *(f"{row[h]:9.1f}" for h in header[1:])]))
    ratio = {h: (medians["pybuild"][h] / medians["packer"][h]) if medians["packer"][h] else 0.0
             for h in header[1:]}  # fmt: skip
    print("  ".join([f"{'ratio':>9s}", *(f"{ratio[h]:9.2f}" for h in header[1:])]))


if __name__ == "__main__":
    main()
