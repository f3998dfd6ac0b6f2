"""A bare-metal deploy, simulated: a qemu machine with an empty disk PXE-boots from the TFTP
tree the real cobblerd's sync wrote and installs the image the `cobbler` post-processor
registered.

The deploy ramdisk is the qemu test ISO's kernel and initramfs (tests/testbed/make-iso.sh):
`image_url=` on the kernel command line (the profile's kernel options) makes it write that
raw image onto the first disk and power off. The image is a small ext4 disk made here with a
marker file; files_dir is served over HTTP on 127.0.0.1 (10.0.2.2 from the guest). qemu's
user-mode network serves the TFTP tree and answers DHCP with pxelinux.0; the NIC has the
registered system's MAC, so pxelinux reads that system's pxelinux.cfg/01-<mac>. The command
line is examples/metal/pxe-boot.sh's. TCG only (no KVM).
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.cobbler.conftest import BootFiles, Cobbler, random_mac, sha256, unique
from tests.integration.cobbler.test_cobbler import artifact_of, cobbler_pp, go
from tests.integration.qemu.conftest import ISO_NAME, QEMU_SETUP_HINT, iso_dir

ROOT = Path(__file__).resolve().parents[3]
PXE_BOOT = ROOT / "examples" / "metal" / "pxe-boot.sh"
MARKER = "deployed by pybuild through cobbler\n"
BOOT_TIMEOUT = 420  # s; TCG on a busy 2-CPU machine


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """files_dir, served over HTTP on 127.0.0.1 (an ephemeral port)."""
    root = tmp_path / "files"
    root.mkdir()
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def deploy_ramdisk(tmp_path: Path) -> tuple[Path, Path]:
    iso_path = iso_dir() / ISO_NAME
    if not iso_path.is_file():
        pytest.skip(f"no qemu test ISO at {iso_path}: {QEMU_SETUP_HINT}")
    import pycdlib

    iso = pycdlib.PyCdlib()
    iso.open(str(iso_path))
    try:
        kernel, initrd = tmp_path / "vmlinuz", tmp_path / "initrd.gz"
        iso.get_file_from_iso(str(kernel), iso_path="/boot/vmlinuz.;1")
        iso.get_file_from_iso(str(initrd), iso_path="/boot/initrd.gz;1")
    finally:
        iso.close()
    return kernel, initrd


def ext4_image(path: Path) -> Path:
    """A 16 MiB ext4 file system with /marker in it."""
    for tool in ("mkfs.ext4", "debugfs"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} missing (e2fsprogs)")
    with path.open("wb") as f:
        f.truncate(16 * 1024 * 1024)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "deployed", str(path)], check=True)
    marker = path.parent / "marker"
    marker.write_text(MARKER)
    subprocess.run(
        ["debugfs", "-w", "-R", f"write {marker} marker", str(path)],
        check=True,
        capture_output=True,
    )
    return path


def debugfs_cat(image: Path, name: str) -> str:
    out = subprocess.run(
        ["debugfs", "-R", f"cat /{name}", str(image)], capture_output=True, text=True, check=False
    )
    return out.stdout


def test_a_qemu_machine_pxe_boots_from_cobblers_tree_and_installs_the_image(
    cobbler: Cobbler, served: tuple[Path, int], tmp_path: Path
) -> None:
    if shutil.which("qemu-system-x86_64") is None:
        pytest.skip(f"qemu-system-x86_64 missing: {QEMU_SETUP_HINT}")
    files_dir, port = served
    kernel, initrd = deploy_ramdisk(tmp_path)
    src = tmp_path / "image"
    src.mkdir()
    image = ext4_image(src / "disk.raw")
    distro, mac = unique("pxe"), random_mac()
    pp = cobbler_pp(
        tmp_path,
        distro,
        systems=[{"name": f"{distro}-node", "mac": mac, "hostname": "node"}],
        profile={"kernel_options": "console=ttyS0,115200"},
        image_base_url=f"http://10.0.2.2:{port}",
    )
    pp["distro"].update(kernel=str(kernel), initrd=str(initrd))
    started = time.monotonic()
    art = artifact_of(go(tmp_path, BootFiles(kernel, initrd, image), pp)[0])
    registered = time.monotonic() - started
    try:
        tftp = cobbler.tftpboot
        # the loaders a BIOS PXE client needs, copied into the TFTP root by Cobbler's sync
        for loader in ("pxelinux.0", "ldlinux.c32"):
            assert (tftp / loader).is_file(), f"{loader} not in Cobbler's TFTP root {tftp}"
        pxe = (tftp / f"pxelinux.cfg/01-{mac.replace(':', '-')}").read_text()
        image_url = f"http://10.0.2.2:{port}/{distro}/{distro}.raw"
        assert f"image_url={image_url}" in pxe
        assert (files_dir / distro / f"{distro}.raw").is_file()

        disk = tmp_path / "machine.raw"
        with disk.open("wb") as f:
            f.truncate(64 * 1024 * 1024)
        serial = tmp_path / "serial.log"
        booted = time.monotonic()
        machine = subprocess.Popen(
            ["bash", str(PXE_BOOT), str(tftp), mac, str(disk), str(serial)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            out, _ = machine.communicate(timeout=BOOT_TIMEOUT)
        except subprocess.TimeoutExpired:
            machine.kill()
            out, _ = machine.communicate()
            log = serial.read_text(errors="replace") if serial.exists() else ""
            pytest.fail(f"the machine did not power off in {BOOT_TIMEOUT} s:\n{log[-3000:]}")
        took = time.monotonic() - booted
        log = serial.read_text(errors="replace")
        assert machine.returncode == 0, out.decode(errors="replace") + log[-3000:]
        assert f"deploy: writing {image_url} to /dev/vda" in log, log[-3000:]
        assert f"deploy: done: {image_url} written to /dev/vda" in log, log[-3000:]
        # the disk read back: the image's bytes, then the rest of the disk still empty
        data = disk.read_bytes()
        size = image.stat().st_size
        assert sha256(image) == hashlib.sha256(data[:size]).hexdigest()
        assert data[size:] == bytes(len(data) - size)
        written = tmp_path / "written.raw"
        written.write_bytes(data[:size])
        assert debugfs_cat(written, "marker") == MARKER
        print(f"registered in {registered:.1f} s; PXE boot to power-off {took:.1f} s")
    finally:
        art.destroy()
