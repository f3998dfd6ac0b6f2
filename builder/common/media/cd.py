"""An ISO 9660 image with Joliet and Rock Ridge names, made of `cd_files` (pycdlib).

Layout (Packer 1.6.6, unchanged in 1.7): a file goes to the root under its name; a
directory goes to the root as itself with its tree (`dir`), or as its contents when the
path ends in a separator (`dir/`); a glob is replaced by its matches (`dir/*`: each child).

Names: Rock Ridge keeps each name as it is (Linux); Joliet keeps it up to 64 UCS-2
characters (Windows); the plain ISO 9660 names are 8.3 upper-case forms, made unique.
"""

from __future__ import annotations

import itertools
import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from builder.common.media.config import expand, go_error, walk
from builder.errors import BuildError

JOLIET_MAX = 64
_JOLIET_BAD = set("*/:;?\\")
_D_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


@dataclass(frozen=True)
class CDItem:
    """One entry of the CD: its path parts there, and its source (a file or directory)."""

    parts: tuple[str, ...]
    source: str
    is_dir: bool = False


# ----------------------------------------------------------------------------- layout
def cd_layout(paths: list[str]) -> list[CDItem]:
    """What goes where; repeated directories merge, a file given twice is an error."""
    items: list[CDItem] = []
    for path in expand(paths):
        try:
            is_dir = stat.S_ISDIR(os.stat(path).st_mode)
        except OSError as exc:
            raise BuildError(
                f"Error creating temporary file for CD: Error adding path to CD: "
                f"stat {path}: {go_error(exc)}"
            ) from exc
        name = os.path.basename(path)
        if name == "..":
            name = os.path.basename(os.path.abspath(path))
        if not is_dir:
            items.append(CDItem((name,), path))
            continue
        base = () if name in ("", ".") else (name,)
        if base:
            items.append(CDItem(base, path, True))
        items.extend(CDItem((*base, *e.parts), e.source, e.is_dir) for e in walk(path))
    return merge(items)


def merge(items: Iterable[CDItem]) -> list[CDItem]:
    seen: dict[tuple[str, ...], CDItem] = {}
    kept: list[CDItem] = []
    for item in items:
        other = seen.get(item.parts)
        if other is not None:
            if other.is_dir and item.is_dir:
                continue
            raise BuildError(
                f"Error creating temporary file for CD: {'/'.join(item.parts)} is given twice "
                f"({other.source} and {item.source})"
            )
        seen[item.parts] = item
        kept.append(item)
    return kept


# ----------------------------------------------------------------------------- names
def iso9660_name(name: str, used: set[str], is_dir: bool) -> str:
    """An 8.3 (directories: 8) upper-case d-character name not in `used` (which grows)."""
    upper = name.upper()
    stem, dot, ext = upper.rpartition(".") if not is_dir else ("", "", upper)
    if not dot or not stem:
        stem, ext = upper, ""
    stem = "".join(c if c in _D_CHARS else "_" for c in stem)[:8] or "_"
    ext = "".join(c if c in _D_CHARS else "_" for c in ext)[:3]
    for n in itertools.count():
        suffix = f"_{n}" if n else ""
        candidate = stem[: 8 - len(suffix)] + suffix
        if not is_dir:
            candidate += f".{ext}"
        if candidate not in used:
            used.add(candidate)
            return candidate if is_dir else candidate + ";1"
    raise AssertionError("unreachable")


def joliet_name(name: str, used: set[str]) -> str:
    """`name` with characters Joliet cannot hold replaced, cut to 64, unique in `used`."""
    clean = "".join("_" if c in _JOLIET_BAD or c < " " or ord(c) > 0xFFFF else c for c in name)
    stem, dot, ext = clean.rpartition(".")
    if not dot or not stem or len(ext) > 16:
        stem, dot, ext = clean, "", ""
    for n in itertools.count():
        suffix = f"~{n}" if n else ""
        room = JOLIET_MAX - len(suffix) - len(dot) - len(ext)
        candidate = stem[:room] + suffix + dot + ext
        if candidate.casefold() not in used:
            used.add(candidate.casefold())
            return candidate
    raise AssertionError("unreachable")


# ----------------------------------------------------------------------------- image
def write_iso(
    path: str, label: str, items: list[CDItem], *, check: Callable[[], None] | None = None
) -> None:
    """Write the ISO image of `items` (parents before children) to `path`.

    `check()` is called as the image is written and may raise to stop (a cancelled build).
    """
    try:
        import pycdlib
    except ImportError as exc:
        raise BuildError(f"Error creating CD: pycdlib cannot be imported: {exc}") from exc

    def progress(done: int, total: int, opaque: object) -> None:
        if check is not None:
            check()

    iso = pycdlib.PyCdlib()
    # Joliet's volume identifier holds 16 characters; the primary one, 32.
    iso.new(interchange_level=3, joliet=3, rock_ridge="1.09", vol_ident=label[:16])
    if len(label) > 16:
        iso.pvd.volume_identifier = label.encode("ascii").ljust(32)
    paths: dict[tuple[str, ...], tuple[str, str]] = {(): ("", "")}
    used_iso: dict[tuple[str, ...], set[str]] = {}
    used_joliet: dict[tuple[str, ...], set[str]] = {}
    try:
        for item in items:
            parent = item.parts[:-1]
            iso_parent, joliet_parent = paths[parent]
            name = item.parts[-1]
            iso_path = f"{iso_parent}/{iso9660_name(name, used_iso.setdefault(parent, set()), item.is_dir)}"
            joliet_path = (
                f"{joliet_parent}/{joliet_name(name, used_joliet.setdefault(parent, set()))}"
            )
            if item.is_dir:
                mode = os.stat(item.source).st_mode
                iso.add_directory(iso_path, rr_name=name, joliet_path=joliet_path, file_mode=mode)
                paths[item.parts] = (iso_path, joliet_path)
            else:
                mode = os.stat(item.source).st_mode  # Rock Ridge keeps the permissions
                iso.add_file(
                    item.source, iso_path, rr_name=name, joliet_path=joliet_path, file_mode=mode
                )
        iso.write(path, progress_cb=progress)
    finally:
        iso.close()
