"""A free TCP port in a range, held against other builds until the VM has it.

Like Packer's ListenRangeConfig: ports are tried in random order, each bound once to see
that it is free, then released for qemu to take. Between the two, other builds (threads
or other pybuild processes) must not pick the same port: a Linux abstract unix socket
named after the port is the lock (no file to leave behind; the kernel drops it when the
process dies). Unlike Packer, which retries forever, a range with no free port is an
error that names it.
"""

from __future__ import annotations

import random
import socket
import sys
from dataclasses import dataclass, field

from builder.errors import BuildError


@dataclass
class Reservation:
    """A port chosen for one build; `release()` lets other builds choose it again."""

    port: int
    _lock: socket.socket | None = field(default=None, repr=False)

    def release(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None


def _lock(port: int) -> socket.socket | None | bool:
    """The lock on `port`, False when another build holds it, None where there are none."""
    if not sys.platform.startswith("linux"):
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(f"\0pybuild-port-{port}")
    except OSError:
        sock.close()
        return False
    return sock


def _free(address: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((address, port))
        except OSError:
            return False
    return True


def reserve(address: str, low: int, high: int, what: str) -> Reservation:
    """A free port from `low` up to, not including, `high` (Packer 1.6.6's rule; equal
    values mean that one port) on `address`, held until released."""
    ports = list(range(low, high)) if high > low else [low]
    random.shuffle(ports)
    for port in ports:
        lock = _lock(port)
        if lock is False:
            continue
        held = lock if isinstance(lock, socket.socket) else None
        if _free(address, port):
            return Reservation(port, held)
        if held is not None:
            held.close()
    raise BuildError(f"Error finding {what}: no free port between {low} and {high} on {address}")
