"""The files the `cobbler` post-processor hands Cobbler: kernel, initrd and the disk image.

The kernel and initrd come from the distro block, else from the artifact by name (as
Cobbler finds them: `vmlinuz…`, `initrd….img`); the disk is the builder's one disk (qemu's
`diskPaths`/`diskType`, else the only disk file), converted with qemu-img when its format
is not the one asked for.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from builder.artifact import Artifact
from builder.multistep import CancelToken
from postprocessors.disks import DISK_SUFFIXES, convert, disk_format

__all__ = ["convert", "disk_format"]  # the cobbler post-processor takes them from here

# Cobbler 3.3's own patterns (cobbler/utils.py): it refuses other names.
KERNEL = re.compile(
    r"(vmlinu[xz]|(kernel|linux(\.img)?)|pxeboot\.n12|wimboot|mboot\.c32|.+\.kernel)"
)
INITRD = re.compile(r"(initrd(.*)\.img|ramdisk\.image\.gz|boot\.sdi|imgpayld\.tgz)")


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


def copy(source: str, target: str, cancel: CancelToken) -> None:
    """Copy a file in 1 MiB pieces, checking for cancellation between them."""
    with open(source, "rb") as src, open(target, "wb") as dst:
        while chunk := src.read(1 << 20):
            cancel.check()
            dst.write(chunk)
