"""The vsphere-iso builder: a new VM on vCenter, installed from an ISO, provisioned, kept.

Packer 1.6.6's step order: connect; download the ISO (unless the datastore has it); make
the cd_files image; upload both to the datastore; create the VM; hardware; CD-ROMs;
configuration parameters; the floppy (made, uploaded, attached); the HTTP server (its
address for the guest discovered); boot order and power on; the boot command as USB scan
codes; with a communicator: wait for the guest IP, connect, provision; shut down; remove
the floppy; eject (and remove) the CD-ROMs; snapshot; template; content library; export.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from builder.artifact import Artifact
from builder.common.builder import PlatformBuilder
from builder.common.http import StepHTTPServer
from builder.common.media.steps import StepCreateCD, StepCreateFloppy
from builder.common.plan import Writes
from builder.common.run import RunArgs
from builder.common.steps import StepConnect, StepProvision
from builder.errors import TemplateError
from builder.multistep import Step
from builder.vsphere.common.artifact import BUILDER_ID, VSphereArtifact
from builder.vsphere.common.driver import VSPHERE, VSphereDriver, VSphereSettings
from builder.vsphere.common.run import VSphereRun, connection_settings, guest_ip
from builder.vsphere.common.steps.step_add_floppy import StepAddFloppy
from builder.vsphere.common.steps.step_boot_command import boot_command_step
from builder.vsphere.common.steps.step_cdrom import StepAddCDRom, StepRemoveCDRom
from builder.vsphere.common.steps.step_config_params import StepConfigParams
from builder.vsphere.common.steps.step_connect import StepConnectVSphere
from builder.vsphere.common.steps.step_export import StepExport
from builder.vsphere.common.steps.step_hardware import StepConfigureHardware
from builder.vsphere.common.steps.step_http_ip import StepHTTPIPDiscover
from builder.vsphere.common.steps.step_import_to_content_library import (
    StepImportToContentLibrary,
)
from builder.vsphere.common.steps.step_remove_floppy import StepRemoveFloppy
from builder.vsphere.common.steps.step_run import StepRun
from builder.vsphere.common.steps.step_shutdown import StepShutdown
from builder.vsphere.common.steps.step_snapshot import StepCreateSnapshot
from builder.vsphere.common.steps.step_template import StepConvertToTemplate
from builder.vsphere.common.steps.step_upload import StepRemoteUpload
from builder.vsphere.common.steps.step_wait_for_ip import StepWaitForIp
from builder.vsphere.iso.config import VSphereISOConfig
from builder.vsphere.iso.run import VSphereISORun
from builder.vsphere.iso.steps.step_create_vm import StepCreateVM
from builder.vsphere.iso.steps.step_download import StepDownloadISO


def _discovered_ip(ctx: VSphereRun[Any]) -> str:
    """StepHTTPServer's guest address: what StepHTTPIPDiscover found."""
    return ctx.http_ip


class Builder(PlatformBuilder[VSphereISORun]):
    """Packer's `vsphere-iso` builder over pyVmomi."""

    Config = VSphereISOConfig
    builder_id = BUILDER_ID
    config: VSphereISOConfig
    drivers = VSPHERE

    def driver_settings(self) -> VSphereSettings:
        return connection_settings(self.config)

    def warnings(self) -> list[str]:
        return self.config.all_warnings()

    def check(self) -> list[TemplateError]:
        """1.6.6's export checks (they need the VM and build names)."""
        export = self.config.export
        if export is None:
            return []
        return export.check_export(self.config.vm_name, self.options.build_name)

    def plan_writes(self) -> list[Writes]:
        export = self.config.export
        if export is None:
            return []
        where = os.path.abspath(export.target_dir(self.options.build_name))
        return [Writes(where, "the exported OVF, its disks and manifest (export)", "overwrite")]

    def new_run(self, args: RunArgs, driver: VSphereDriver) -> VSphereISORun:
        cfg = self.config
        return VSphereISORun(**args, config=cfg, driver=driver, vm_path=cfg.vm_path())

    def steps(self) -> Sequence[Step[VSphereISORun] | None]:
        cfg = self.config
        communicate = cfg.communicator != "none"
        return [
            StepConnectVSphere(),
            StepDownloadISO(),
            StepCreateCD(),
            StepRemoteUpload(),
            StepCreateVM(force=self.options.force),
            StepConfigureHardware(),
            StepAddCDRom(),
            StepConfigParams(),
            StepCreateFloppy(),
            StepAddFloppy(),
            StepHTTPIPDiscover(),
            StepHTTPServer(guest_ip=_discovered_ip),
            StepRun(set_order=True),
            boot_command_step(cfg.vm_name) if cfg.boot_command else None,
            StepWaitForIp() if communicate else None,
            StepConnect(host=guest_ip) if communicate else None,
            StepProvision() if communicate else None,
            StepShutdown(),
            StepRemoveFloppy(),
            StepRemoveCDRom(),
            StepCreateSnapshot(),
            StepConvertToTemplate(),
            StepImportToContentLibrary() if cfg.content_library_destination else None,
            StepExport(build_name=self.options.build_name) if cfg.export else None,
        ]

    def artifact(self, ctx: VSphereISORun) -> Artifact | None:
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
