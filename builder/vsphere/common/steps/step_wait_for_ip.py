"""StepWaitForIp: wait for VMware Tools to report an address, and for it to settle.

1.6.6's rules: the first address inside `ip_wait_address` (an empty option: the first
IPv4 address); once one is seen it must stay the same for `ip_settle_timeout`; after
`ip_wait_timeout` an address seen is used, none is "Timeout waiting for IP.".
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from builder.config import format_go_duration
from builder.errors import BuildCancelled, BuildError, DriverError
from builder.vsphere.common.config import WaitIpConfig
from builder.vsphere.common.run import VSphereRun

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def pick_ip(addresses: Sequence[str], network: Network | None) -> str:
    """The first address in `network` (None: the first IPv4 address), else ""."""
    for text in addresses:
        try:
            ip = ipaddress.ip_address(text.split("%", 1)[0])
        except ValueError:
            continue
        if network is None:
            if ip.version == 4:
                return text
        elif ip.version == network.version and ip in network:
            return text
    return ""


def settle_interval(settle: float) -> float:
    """How often the address is asked again while it settles (1.6.6's steps)."""
    if settle >= 120:
        return 30.0
    if settle >= 60:
        return 15.0
    if settle >= 10:
        return 5.0
    return 1.0


@dataclass
class StepWaitForIp:
    """`clock` and `poll` are for tests (a fake clock); the defaults are real time."""

    name: ClassVar[str] = "StepWaitForIp"
    poll: float = 1.0
    clock: Callable[[], float] = time.monotonic

    def run(self, ctx: VSphereRun[Any]) -> None:
        cfg: WaitIpConfig = ctx.config
        ctx.ui.say("Waiting for IP...")
        ip = self._wait(ctx, cfg)
        ctx.ip = ip
        ctx.ui.say(f"IP address: {ip}")

    def _wait(self, ctx: VSphereRun[Any], cfg: WaitIpConfig) -> str:
        vm, network = ctx.require_vm(), cfg.wait_network()
        deadline = self.clock() + cfg.ip_wait_timeout
        seen, stable_at = "", 0.0
        while True:
            try:
                ip = pick_ip(ctx.driver.guest_ips(vm), network)
            except DriverError as exc:
                raise BuildError(f"Error waiting for IP: {exc}") from exc
            now = self.clock()
            if ip and ip != seen:
                seen, stable_at = ip, now + cfg.ip_settle_timeout
            elif ip and now >= stable_at:
                return ip
            left = deadline - now
            if left <= 0:
                if seen:
                    return seen
                raise BuildError(
                    f"Timeout waiting for IP. (no address within ip_wait_timeout "
                    f"{format_go_duration(cfg.ip_wait_timeout)}: is VMware Tools running "
                    "in the guest?)"
                )
            step = settle_interval(cfg.ip_settle_timeout) if seen else self.poll
            if ctx.cancel.wait(min(step, left)):
                raise BuildCancelled()

    def cleanup(self, ctx: VSphereRun[Any]) -> None:
        """Nothing to undo."""
