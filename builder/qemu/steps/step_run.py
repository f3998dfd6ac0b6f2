"""StepRun: start the VM (the qemu process), recorded in the ledger before it starts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from builder.common.plan import Creates
from builder.errors import BuildError, DriverError
from builder.ledger import Resource
from builder.qemu.config import QemuConfig
from builder.qemu.qemuargs import Machine, apply_overrides, default_args, headless_message
from builder.qemu.resources import ENV_TOKEN, PLATFORM, new_token
from builder.qemu.run import QemuRun

EARLY_EXIT = 2.0  # seconds to watch for qemu refusing its arguments, as Packer
READY = 15.0  # seconds for qemu to open its VNC port

HINTS = {
    "gtk initialization failed": 'there is no display here: set "headless": true',
    "Could not access KVM kernel module": 'set "accelerator": "tcg" (no usable /dev/kvm)',
    "failed to initialize kvm": 'set "accelerator": "tcg" (no usable /dev/kvm)',
    "Could not set up host forwarding rule": "the host port is taken: try another "
    "host_port_min..host_port_max",
}


def machine(ctx: QemuRun, version_major: int) -> Machine:
    """What the command line is made from."""
    cfg = ctx.config
    return Machine(
        vm_name=ctx.vm_name,
        disk_paths=list(ctx.disk_paths),
        vnc_port=ctx.vnc_port,
        vnc_password=bool(ctx.vnc_password),
        iso_path="" if cfg.disk_image else ctx.iso_path,
        cd_path=ctx.cd_path,
        floppy_path=ctx.floppy_path,
        host_port=ctx.host_port if cfg.communicator != "none" else 0,
        guest_port=cfg.ssh_port,
        qmp_socket=ctx.qmp_socket,
        version_major=version_major,
    )


def command_line(ctx: QemuRun, version_major: int) -> list[str]:
    """The qemu arguments, saying what Packer says about them."""
    cfg = ctx.config
    m = machine(ctx, version_major)
    ctx.ui.say("Starting VM, booting disk image" if cfg.disk_image
               else "Starting VM, booting from CD-ROM")  # fmt: skip
    defaults = default_args(cfg, m)
    for note in m.notes:
        ctx.ui.message(note)
    vnc = defaults["-vnc"][0]
    message = headless_message(cfg.headless, vnc.removesuffix(",password=on"), ctx.vnc_password)
    if message:
        ctx.ui.message(message)
    if cfg.qemuargs:
        ctx.ui.say("Overriding default Qemu arguments with qemuargs template option...")
    data = ctx.template_data()

    def render(text: str) -> str:
        try:
            return ctx.options.render_text(text, data=data)
        except (BuildError, ValueError) as exc:
            raise BuildError(f"Error processing QemuArgs: {exc}") from exc

    return apply_overrides(defaults, cfg.qemuargs, render, cfg.net_device)


def _major(version: str) -> int:
    try:
        return int(version.split(".")[0])
    except ValueError as exc:
        raise BuildError(f"Error parsing qemu version: {version!r}") from exc


@dataclass
class StepRun:
    """Start qemu; cleanup kills it (a VM still running when the build ends)."""

    name: ClassVar[str] = "StepRun"
    _res: Resource | None = None
    _started: bool = False

    def plan(self, config: QemuConfig, build_name: str) -> list[Creates]:
        what = f"qemu process ({config.qemu_binary}, accelerator {config.accelerator})"
        return [Creates(f"{PLATFORM}.process", what, "<run id>:<random>")]

    def run(self, ctx: QemuRun) -> None:
        try:
            version = ctx.driver.version()
        except DriverError as exc:
            raise BuildError(str(exc)) from exc
        args = command_line(ctx, _major(version))
        token = new_token(ctx.resources.run_id)
        self._res = res = ctx.resources.creating(PLATFORM, "process", name=token)
        try:
            proc = ctx.driver.start(args, {ENV_TOKEN: token})
        except DriverError as exc:
            res.released()
            self._res = None
            raise BuildError(f"Error launching VM: {exc}") from exc
        self._started = True
        res.created(str(proc.pid), start_time=proc.start_time)
        ctx.process = proc
        vnc = None if _vnc_overridden(ctx) else (ctx.config.vnc_bind_address, ctx.vnc_port)
        try:
            ctx.driver.check_started(READY if vnc else EARLY_EXIT, ctx.cancel, vnc)
        except DriverError as exc:
            raise BuildError(f"Error launching VM: {exc}{_hint(str(exc))}") from exc
        ctx.cancel.check()

    def cleanup(self, ctx: QemuRun) -> None:
        if not self._started:
            return
        try:
            ctx.driver.stop()
        except DriverError as exc:
            ctx.ui.error(f"Error shutting down VM: {exc}")
            return
        self._started = False
        ctx.process = None
        if self._res is not None:
            self._res.released()
            self._res = None


def _vnc_overridden(ctx: QemuRun) -> bool:
    return any(row and row[0] == "-vnc" for row in ctx.config.qemuargs)


def _hint(text: str) -> str:
    for needle, hint in HINTS.items():
        if needle in text:
            return f"\n{hint}"
    return ""
