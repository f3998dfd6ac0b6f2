"""The files the `cobbler` post-processor hands Cobbler: kernel, initrd and the disk image.

The kernel and initrd come from the distro block, else from the artifact by name (as
Cobbler finds them: `vmlinuz…`, `initrd….img`); the disk is the builder's one disk (qemu's
`diskPaths`/`diskType`, else the only disk file), converted with qemu-img when its format
is not the one asked for.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass

from builder.artifact import Artifact
from builder.errors import BuildCancelled, PostProcessorError
from builder.multistep import CancelToken

# Cobbler 3.3's own patterns (cobbler/utils.py): it refuses other names.
KERNEL = re.compile(
    r"(vmlinu[xz]|(kernel|linux(\.img)?)|pxeboot\.n12|wimboot|mboot\.c32|.+\.kernel)"
)
INITRD = re.compile(r"(initrd(.*)\.img|ramdisk\.image\.gz|boot\.sdi|imgpayld\.tgz)")
DISK_SUFFIXES = (".qcow2", ".raw", ".img", ".vmdk", ".vhd", ".vhdx")


@dataclass(frozen=True)
class Inputs:
    """Paths on this machine: kernel and initrd ("" with an import), disk ("" for none)."""

    kernel: str = ""
    initrd: str = ""
    disk: str = ""
    disk_format: str = ""


def find_boot_file(artifact: Artifact, pattern: re.Pattern[str]) -> str:
    """The artifact's one file whose name Cobbler takes for a kernel (or initrd)."""
    found = [p for p in artifact.files if pattern.match(os.path.basename(p))]
    return found[0] if len(found) == 1 else ""


def one_disk(artifact: Artifact, exclude: tuple[str, ...]) -> tuple[str, str]:
    """(path, qemu-img format) of the artifact's one disk; ('', '') when not exactly one."""
    paths = artifact.state("diskPaths")
    kind = str(artifact.state("diskType") or "")
    if isinstance(paths, list) and len(paths) == 1 and kind:
        return str(paths[0]), kind
    disks = [p for p in artifact.files if p.lower().endswith(DISK_SUFFIXES) and p not in exclude]
    disks = [p for p in disks if not INITRD.match(os.path.basename(p))]
    if len(disks) != 1:
        return "", ""
    return disks[0], disk_format(disks[0])


def disk_format(path: str) -> str:
    try:
        out = subprocess.run(
            ["qemu-img", "info", "--output=json", path],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise PostProcessorError(f"qemu-img info {path}: {exc}") from exc
    return str(json.loads(out).get("format", ""))


def convert(source: str, fmt: str, target: str, cancel: CancelToken) -> None:
    """qemu-img convert, killed when the run is cancelled."""
    command = ["qemu-img", "convert", "-O", fmt, source, target]
    try:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    except OSError as exc:
        raise PostProcessorError(
            f"qemu-img convert: {exc.strerror} (install Debian's qemu-utils for qemu-img)"
        ) from exc
    while proc.poll() is None:
        if cancel.wait(0.2):
            proc.kill()
            proc.wait()
            raise BuildCancelled()
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0:
        raise PostProcessorError(f"qemu-img convert failed ({proc.returncode}): {err.strip()}")


def copy(source: str, target: str, cancel: CancelToken) -> None:
    """Copy a file in 1 MiB pieces, checking for cancellation between them."""
    with open(source, "rb") as src, open(target, "wb") as dst:
        while chunk := src.read(1 << 20):
            cancel.check()
            dst.write(chunk)
