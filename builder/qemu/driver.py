"""What pybuild asks of qemu (`QemuDriver`), in our words, and how to reach it.

The subprocess layer (`qemu-system-*`, `qemu-img`, the QMP socket) lives in
`builder.qemu.sdk`, made through `QEMU`, the platform's one DriverFactory; unit tests
swap it for a fake with `QEMU.override`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from builder.common.drivers import DriverFactory

if TYPE_CHECKING:
    from builder.multistep import CancelToken

__all__ = ["QEMU", "QMPMonitor", "QemuDriver", "QemuProcess", "QemuSettings"]


@dataclass(frozen=True)
class QemuSettings:
    """Which programs a build runs: the emulator and qemu-img (names or paths)."""

    qemu_binary: str = "qemu-system-x86_64"
    qemu_img: str = "qemu-img"


@dataclass(frozen=True)
class QemuProcess:
    """A started qemu: its pid and the kernel's start time of that pid (/proc/PID/stat).

    The pair names the process for good: a pid the kernel reused later has another
    start time, so cleanup never kills a stranger.
    """

    pid: int
    start_time: str


class QMPMonitor(Protocol):
    """An open QMP connection (capabilities negotiated)."""

    def execute(self, command: str, arguments: Mapping[str, Any] | None = None) -> Any:
        """Run one command; its `return` value, or DriverError with qemu's `error.desc`."""

    def close(self) -> None: ...


class QemuDriver(Protocol):
    """One build's qemu: at most one VM process, and qemu-img calls."""

    def version(self) -> str:
        """The emulator's version (`7.2.22`)."""

    def start(self, args: Sequence[str], env: Mapping[str, str]) -> QemuProcess:
        """Start the emulator with `args` (extra environment `env`); returns at once."""

    def check_started(
        self, seconds: float, cancel: CancelToken, listening: tuple[str, int] | None = None
    ) -> None:
        """Watch `seconds` for an early exit (DriverError with qemu's own words), or, with
        `listening`, until qemu accepts connections there (its VNC server is up)."""

    def running(self) -> bool:
        """True while the VM process this driver started is alive."""

    def wait_stopped(self, seconds: float, cancel: CancelToken) -> bool:
        """Wait up to `seconds` for the VM to power off; False on timeout (or cancel)."""

    def stop(self) -> None:
        """Kill the VM process (SIGKILL) and reap it; nothing when none runs."""

    def qmp(self, socket_path: str, timeout: float) -> QMPMonitor:
        """Connect to the VM's QMP socket (waits up to `timeout` for qemu to open it)."""

    def qemu_img(self, args: Sequence[str]) -> str:
        """Run qemu-img with `args`; its stdout, or DriverError `QemuImg error: <stderr>`."""

    def copy(self, source: str, target: str) -> None:
        """Copy a disk image byte for byte (no conversion needed)."""

    def close(self) -> None:
        """Stop a VM still running and forget it; safe twice."""


QEMU: DriverFactory[QemuSettings, QemuDriver] = DriverFactory(
    "qemu", "builder.qemu.sdk:QemuProcessDriver"
)
