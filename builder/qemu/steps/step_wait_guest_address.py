"""StepWaitGuestAddress: with net_bridge, the guest's address from the host's ARP table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from builder.errors import BuildCancelled, BuildError, DriverError
from builder.qemu.run import QemuRun

POLL = 10.0  # seconds between looks, as Packer
ARP = "/proc/net/arp"
ATF_COM = 0x02  # a complete ARP entry


def guest_mac(ctx: QemuRun) -> str:
    """The MAC address of the VM's network card, asked of QMP (query-rx-filter)."""
    if ctx.qmp is None:
        return ""
    try:
        filters = ctx.qmp.execute("query-rx-filter")
    except DriverError:
        return ""
    for item in filters if isinstance(filters, list) else []:
        mac = item.get("main-mac", "") if isinstance(item, dict) else ""
        if mac:
            return str(mac)  # the one card the command line gives the VM
    return ""


def arp_address(bridge: str, mac: str, table: str = ARP) -> str:
    """The IPv4 address of `mac` on `bridge` in the kernel's ARP table, or ""."""
    try:
        with open(table) as f:
            lines = f.read().splitlines()[1:]
    except OSError:
        return ""
    for line in lines:
        fields = line.split()
        if len(fields) < 6 or fields[5] != bridge or fields[3].lower() != mac.lower():
            continue
        if int(fields[2], 0) & ATF_COM:
            return fields[0]
    return ""


@dataclass
class StepWaitGuestAddress:
    """Until the guest on net_bridge has an address (within ssh_timeout)."""

    name: ClassVar[str] = "StepWaitGuestAddress"

    def run(self, ctx: QemuRun) -> None:
        cfg = ctx.config
        if cfg.communicator == "none":
            ctx.ui.message("No communicator is configured -- skipping StepWaitGuestAddress")
            return
        if not cfg.net_bridge:
            ctx.ui.message("Not using a NetBridge -- skipping StepWaitGuestAddress")
            return
        ctx.ui.say(
            "Waiting for the guest address to become available in the "
            f"{cfg.net_bridge} network bridge..."
        )
        waited = 0.0
        while True:
            mac = guest_mac(ctx)
            address = arp_address(cfg.net_bridge, mac) if mac else ""
            if address:
                ctx.guest_address = address
                return
            if waited >= cfg.ssh_timeout:
                raise BuildError(
                    f"Timeout waiting for the guest address in the {cfg.net_bridge} bridge"
                )
            if ctx.cancel.wait(POLL):
                raise BuildCancelled()
            waited += POLL

    def cleanup(self, ctx: QemuRun) -> None:
        ctx.guest_address = ""
