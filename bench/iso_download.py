"""ISO download figures of issue 10: pybuild's download against curl, its checksum against sha256sum.

    python bench/iso_download.py [--size 1G] [--runs 5] [--dir DIR] [--keep]

One random file of --size bytes is served on 127.0.0.1 by a small HTTP server in its own
process (sendfile, Range support). In each run, alternating and in a rotating order:

  curl -o              curl -sS -o FILE URL (no verification)
  pybuild none         download() with iso_checksum none, into an empty cache
  pybuild sha256       download() with sha256:…, into an empty cache (verified as it arrives)
  curl + sha256sum     curl -o FILE URL && sha256sum FILE (what the verified download replaces)
  sha256sum            sha256sum of the file on disk
  pybuild verify       download() finding that file in the cache (a new process: hashed again)

pybuild runs in a new process each time; the table shows the whole process's wall time
and, in brackets, the time inside download() alone. Medians over --runs, MB/s, and the
ratio to the reference (curl -o for downloads, sha256sum for verification): < 1 is faster.
Files are written under --dir (default: the system's temp directory); a tmpfs such as
/dev/shm takes the disk's writeback out of the figures.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SERVER = r"""
import os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
PATH = sys.argv[1]
SIZE = os.path.getsize(PATH)
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_HEAD(self): self.serve(False)
    def do_GET(self): self.serve(True)
    def serve(self, body):
        start, rng = 0, self.headers.get("Range", "")
        if rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[6:-1])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{SIZE - 1}/{SIZE}")
        else:
            self.send_response(200)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(SIZE - start))
        self.end_headers()
        if body:
            self.wfile.flush()
            with open(PATH, "rb") as f:
                self.connection.sendfile(f, start, SIZE - start)
httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
httpd.daemon_threads = True
print(httpd.server_address[1], flush=True)
httpd.serve_forever()
"""

CLIENT = r"""
import json, sys, time
from builder.common.iso.download import download
from builder.ledger import Ledger
from builder.multistep import CancelToken
from builder.ui import Ui
class Quiet:
    def emit(self, event): pass
url, checksum = sys.argv[1], sys.argv[2]
began = time.perf_counter()
path = download([url], checksum, ui=Ui(Quiet(), "bench"), cancel=CancelToken(),
                resources=Ledger.memory().build("bench"))
print(json.dumps({"seconds": time.perf_counter() - began, "path": path}))
"""


def parse_size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper().removesuffix("B")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def make_file(path: Path, size: int) -> str:
    """Random bytes (incompressible, as an ISO mostly is); returns the sha256."""
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            block = os.urandom(min(left, 16 << 20))
            f.write(block)
            digest.update(block)
            left -= len(block)
    return digest.hexdigest()


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    began = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"{command[0]} failed ({done.returncode}): {done.stderr.strip()}")
    return seconds, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size", default="1G", help="file size: bytes, or with K/M/G")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dir", default=None, help="where the files go (default: $TMPDIR)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    for tool in ("curl", "sha256sum"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is needed for the comparison")
    size = parse_size(args.size)
    work = Path(tempfile.mkdtemp(prefix="pybuild-iso-bench-", dir=args.dir))
    source = work / "served.iso"
    print(f"making {size / 1e6:.0f} MB of random data in {work} ...", flush=True)
    sha = make_file(source, size)
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(source)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        url = f"http://127.0.0.1:{server.stdout.readline().strip()}/served.iso"
        results = run_all(work, url, sha, args.runs)
    finally:
        server.terminate()
        server.wait()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    report(results, size, args.runs, str(work.parent))


Result = dict[str, list[tuple[float, float]]]  # name -> [(wall, inside)]


def run_all(work: Path, url: str, sha: str, runs: int) -> Result:
    out = work / "out.iso"
    cache = work / "cache"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PACKER_CACHE_DIR": str(cache)}
    py = [sys.executable, "-c", CLIENT, url]

    def fresh() -> None:
        """No file of an earlier variant, and no dirty pages of it still being written."""
        shutil.rmtree(cache, ignore_errors=True)
        out.unlink(missing_ok=True)
        os.sync()

    def pybuild(checksum: str) -> tuple[float, float]:
        wall, stdout = timed([*py, checksum], env)
        return wall, float(json.loads(stdout)["seconds"])

    def curl() -> tuple[float, float]:
        wall, _ = timed(["curl", "-sS", "-o", str(out), url])
        return wall, wall

    def curl_sha() -> tuple[float, float]:
        wall, _ = timed(["sh", "-c", f'curl -sS -o "{out}" "{url}" && sha256sum "{out}"'])
        return wall, wall

    def sha256sum() -> tuple[float, float]:
        wall, stdout = timed(["sha256sum", str(out)])
        assert stdout.split()[0] == sha
        return wall, wall

    def verify() -> tuple[float, float]:
        return pybuild(f"sha256:{sha}")

    downloads: list[tuple[str, Callable[[], tuple[float, float]]]] = [
        ("curl -o", curl),
        ("pybuild none", lambda: pybuild("none")),
        ("pybuild sha256", lambda: pybuild(f"sha256:{sha}")),
        ("curl + sha256sum", curl_sha),
    ]
    results: Result = {name: [] for name, _ in downloads}
    results.update({"sha256sum": [], "pybuild verify": []})
    for run in range(runs):
        order = downloads[run % len(downloads) :] + downloads[: run % len(downloads)]
        for name, fn in order:
            fresh()
            results[name].append(fn())
        # verification of a file on disk: the cache file pybuild just made, in both orders
        fresh()
        pybuild(f"sha256:{sha}")
        [target] = [p for p in cache.iterdir() if p.suffix == ".iso"]
        shutil.copyfile(target, out)
        os.sync()
        pair = [("sha256sum", sha256sum), ("pybuild verify", verify)]
        for name, fn in pair if run % 2 == 0 else reversed(pair):
            results[name].append(fn())
        print(f"run {run + 1}/{runs} done", flush=True)
    fresh()
    return results


def report(results: Result, size: int, runs: int, where: str) -> None:
    def med(name: str, index: int) -> float:
        return statistics.median(r[index] for r in results[name])

    print(f"\n{size / 1e6:.0f} MB over 127.0.0.1 into {where}, median of {runs} alternating runs\n")
    print(f"{'':20} {'seconds':>8} {'(in download())':>16} {'MB/s':>7} {'ratio':>6}")
    for name, reference in (
        ("curl -o", "curl -o"),
        ("pybuild none", "curl -o"),
        ("pybuild sha256", "curl -o"),
        ("curl + sha256sum", "curl -o"),
        ("sha256sum", "sha256sum"),
        ("pybuild verify", "sha256sum"),
    ):
        wall, inside = med(name, 0), med(name, 1)
        inner = f"({inside:.3f})" if name.startswith("pybuild") else ""
        ratio = wall / med(reference, 0)
        print(f"{name:20} {wall:8.3f} {inner:>16} {size / 1e6 / wall:7.0f} {ratio:6.2f}")
    both = med("pybuild sha256", 0) / med("curl + sha256sum", 0)
    print(f"\nverified download: pybuild / (curl + sha256sum) = {both:.2f}")


if __name__ == "__main__":
    main()
