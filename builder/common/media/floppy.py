"""A 1.44 MB FAT12 floppy image: Packer 1.6.6's layout rules, written with pyfatfs.

The boot sector is the standard 1.44 MB one (224 root entries, 9-sector FATs, 18 sectors
a track, 2 heads, media 0xF0), as Packer's go-fs writes it: pyfatfs's own mkfs leaves
the geometry at zero (mtools refuses such an image) and its FATs oversized. pyfatfs then
adds the files. It does not notice a full disk, nor a name that differs from another
only in case, so both are checked here before anything is written.
"""

from __future__ import annotations

import math
import os
import stat
import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from builder.common.media.config import expand, go_error, walk
from builder.errors import BuildError

SIZE = 1440 * 1024
SECTOR = 512
_RESERVED, _FATS, _FAT_SECTORS, _ROOT_ENTRIES, _TOTAL = 1, 2, 9, 224, 2880
_ROOT_SECTOR = _RESERVED + _FATS * _FAT_SECTORS  # 19
_DATA_SECTOR = _ROOT_SECTOR + _ROOT_ENTRIES * 32 // SECTOR  # 33
CLUSTERS = _TOTAL - _DATA_SECTOR  # one sector a cluster: 2847
_BAD_NAME = set('"*/:<>?\\|')
# int 18h (no bootable disk: the BIOS tries the next device), then halt in a loop
_BOOT_CODE = b"\xcd\x18\xeb\xfe"

Say = Callable[[str], None]


@dataclass(frozen=True)
class FloppyItem:
    """One entry of the floppy: its path parts there, and its source (None: a directory)."""

    parts: tuple[str, ...]
    source: str | None = None


# ----------------------------------------------------------------------------- layout
def floppy_layout(files: list[str], dirs: list[str], message: Say) -> list[FloppyItem]:
    """What goes where, with Packer's messages: `files` flat at the root (a directory's
    files too, found recursively), each of `dirs` as a tree under its own name.
    """
    items: list[FloppyItem] = []
    message("Copying files flatly from floppy_files")
    for path in expand(files):
        try:
            is_dir = stat.S_ISDIR(os.stat(path).st_mode)
        except OSError as exc:
            raise BuildError(
                f"Error trying to stat : {path} : stat {path}: {go_error(exc)}"
            ) from exc
        if not is_dir:
            message(f"Copying file: {path}")
            items.append(FloppyItem((os.path.basename(path),), path))
            continue
        message(f"Copying directory: {path}")
        for entry in walk(path):
            if not entry.is_dir:
                message(f"Adding file: {entry.source}")
                items.append(FloppyItem((entry.parts[-1],), entry.source))
    message("Done copying files from floppy_files")
    message("Collecting paths from floppy_dirs")
    queue = expand(dirs)
    message(f"Resulting paths from floppy_dirs : [{' '.join(queue)}]")
    for src in queue:
        message(f"Recursively copying : {src}")
        if not os.path.exists(src):
            raise BuildError(f"Error adding path {src} to floppy: {src} does not exist")
        top = os.path.basename(os.path.abspath(src))
        if not os.path.isdir(src):
            items.append(FloppyItem((top,), src))
            continue
        base = (top,) if top else ()
        if base:
            items.append(FloppyItem(base))
        items.extend(
            FloppyItem((*base, *e.parts), None if e.is_dir else e.source) for e in walk(src)
        )
    message("Done copying paths from floppy_dirs")
    return items


# ----------------------------------------------------------------------------- checks
def check_layout(items: Iterable[FloppyItem]) -> list[FloppyItem]:
    """The items with repeated directories merged; a name clash, a bad name or too
    little room is a BuildError naming the file.
    """
    kept: list[FloppyItem] = []
    seen: dict[tuple[str, ...], FloppyItem] = {}
    for item in items:
        for name in item.parts:
            if not valid_name(name):
                raise BuildError(f"{item.source or name}: {name!r} is not a valid FAT file name")
        key = tuple(p.upper() for p in item.parts)
        parent = seen.get(key[:-1])
        if parent is not None:  # spelt as the directory was first spelt
            item = FloppyItem((*parent.parts, item.parts[-1]), item.source)
        other = seen.get(key)
        if other is not None:
            if other.source is None and item.source is None:
                continue  # the same directory twice: merged
            raise BuildError(
                f"name already exists: {'/'.join(item.parts)} "
                f"(from {item.source or 'a directory'} and {other.source or 'a directory'})"
            )
        seen[key] = item
        kept.append(item)
    needed = clusters_needed(kept)
    if needed > CLUSTERS:
        raise BuildError(
            f"the files do not fit on a 1.44 MB floppy ({needed * SECTOR} bytes needed, "
            f"{CLUSTERS * SECTOR} available); use http_directory or cd_files for large files"
        )
    return kept


