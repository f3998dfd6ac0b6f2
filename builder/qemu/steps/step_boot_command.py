"""The boot command over VNC: the shared StepTypeBootCommand with qemu's VNC key sender."""

from __future__ import annotations

from builder.common.boot import BootCommandRun, KeySender, StepTypeBootCommand
from builder.errors import BuildError
from builder.qemu.run import QemuRun


def vnc_sender(ctx: BootCommandRun) -> KeySender:
    """Connect to the VM's VNC server (with its password when vnc_use_password)."""
    from builder.common.boot.vnc import open_vnc_sender

    if not isinstance(ctx, QemuRun):
        raise BuildError("the qemu boot command step needs a qemu build")
    return open_vnc_sender(
        ctx.ui, ctx.config.vnc_bind_address, ctx.vnc_port, password=ctx.vnc_password
    )


def boot_command_step(vm_name: str) -> StepTypeBootCommand:
    """Packer's stepTypeBootCommand for qemu: `{{ .Name }}` is the VM's name."""
    return StepTypeBootCommand(connect=vnc_sender, vm_name=vm_name)
