"""The qemu builder for real: the test ISO booted under TCG, the boot command typed over VNC,
the answer file served over HTTP on 127.0.0.1, SSH through a 127.0.0.1 host forward, a file
system and a marker written by a shell provisioner, the disk read back with qemu-img + debugfs.

Each build runs as `python -m builder build` in its own directory, state dir and run mark
(`PYBUILD_TEST_ID` in its environment, inherited by qemu), so the finalizer can kill any
qemu a failing test left, and nothing else.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from builder.ledger import run_files
from tests.integration.conftest import KeyPair
from tests.integration.qemu.conftest import BOOT_COMMAND, BootISO, preseed_text

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "qemu" / "template.json"
BUILD_TIMEOUT = 600.0  # one TCG build on a loaded 2-core machine, with room to spare
MARK = "PYBUILD_TEST_ID"

# Until pyproject registers the qemu builder and its cleanup handler, the CLI under test
# registers them itself (an installed entry point wins: nothing is done then).
LAUNCH = """
import sys
from builder.plugins import registry
if not registry.has("builder", "qemu"):
    from builder.qemu import Builder
    registry.register("builder", "qemu", Builder)
from importlib.metadata import entry_points
if not any(ep.name == "qemu" for ep in entry_points(group="pybuild.resources")):
    from builder import leftovers
    from builder.qemu.resources import HANDLER
    leftovers._HANDLERS.setdefault("qemu", HANDLER)
from builder.cli import main
sys.exit(main())
"""


def marked_processes(mark: str) -> list[int]:
    """Live qemu processes (they carry a PYBUILD_QEMU_ID) that have this test's mark."""
    found = []
    needle = f"{MARK}={mark}".encode()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                env = f.read().split(b"\0")
            with open(f"/proc/{name}/stat", "rb") as f:
                zombie = f.read().rsplit(b")", 1)[1].split()[0] == b"Z"
        except OSError:
            continue
        qemu = any(item.startswith(b"PYBUILD_QEMU_ID=") for item in env)  # not pybuild itself
        if needle in env and qemu and not zombie:
            found.append(int(name))
    return found


