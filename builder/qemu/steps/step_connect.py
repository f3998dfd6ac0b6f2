"""StepConnect for qemu: wait for the guest's SSH banner with short probes, then connect.

qemu's user-mode network accepts a TCP connection on the forwarded port at once, even
while nothing in the guest listens yet, and holds it until the guest answers or gives
up. One long SSH handshake on such a connection waits out its whole timeout; short
probes that only wait for the `SSH-` banner find the moment the guest's sshd is up.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import ClassVar

from builder.common.steps import StepConnect
from builder.config import format_go_duration
from builder.errors import BuildCancelled, CommunicatorTimeout
from builder.qemu.run import QemuRun

PROBE_TIMEOUT = 2.0  # seconds one probe waits for the banner
PROBE_PAUSE = 0.5  # between probes


def banner(host: str, port: int, timeout: float) -> bool:
    """True when a server at host:port sends an SSH identification line within `timeout`."""
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            got = b""
            while b"\n" not in got and len(got) < 256:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                sock.settimeout(left)
                chunk = sock.recv(256)
                if not chunk:
                    return False
                got += chunk
            return got.startswith(b"SSH-") or b"\nSSH-" in got
    except OSError:
        return False


def wait_for_banner(ctx: QemuRun, host: str, port: int) -> None:
    """Probe until the banner comes, within ssh_timeout; cancellable between probes."""
    limit = ctx.config.ssh_timeout
    ctx.ui.message(f"Waiting for the guest's SSH server on {host}:{port}...")
    deadline = time.monotonic() + limit
    while not banner(host, port, PROBE_TIMEOUT):
        if time.monotonic() >= deadline:
            raise CommunicatorTimeout(
                f"Timeout waiting for SSH: no SSH server answered on {host}:{port} within "
                f"{format_go_duration(limit)}"
            )
        if ctx.cancel.wait(PROBE_PAUSE):
            raise BuildCancelled()


def _host(ctx: object) -> str:
    return ctx.comm_host() if isinstance(ctx, QemuRun) else ""


def _port(ctx: object) -> int:
    return ctx.comm_port() if isinstance(ctx, QemuRun) else 22


@dataclass
class StepQemuConnect:
    """The shared StepConnect to the forwarded port, after the banner probe."""

    name: ClassVar[str] = "StepConnect"
    _connect: StepConnect | None = None

    def run(self, ctx: QemuRun) -> None:
        cfg = ctx.config
        if cfg.communicator == "ssh" and not (cfg.ssh_bastion_host or cfg.ssh_proxy_host):
            wait_for_banner(ctx, ctx.comm_host(), ctx.comm_port())
        self._connect = StepConnect(host=_host, port=_port)
        self._connect.run(ctx)

    def cleanup(self, ctx: QemuRun) -> None:
        if self._connect is not None:
            self._connect.cleanup(ctx)
            self._connect = None
