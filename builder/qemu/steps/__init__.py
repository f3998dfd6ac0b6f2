"""The qemu builder's own steps, one per file."""

from builder.qemu.steps.step_boot_command import boot_command_step, vnc_sender
from builder.qemu.steps.step_configure_qmp import StepConfigureQMP
from builder.qemu.steps.step_configure_vnc import StepConfigureVNC
from builder.qemu.steps.step_connect import StepQemuConnect
from builder.qemu.steps.step_convert_disk import StepConvertDisk
from builder.qemu.steps.step_copy_disk import StepCopyDisk
from builder.qemu.steps.step_create_disk import StepCreateDisk
from builder.qemu.steps.step_port_forward import StepPortForward
from builder.qemu.steps.step_prepare_output_dir import StepPrepareOutputDir, output_dir
from builder.qemu.steps.step_resize_disk import StepResizeDisk
from builder.qemu.steps.step_run import StepRun
from builder.qemu.steps.step_wait_guest_address import StepWaitGuestAddress

__all__ = [
    "StepConfigureQMP",
    "StepConfigureVNC",
    "StepConvertDisk",
    "StepCopyDisk",
    "StepCreateDisk",
    "StepPortForward",
    "StepPrepareOutputDir",
    "StepQemuConnect",
    "StepResizeDisk",
    "StepRun",
    "StepWaitGuestAddress",
    "boot_command_step",
    "output_dir",
    "vnc_sender",
]