@dataclass
class QemuBench:
    """A directory to build in, with its own state dir, and the CLI to build with."""

    tmp_path: Path
    iso: BootISO
    mark: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def state_dir(self) -> Path:
        return self.tmp_path / "state"

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "PYBUILD_STATE_DIR": str(self.state_dir),
                "PACKER_CACHE_DIR": str(self.tmp_path / "packer_cache"),
                "NO_COLOR": "1",
                MARK: self.mark,
                **extra,
            }
        )
        return env

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-c", LAUNCH, *args]

    def cli(
        self, *args: str, timeout: float = BUILD_TIMEOUT, **env: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            cwd=self.tmp_path,
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(self, *args: str, log: Path, **env: str) -> subprocess.Popen[bytes]:
        with open(log, "wb") as out:
            return subprocess.Popen(
                self.command(*args), cwd=self.tmp_path, env=self.env(**env), stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def iso_vars(self) -> list[str]:
        return [
            f"-var=iso_url={self.iso.path}",
            f"-var=iso_checksum={self.iso.checksum}",
            "-var=accelerator=tcg",
        ]

    def qemus(self) -> list[int]:
        return marked_processes(self.mark)

    def kill_qemus(self) -> None:
        for pid in self.qemus():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture
def bench(
    tmp_path: Path, qemu_iso: BootISO, qemu_binary: str, qemu_img: str
) -> Iterator[QemuBench]:
    """Where a qemu build runs; any qemu it left is killed afterwards, whatever happened."""
    b = QemuBench(tmp_path, qemu_iso)
    try:
        yield b
    finally:
        b.kill_qemus()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def qcow2_check(qemu_img: str, disk: Path) -> dict[str, Any]:
    out = subprocess.run([qemu_img, "check", "--output=json", str(disk)], capture_output=True,
                         text=True, timeout=60, check=True)  # fmt: skip
    return dict(json.loads(out.stdout))


def read_file(qemu_img: str, debugfs: str, disk: Path, name: str) -> str:
    """`name` out of the ext4 file system on a qcow2 disk: qemu-img convert to raw, debugfs."""
    raw = disk.with_suffix(".raw")
    subprocess.run([qemu_img, "convert", "-f", "qcow2", "-O", "raw", str(disk), str(raw)],
                   check=True, capture_output=True, timeout=120)  # fmt: skip
    try:
        out = subprocess.run([debugfs, "-R", f"cat {name}", str(raw)], check=True,
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    finally:
        raw.unlink()
    return out.stdout


def test_the_example_builds_a_compressed_checksummed_disk_with_the_marker(
    bench: QemuBench, qemu_img: str, debugfs: str
) -> None:
    began = time.monotonic()
    proc = bench.cli("build", *bench.iso_vars(), str(EXAMPLE))
    seconds = time.monotonic() - began
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    print(f"\nqemu example build: {seconds:.1f} s")
    for line in (
        "==> qemu: Starting VM, booting from CD-ROM",
        "==> qemu: Typing the boot command over VNC...",
        "==> qemu: Connected to SSH!",
        "==> qemu: Gracefully halting virtual machine...",
        "==> qemu: Converting hard drive...",
        '"GET /preseed.cfg HTTP/1.1" 200',
    ):
        assert line in out, out
    assert "pybuild-example" not in out  # the ssh password is a sensitive variable
    artifacts = bench.tmp_path / "artifacts"
    packed = artifacts / "qemu.qcow2.gz"
    digest, name = (artifacts / "qemu.sha256").read_text().split()
    assert (digest, name) == (sha256(packed), "qemu.qcow2.gz")
    disk = bench.tmp_path / "disk.qcow2"
    subprocess.run(["gzip", "-dc", str(packed)], stdout=disk.open("wb"), check=True, timeout=120)
    check = qcow2_check(qemu_img, disk)
    assert check["check-errors"] == 0
    assert 0 < check["compressed-clusters"] == check["allocated-clusters"]  # disk_compression
    info = read_file(qemu_img, debugfs, disk, "/pybuild-build-info")
    assert info == "built by qemu build qemu\n"
    assert bench.qemus() == []
    assert run_files(bench.state_dir) == []  # nothing left for cleanup


def test_a_key_build_with_a_vnc_password_compacts_over_a_forced_output_directory(
    bench: QemuBench, qemu_img: str, debugfs: str, ssh_keypair: Callable[..., KeyPair]
) -> None:
    """Key login, vnc_use_password (set through QMP), -force over an old output directory,
    compaction without compression, a raw format second disk, qemuargs templated."""
    key = ssh_keypair()
    http = bench.tmp_path / "http"
    http.mkdir()
    (http / "preseed.cfg").write_text(preseed_text([key.public_line]))
    old = bench.tmp_path / "out"
    old.mkdir()
    (old / "stale").write_text("from an older build")
    marker = f"marker-{uuid.uuid4().hex}"
    template = {
        "builders": [
            {
                "type": "qemu",
                "name": "keyed",
                "iso_url": str(bench.iso.path),
                "iso_checksum": bench.iso.checksum,
                "accelerator": "tcg",
                "headless": True,
                "disk_size": "256M",
                "disk_additional_size": ["64M"],
                "output_directory": "out",
                "http_directory": "http",
                "vnc_use_password": True,
                "boot_wait": "5s",
                "boot_key_interval": "20ms",
                "boot_command": BOOT_COMMAND,
                "qemuargs": [["-serial", "file:{{ .OutputDir }}/console.log"]],
                "ssh_username": "root",
                "ssh_private_key_file": str(key.private_path),
                "ssh_timeout": "10m",
                "shutdown_command": "poweroff",
            }
        ],
        "provisioners": [
            {
                "type": "shell",
                "inline": [
                    "set -e",
                    "mkfs.ext4 -q -F /dev/vda",
                    "mount -t ext4 /dev/vda /mnt",
                    f"echo {marker} > /mnt/marker",
                    "dd if=/dev/zero of=/mnt/zeros bs=1M count=32 2>/dev/null",
                    "rm /mnt/zeros",
                    "umount /mnt",
                    "sync",
                ],
            }
        ],
    }
    path = bench.tmp_path / "t.json"
    path.write_text(json.dumps(template, indent=2))
    refused = bench.cli("validate", str(path))
    assert refused.returncode != 0
    assert (
        "Output directory 'out' already exists. It must not exist."
        in refused.stdout + refused.stderr
    )

    proc = bench.cli("build", "-force", str(path))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "==> keyed: Deleting previous output directory..." in out
    assert "QMP socket at: out/packer-keyed.monitor" in out
    assert "with the password: <sensitive>" in out  # the VNC password itself never shows
    assert sorted(os.listdir(old)) == ["console.log", "packer-keyed", "packer-keyed-1"]
    disk = old / "packer-keyed"
    check = qcow2_check(qemu_img, disk)
    assert check.get("compressed-clusters", 0) == 0 and check["check-errors"] == 0
    assert disk.stat().st_size < 16 * 1024 * 1024  # compacted: the 32 MB of zeros are gone
    assert read_file(qemu_img, debugfs, disk, "/marker") == f"{marker}\n"
    assert bench.qemus() == []
    assert run_files(bench.state_dir) == []
