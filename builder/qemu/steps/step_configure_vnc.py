"""StepConfigureVNC: the VNC port (and with vnc_use_password, a password)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import ClassVar

from builder.qemu.ports import Reservation, reserve
from builder.qemu.run import QemuRun
from builder.redact import Redactor

PASSWORD_CHARS = "012345689abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def vnc_password() -> str:
    """Eight characters, as Packer's (VNC authentication uses at most 8)."""
    return "".join(secrets.choice(PASSWORD_CHARS) for _ in range(8))


@dataclass
class StepConfigureVNC:
    """Choose a free port in vnc_port_min..vnc_port_max on vnc_bind_address."""

    name: ClassVar[str] = "StepConfigureVNC"
    _held: Reservation | None = None

    def run(self, ctx: QemuRun) -> None:
        cfg = ctx.config
        where = cfg.vnc_bind_address
        ctx.ui.say(
            f"Looking for available port between {cfg.vnc_port_min} and {cfg.vnc_port_max} "
            f"on {where}"
        )
        self._held = reserve(where, cfg.vnc_port_min, cfg.vnc_port_max, "VNC port")
        ctx.vnc_port = self._held.port
        if cfg.vnc_use_password:
            ctx.vnc_password = vnc_password()
            redact = ctx.options.redact
            if isinstance(redact, Redactor):  # masked in every output from here on
                redact.add(ctx.vnc_password)

    def cleanup(self, ctx: QemuRun) -> None:
        if self._held is not None:
            self._held.release()
            self._held = None
        ctx.vnc_password = ""
