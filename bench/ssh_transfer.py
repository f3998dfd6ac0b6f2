"""SSH figures of issue 3 against OpenSSH and packer 1.6.6, on one sshd test host, same run.

    python bench/ssh_transfer.py [--runs 5] [--size-mb 200] [--files 2000] [--commands 100]
                                 [--variants] [--skip-packer]

1. upload of one large file: pybuild's communicator (in process, connect included) and a
   whole `pybuild build` with the file provisioner, against OpenSSH `scp` (and packer's file
   provisioner), alternating runs; throughput ratio = scp time / our time (>= 0.9 wanted);
2. a directory of many small files: tar stream vs per-file SFTP vs OpenSSH `scp -r`;
3. one-line shell commands: per-command latency of `pybuild build` and `packer build`
   (null builder, one shell provisioner per command, minus a build without provisioners),
   and of the communicator's run() alone.
`--variants` also times the paramiko configurations tried on the way (see the report).
Starts its own sshd container (tests/testbed recipe; run tests/testbed/setup.sh first) and
removes it at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from builder.communicator.keygen import generate_key_pair, write_private_key  # noqa: E402
from builder.communicator.ssh import SSHCommunicator, SSHSettings  # noqa: E402

SSH_OPTS = [
    "-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
    "-o", "GlobalKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "BatchMode=yes",
]  # fmt: skip


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run_ok(cmd: list[str], **kw: object) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)  # type: ignore[call-overload]
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")


def med(xs: list[float]) -> float:
    return statistics.median(xs)


class Bench:
    """One sshd host, one key, helpers to time each tool against it."""

    def __init__(self, host: object, key: str, work: Path):
        self.host, self.key, self.work = host, key, work
        self.port = host.port  # type: ignore[attr-defined]
        self.user = host.user  # type: ignore[attr-defined]
        self.env = dict(os.environ, CHECKPOINT_DISABLE="1", NO_COLOR="1")
        self.py = [sys.executable, "-m", "builder"]

    def comm(self, **kw: object) -> SSHCommunicator:
        c = SSHCommunicator(
            SSHSettings("127.0.0.1", self.port, self.user, private_key_file=self.key, **kw)  # type: ignore[arg-type]
        )
        c.connect()
        return c

    def remote(self, command: str) -> None:
        self.host.exec(command)  # type: ignore[attr-defined]

    def scp(self, *args: str) -> None:
        run_ok(["scp", *SSH_OPTS, "-i", self.key, "-P", str(self.port), *args])

    def template(self, name: str, provisioners: list[dict[str, object]]) -> Path:
        t = {
            "builders": [
                {
                    "type": "null",
                    "ssh_host": "127.0.0.1",
                    "ssh_port": self.port,
                    "ssh_username": self.user,
                    "ssh_private_key_file": self.key,
                }
            ],
            "provisioners": provisioners,
        }
        path = self.work / name
        path.write_text(json.dumps(t))
        return path

    def build(self, tool: str, template: Path) -> None:
        cmd = [*self.py, "build", "-color=false"] if tool == "pybuild" else ["packer", "build"]
        run_ok([*cmd, str(template)], cwd=self.work, env=self.env)


# ---------------------------------------------------------------------- 1. large file
def bench_upload(b: Bench, size_mb: int, runs: int, packer: bool) -> None:
    src = b.work / "big.bin"
    with open(src, "wb") as fh:
        for _ in range(size_mb):
            fh.write(os.urandom(1 << 20))
    size = src.stat().st_size
    tpl = b.template(
        "upload.json", [{"type": "file", "source": str(src), "destination": "/tmp/pb.bin"}]
    )

    def ours() -> None:
        c = b.comm()
        c.upload(str(src), "/tmp/ours.bin")
        c.close()

    cases: dict[str, Callable[[], object]] = {
        "OpenSSH scp": lambda: b.scp(str(src), f"{b.user}@127.0.0.1:/tmp/scp.bin"),
        "pybuild communicator (in process, connect incl.)": ours,
        "pybuild build + file provisioner (process)": lambda: b.build("pybuild", tpl),
    }
    if packer:
        cases["packer 1.6.6 build + file provisioner"] = lambda: b.build("packer", tpl)
    times = alternate(cases, runs)
    ref = med(times["OpenSSH scp"])
    print(f"\n## 1. upload {size / 1e6:.0f} MB, {runs} alternating runs (median)\n")
    print(f"{'case':<52} {'s':>7} {'MB/s':>7} {'vs scp':>7}")
    for name, ts in times.items():
        m = med(ts)
        print(f"{name:<52} {m:7.3f} {size / 1e6 / m:7.0f} {ref / m:6.2f}x")
    c = b.comm()
    print(f"(cipher negotiated by pybuild: {c._conn.transport.remote_cipher})")  # type: ignore[union-attr]
    d = timed(lambda: c.download("/tmp/ours.bin", str(b.work / "back.bin")))
    c.close()
    s = timed(lambda: b.scp(f"{b.user}@127.0.0.1:/tmp/ours.bin", str(b.work / "back2.bin")))
    print(f"download once: pybuild {d:.3f} s, scp {s:.3f} s")
    b.remote("rm -f /tmp/*.bin")


def alternate(cases: dict[str, Callable[[], object]], runs: int) -> dict[str, list[float]]:
    for fn in cases.values():  # warm up page cache and imports once
        fn()
    times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(runs):
        for name, fn in cases.items():
            times[name].append(timed(fn))
    return times


# ---------------------------------------------------------------------- 2. many files
def bench_tree(b: Bench, files: int, runs: int) -> None:
    src = b.work / "tree"
    for i in range(files):
        d = src / f"d{i % 20:02d}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i}.txt").write_bytes(os.urandom(200 + (i * 37) % 3800))
    total = sum(p.stat().st_size for p in src.rglob("*") if p.is_file())
    c = b.comm()

    def tar() -> None:
        c.upload_dir(str(src) + "/", "/tmp/t-tar")

    def per_file() -> None:
        x = c._xfer()
        x._tar = False
        try:
            c.upload_dir(str(src) + "/", "/tmp/t-sftp")
        finally:
            x._tar = None

    def floor() -> None:  # the remote file system's share: untar a local archive there
        c.run("mkdir -p /tmp/t-floor && tar -C /tmp/t-floor -xf /tmp/floor.tar")

    def clean() -> None:
        c.run("rm -rf /tmp/t-tar /tmp/t-sftp /tmp/t-scp /tmp/t-floor")

    cases = {
        "pybuild tar stream (one exec channel)": tar,
        "pybuild per-file SFTP (no remote tar)": per_file,
        "OpenSSH scp -r": lambda: b.scp("-r", str(src), f"{b.user}@127.0.0.1:/tmp/t-scp"),
        "floor: remote tar -x of a local archive": floor,
    }
    tar()
    c.run("tar -C /tmp/t-tar -cf /tmp/floor.tar .")
    times: dict[str, list[float]] = {k: [] for k in cases}
    for i in range(runs + 1):  # the first round warms the container's file system up
        for name, fn in cases.items():
            clean()
            took = timed(fn)
            if i:
                times[name].append(took)
    clean()
    c.close()
    print(f"\n## 2. directory of {files} files ({total / 1e6:.1f} MB), {runs} runs (median)\n")
    for name, ts in times.items():
        print(f"{name:<42} {med(ts):7.3f} s  {med(ts) / files * 1000:6.2f} ms/file")


# ---------------------------------------------------------------------- 3. commands
def bench_commands(b: Bench, n: int, runs: int, packer: bool) -> None:
    c = b.comm()
    raw = [timed(lambda: [c.run(f"echo {i}") for i in range(n)]) for _ in range(runs)]
    c.close()
    many = b.template("cmds.json", [{"type": "shell", "inline": [f"echo {i}"]} for i in range(n)])
    none = b.template("empty.json", [])
    tools = ["pybuild"] + (["packer"] if packer else [])
    cases: dict[str, Callable[[], object]] = {}
    for tool in tools:
        cases[f"{tool} build, {n} shell provisioners"] = lambda t=tool: b.build(t, many)
        cases[f"{tool} build, no provisioners"] = lambda t=tool: b.build(t, none)
    times = alternate(cases, runs)
    print(f"\n## 3. {n} one-line shell commands, {runs} runs (median)\n")
    print(f"communicator run() alone: {med(raw) / n * 1000:.2f} ms/command")
    for tool in tools:
        full = med(times[f"{tool} build, {n} shell provisioners"])
        base = med(times[f"{tool} build, no provisioners"])
        print(
            f"{tool:<8} build: {full:6.2f} s with, {base:5.2f} s without -> "
            f"{(full - base) / n * 1000:6.1f} ms per shell provisioner"
        )


# ---------------------------------------------------------------------- variants tried
def bench_variants(b: Bench, size_mb: int, runs: int) -> None:
    """Each paramiko configuration tried for the large upload, in process."""
    import paramiko

    src = b.work / "big.bin"
    size = src.stat().st_size

    def transport(nodelay: bool, cipher: str | None) -> paramiko.Transport:
        sock = socket.create_connection(("127.0.0.1", b.port))
        if nodelay:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        t = paramiko.Transport(sock)
        if cipher:
            t.get_security_options().ciphers = (cipher,)
        t.start_client(timeout=10)
        t.auth_publickey(b.user, paramiko.PKey.from_path(b.key))
        return t

    def sftp_put(nodelay: bool, cipher: str | None) -> Callable[[], None]:
        def go() -> None:
            t = transport(nodelay, cipher)
            sf = paramiko.SFTPClient.from_transport(t)
            assert sf is not None
            with open(src, "rb") as fh:
                sf.putfo(fh, "/tmp/v.bin", size, confirm=False)
            t.close()

        return go

    def stream(sendall: bool, parts: int = 1) -> Callable[[], None]:
        def part(i: int) -> None:
            t = transport(True, "aes128-gcm@openssh.com")
            chan = t.open_session()
            start, end = size * i // parts, size * (i + 1) // parts
            chan.exec_command(
                f"dd of=/tmp/v.bin bs=1M seek={start} oflag=seek_bytes conv=notrunc 2>/dev/null"
            )
            step = chan.out_max_packet_size - 64
            with open(src, "rb", buffering=0) as fh:
                fh.seek(start)
                left = end - start
                while left:
                    block = fh.read(1 << 20 if sendall else min(step, left))
                    block = block[:left]
                    if sendall:
                        chan.sendall(block)
                    else:
                        view = memoryview(block)
                        while view:
                            view = view[chan.send(view) :]
                    left -= len(block)
            chan.shutdown_write()
            chan.recv_exit_status()
            t.close()

        def go() -> None:
            threads = [threading.Thread(target=part, args=(i,)) for i in range(parts)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()

        return go

    cases: dict[str, Callable[[], object]] = {
        "OpenSSH scp (reference)": lambda: b.scp(str(src), f"{b.user}@127.0.0.1:/tmp/scp.bin"),
        "paramiko SFTP putfo, defaults (aes128-ctr)": sftp_put(False, None),
        "+ TCP_NODELAY": sftp_put(True, None),
        "+ aes128-gcm": sftp_put(True, "aes128-gcm@openssh.com"),
        "exec stream, Channel.sendall(1 MiB)": stream(True),
        "exec stream, one packet per send": stream(False),
        "2 connections in parallel, one packet per send": stream(False, 2),
    }
    times = alternate(cases, runs)
    ref = med(times["OpenSSH scp (reference)"])
    print(f"\n## variants tried ({size_mb} MB upload, in process, {runs} runs, median)\n")
    for name, ts in times.items():
        print(f"{name:<50} {med(ts):7.3f} s {ref / med(ts):6.2f}x scp")
    b.remote("rm -f /tmp/v.bin /tmp/scp.bin")


# ---------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--size-mb", type=int, default=200)
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--commands", type=int, default=100)
    ap.add_argument("--variants", action="store_true")
    ap.add_argument("--skip-packer", action="store_true")
    args = ap.parse_args()
    packer = not args.skip_packer and shutil.which("packer") is not None
    from tests.integration.conftest import SSHD_IMAGE, SSHHostFactory, connect_docker

    client = connect_docker()
    if client is None:
        raise SystemExit("no Docker engine: run `bash tests/testbed/setup.sh` first")
    factory = SSHHostFactory(client, SSHD_IMAGE)
    with tempfile.TemporaryDirectory(prefix="pybuild-bench-ssh-") as tmp:
        work = Path(tmp)
        pair = generate_key_pair("ed25519", name="bench")
        key = str(work / "id_ed25519")
        write_private_key(key, pair.private_pem)
        try:
            host = factory(password=None, authorized_keys=[pair.public_line])
            b = Bench(host, key, work)
            print(f"sshd test host 127.0.0.1:{host.port}; packer: {'yes' if packer else 'no'}")
            print(f"cpus: {os.cpu_count()}; python {sys.version.split()[0]}")
            bench_upload(b, args.size_mb, args.runs, packer)
            if args.variants:
                bench_variants(b, args.size_mb, args.runs)
            bench_tree(b, args.files, max(1, args.runs // 2 + 1))
            bench_commands(b, args.commands, max(1, args.runs // 2 + 1), packer)
        finally:
            factory.close()
            client.close()


if __name__ == "__main__":
    main()