def valid_name(name: str) -> bool:
    """A long FAT name Windows can open: no reserved characters, no trailing dot or space."""
    if not name or name in (".", "..") or len(name.encode("utf-16-le")) > 255 * 2:
        return False
    if name[-1] in ". " or any(c in _BAD_NAME or c < " " for c in name):
        return False
    return True


def _entries(name: str) -> int:
    """Directory entries a name takes: the short entry and (always assumed) its long ones."""
    return 1 + math.ceil(len(name.encode("utf-16-le")) // 2 / 13)


def clusters_needed(items: list[FloppyItem]) -> int:
    """Clusters the files and subdirectories take (an upper bound); the root's entries
    are checked against its fixed 223 places (one holds the label).
    """
    children: dict[tuple[str, ...], int] = {}
    total = 0
    for item in items:
        parent = item.parts[:-1]
        children[parent] = children.get(parent, 0) + _entries(item.parts[-1])
        if item.source is None:
            children.setdefault(item.parts, 0)
        else:
            total += math.ceil(os.path.getsize(item.source) / SECTOR)
    root = children.pop((), 0)
    if root > _ROOT_ENTRIES - 1:
        raise BuildError(
            f"too many files at the floppy's root: their names take {root} directory "
            f"entries, the root has {_ROOT_ENTRIES - 1}"
        )
    for count in children.values():
        total += max(1, math.ceil((count + 2) * 32 / SECTOR))
    return total


# ----------------------------------------------------------------------------- image
def format_floppy(path: str, label: str) -> None:
    """Write an empty 1.44 MB FAT12 file system to `path` (which exists), labelled."""
    image = bytearray(SIZE)
    name = label.encode("ascii")
    struct.pack_into(
        "<3s8sHBHBHHBHHHII",
        image,
        0,
        b"\xeb\x3c\x90",
        name[:8].ljust(8),  # the OEM name: Packer uses the label
        SECTOR,
        1,  # sectors a cluster
        _RESERVED,
        _FATS,
        _ROOT_ENTRIES,
        _TOTAL,
        0xF0,  # 3.5" high-density floppy
        _FAT_SECTORS,
        18,  # sectors a track
        2,  # heads
        0,
        0,
    )
    volume_id = int(time.time()) & 0xFFFFFFFF
    struct.pack_into("<BBBI11s8s", image, 36, 0, 0, 0x29, volume_id, name.ljust(11), b"FAT12   ")
    image[62 : 62 + len(_BOOT_CODE)] = _BOOT_CODE
    image[510:512] = b"\x55\xaa"
    for first in (_RESERVED, _RESERVED + _FAT_SECTORS):
        image[first * SECTOR : first * SECTOR + 3] = b"\xf0\xff\xff"
    root = _ROOT_SECTOR * SECTOR
    image[root : root + 11] = name.ljust(11)
    image[root + 11] = 0x08  # the volume label entry
    with open(path, "r+b") as f:
        f.write(image)


def write_floppy(path: str, label: str, items: list[FloppyItem]) -> None:
    """Format `path` and copy the (checked) items onto it."""
    try:
        from pyfatfs.PyFatFS import PyFatFS
    except ImportError as exc:  # pyfatfs's `fs` imports pkg_resources (setuptools < 82)
        raise BuildError(f"Error creating floppy: pyfatfs cannot be imported: {exc}") from exc

    format_floppy(path, label)
    fs = PyFatFS(path)
    try:
        for item in items:
            target = "/" + "/".join(item.parts)
            if item.source is None:
                fs.makedir(target)
                continue
            with open(item.source, "rb") as src:
                fs.upload(target, src)
    finally:
        fs.close()
