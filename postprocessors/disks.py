"""Disk images in post-processors: which format a file is, and conversion, with qemu-img.

amazon-import and cobbler both take the builder's one disk and convert it when its format
is not the one asked for.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence

from builder.errors import BuildCancelled, PostProcessorError
from builder.multistep import CancelToken

DISK_SUFFIXES = (".qcow2", ".raw", ".img", ".vmdk", ".vhd", ".vhdx")


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


def convert(
    source: str, fmt: str, target: str, cancel: CancelToken, options: Sequence[str] = ()
) -> None:
    """qemu-img convert to `fmt` (qemu-img's name for it), killed when the run is cancelled."""
    command = ["qemu-img", "convert", "-O", fmt, *options, source, target]
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
