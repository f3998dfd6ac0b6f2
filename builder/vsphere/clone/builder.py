"""vsphere-clone: clone a VM or template, configure, provision, and keep it (or a template).

Packer 1.6.6's step order: connect, make the cd_files image, upload it, clone, hardware,
CD-ROMs (the image among them), configuration parameters, customize; with a communicator:
make the floppy image, upload and attach it (and floppy_img_path), HTTP IP, HTTP server,
SSH key, power on, boot command, wait for IP, connect, provision, shut down, remove the
floppy drives and image; then eject CD-ROMs, snapshot, convert to template, import to a
content library, export. Without a communicator the floppy options do nothing, as in 1.6.6
(the config warns).
"""

from __future__ import annotations

from collections.abc import Sequence

from builder.artifact import Artifact
from builder.common.builder import PlatformBuilder
from builder.common.http import StepHTTPServer
from builder.common.media.steps import StepCreateCD, StepCreateFloppy
from builder.common.plan import Writes
from builder.common.run import RunArgs
from builder.common.steps import StepConnect, StepProvision
from builder.errors import TemplateError
from builder.multistep import Step
from builder.vsphere.clone.config import CloneConfig
from builder.vsphere.clone.steps import StepCloneVM, StepCustomize
from builder.vsphere.common.artifact import BUILDER_ID, VSphereArtifact
from builder.vsphere.common.driver import VSPHERE, VSphereDriver, VSphereSettings
from builder.vsphere.common.run import VSphereRun, connection_settings, guest_ip
from builder.vsphere.common.steps import (
    StepAddCDRom,
    StepAddFloppy,
    StepConfigParams,
    StepConfigureHardware,
    StepConnectVSphere,
    StepConvertToTemplate,
    StepCreateSnapshot,
    StepExport,
    StepHTTPIPDiscover,
    StepImportToContentLibrary,
    StepRemoteUpload,
    StepRemoveCDRom,
    StepRemoveFloppy,
    StepRun,
    StepShutdown,
    StepSshKeyPair,
    StepWaitForIp,
    boot_command_step,
)

Run = VSphereRun[CloneConfig]


def _http_ip(ctx: Run) -> str:
    return ctx.http_ip


class Builder(PlatformBuilder[Run]):
    """Packer's `vsphere-clone` over pyVmomi."""

    Config = CloneConfig
    builder_id = BUILDER_ID
    config: CloneConfig
    drivers = VSPHERE

    def driver_settings(self) -> VSphereSettings:
        return connection_settings(self.config)

    def check(self) -> list[TemplateError]:
        export = self.config.export
        if export is None:
            return []
        return export.check_export(self.config.vm_name, self.options.build_name)

    def warnings(self) -> list[str]:
        return self.config.all_warnings()

    def plan_writes(self) -> list[Writes]:
        export = self.config.export
        if export is None:
            return []
        where = export.target_dir(self.options.build_name)
        return [Writes(where, "the exported OVF, disks and manifest", "overwrite")]

    def new_run(self, args: RunArgs, driver: VSphereDriver) -> Run:
        return VSphereRun(**args, config=self.config, driver=driver,
                          vm_path=self.config.vm_path())  # fmt: skip

    def steps(self) -> Sequence[Step[Run] | None]:
        cfg, opts = self.config, self.options
        with_comm = cfg.communicator != "none"
        comm_steps: list[Step[Run] | None] = [
            StepCreateFloppy(),
            StepAddFloppy(),
            StepHTTPIPDiscover(),
            StepHTTPServer(guest_ip=_http_ip),
            StepSshKeyPair(debug_key_path=f"{opts.build_name}.pem" if opts.debug else ""),
            StepRun(),
            boot_command_step(cfg.vm_name) if cfg.boot_command else None,
            StepWaitForIp(),
            StepConnect(host=guest_ip),
            StepProvision(),
            StepShutdown(),
            StepRemoveFloppy(),
        ]
        return [
            StepConnectVSphere(),
            StepCreateCD(),
            StepRemoteUpload(),
            StepCloneVM(force=opts.force),
            StepConfigureHardware(),
            StepAddCDRom(),
            StepConfigParams(),
            StepCustomize() if cfg.customize is not None else None,
            *(comm_steps if with_comm else []),
            StepRemoveCDRom(),
            StepCreateSnapshot(),
            StepConvertToTemplate(),
            StepImportToContentLibrary() if cfg.content_library_destination else None,
            StepExport(build_name=opts.build_name) if cfg.export is not None else None,
        ]

    def artifact(self, ctx: Run) -> Artifact | None:
        if ctx.vm is None:
            return None
        return VSphereArtifact(
            ctx.vm,
            self.driver_settings(),
            ctx.export_files,
            generated_data=ctx.build_data(),
            library_item=ctx.library_item,
            library=ctx.library_name,
            vm_destroyed=ctx.destroy_vm,
        )
