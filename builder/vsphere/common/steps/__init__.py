"""The steps both vSphere builders share, one per module (1.6.6's names and messages).

Order in a build (clone; iso adds its download and create steps, and runs the floppy steps
without a communicator too): StepConnectVSphere, (StepCreateCD), StepRemoteUpload,
<create or clone>, StepConfigureHardware, StepAddCDRom, StepConfigParams, (customize),
(StepCreateFloppy), StepAddFloppy, StepHTTPIPDiscover, StepHTTPServer, StepSshKeyPair,
StepRun, boot_command_step(), StepWaitForIp, StepConnect, StepProvision, StepShutdown,
StepRemoveFloppy, StepRemoveCDRom, StepCreateSnapshot, StepConvertToTemplate,
StepImportToContentLibrary, StepExport. (StepCreateCD and StepCreateFloppy are the shared
media steps of builder.common.media.)

`vm.py` holds the VM's ledger lifecycle for the creating step (record_vm, vm_made,
cleanup_vm, pre_clean, orphan_after_failed_call).
"""

from builder.vsphere.common.steps.step_add_floppy import StepAddFloppy
from builder.vsphere.common.steps.step_boot_command import UsbKeySender, boot_command_step
from builder.vsphere.common.steps.step_cdrom import StepAddCDRom, StepRemoveCDRom
from builder.vsphere.common.steps.step_config_params import StepConfigParams
from builder.vsphere.common.steps.step_connect import StepConnectVSphere
from builder.vsphere.common.steps.step_export import StepExport
from builder.vsphere.common.steps.step_hardware import StepConfigureHardware, hardware_spec
from builder.vsphere.common.steps.step_http_ip import StepHTTPIPDiscover
from builder.vsphere.common.steps.step_import_to_content_library import (
    StepImportToContentLibrary,
)
from builder.vsphere.common.steps.step_remove_floppy import StepRemoveFloppy
from builder.vsphere.common.steps.step_run import StepRun
from builder.vsphere.common.steps.step_shutdown import StepShutdown
from builder.vsphere.common.steps.step_snapshot import StepCreateSnapshot
from builder.vsphere.common.steps.step_ssh_key_pair import StepSshKeyPair
from builder.vsphere.common.steps.step_template import StepConvertToTemplate
from builder.vsphere.common.steps.step_upload import StepRemoteUpload
from builder.vsphere.common.steps.step_wait_for_ip import StepWaitForIp
from builder.vsphere.common.steps.vm import (
    cleanup_vm,
    orphan_after_failed_call,
    pre_clean,
    record_vm,
    vm_made,
)

__all__ = [
    "StepAddCDRom",
    "StepAddFloppy",
    "StepConfigParams",
    "StepConfigureHardware",
    "StepConnectVSphere",
    "StepConvertToTemplate",
    "StepCreateSnapshot",
    "StepExport",
    "StepHTTPIPDiscover",
    "StepImportToContentLibrary",
    "StepRemoteUpload",
    "StepRemoveCDRom",
    "StepRemoveFloppy",
    "StepRun",
    "StepShutdown",
    "StepSshKeyPair",
    "StepWaitForIp",
    "UsbKeySender",
    "boot_command_step",
    "cleanup_vm",
    "hardware_spec",
    "orphan_after_failed_call",
    "pre_clean",
    "record_vm",
    "vm_made",
]
