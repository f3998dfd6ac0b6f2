"""The qemu builder: a VM booted from an ISO (or a disk image), provisioned over SSH, its disk kept.

Packer 1.6.6's step order: download ISO, output directory, floppy, CD, disk (create,
copy, resize), HTTP server, host port, VNC port, start qemu, QMP, boot command over
VNC, guest address (bridge), connect, provision, shut down, convert/compact.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from builder.artifact import Artifact
from builder.common.builder import PlatformBuilder
from builder.common.http import StepHTTPServer
from builder.common.iso.step_download import StepDownload
from builder.common.media.steps import StepCreateCD, StepCreateFloppy
from builder.common.plan import Writes
from builder.common.run import RunArgs
from builder.common.steps import StepCleanupTempKeys, StepConnectNone, StepProvision
from builder.common.steps.shutdown import StepShutdown
from builder.config import option_error
from builder.errors import TemplateError
from builder.multistep import Step
from builder.qemu.artifact import BUILDER_ID, QemuArtifact
from builder.qemu.config import QemuConfig
from builder.qemu.driver import QEMU, QemuDriver, QemuSettings
from builder.qemu.run import QemuRun
from builder.qemu.steps import (
    StepConfigureQMP,
    StepConfigureVNC,
    StepConvertDisk,
    StepCopyDisk,
    StepCreateDisk,
    StepPortForward,
    StepPrepareOutputDir,
    StepQemuConnect,
    StepResizeDisk,
    StepRun,
    StepWaitGuestAddress,
    boot_command_step,
    output_dir,
)
from builder.qemu.steps.network import guest_http_ip


def _is_off(ctx: QemuRun) -> bool:
    return not ctx.driver.running()


def _halt(ctx: QemuRun) -> None:
    ctx.driver.stop()


class Builder(PlatformBuilder[QemuRun]):
    """Packer's `qemu` builder over qemu-system-* and qemu-img."""

    Config = QemuConfig
    builder_id = BUILDER_ID
    config: QemuConfig
    drivers = QEMU

    @property
    def output_dir(self) -> str:
        return output_dir(self.config, self.options.build_name)

    @property
    def vm_name(self) -> str:
        return self.config.vm_name or f"packer-{self.options.build_name}"

    @property
    def qmp_socket(self) -> str:
        cfg = self.config
        if not cfg.qmp_enable:
            return ""
        return cfg.qmp_socket_path or os.path.join(self.output_dir, f"{self.vm_name}.monitor")

    def driver_settings(self) -> QemuSettings:
        return QemuSettings(qemu_binary=self.config.qemu_binary)

    def check(self) -> list[TemplateError]:
        """Packer's check at validate time: the output directory must not exist (-force)."""
        path = self.output_dir
        if not self.options.force and os.path.exists(path):
            return [
                option_error(
                    f"Output directory '{path}' already exists. It must not exist.",
                    "output_directory",
                    hint="remove it, or run with -force to have it deleted first",
                )
            ]
        return []

    def warnings(self) -> list[str]:
        return self.config.all_warnings()

    def plan_writes(self) -> list[Writes]:
        path = os.path.abspath(self.output_dir)
        return [Writes(path, "the VM's disk images (output_directory)", "refuse")]

    def new_run(self, args: RunArgs, driver: QemuDriver) -> QemuRun:
        return QemuRun(
            **args,
            config=self.config,
            driver=driver,
            output_dir=self.output_dir,
            vm_name=self.vm_name,
            qmp_socket=self.qmp_socket,
        )

    def steps(self) -> Sequence[Step[QemuRun] | None]:
        cfg = self.config
        return [
            StepDownload(description="ISO"),
            StepPrepareOutputDir(),
            StepCreateFloppy(),
            StepCreateCD(),
            StepCreateDisk(),
            StepCopyDisk(),
            StepResizeDisk(),
            StepHTTPServer(guest_ip=guest_http_ip),
            StepPortForward(),
            StepConfigureVNC(),
            StepRun(),
            StepConfigureQMP(),
            None if cfg.disable_vnc else boot_command_step(self.vm_name),
            StepWaitGuestAddress(),
            StepConnectNone() if cfg.communicator == "none" else StepQemuConnect(),
            StepProvision(),
            StepCleanupTempKeys(),
            StepShutdown(is_off=_is_off, halt=_halt),
            StepConvertDisk(),
        ]

    def artifact(self, ctx: QemuRun) -> Artifact:
        cfg = self.config
        state = {
            "generated_data": ctx.build_data(),
            "diskName": ctx.vm_name,
            "diskPaths": list(ctx.disk_paths),
            "diskType": cfg.format,
            "diskSize": cfg.disk_size,
            "domainType": cfg.accelerator,
        }
        return QemuArtifact(ctx.output_dir, state)
