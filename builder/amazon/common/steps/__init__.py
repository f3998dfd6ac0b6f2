"""The amazon steps, one per file, in the order an EBS build runs them."""

from builder.amazon.common.steps.helpers import name_checked_late, packer_uuid
from builder.amazon.common.steps.host import instance_address, instance_host
from builder.amazon.common.steps.step_ami_region_copy import StepAMIRegionCopy
from builder.amazon.common.steps.step_cleanup_volumes import StepCleanupVolumes
from builder.amazon.common.steps.step_create_ami import StepCreateAMI
from builder.amazon.common.steps.step_create_tags import StepCreateTags
from builder.amazon.common.steps.step_deregister_ami import StepDeregisterAMI
from builder.amazon.common.steps.step_key_pair import StepKeyPair
from builder.amazon.common.steps.step_modify_ami_attributes import StepModifyAMIAttributes
from builder.amazon.common.steps.step_modify_instance import StepModifyInstance
from builder.amazon.common.steps.step_network_info import StepNetworkInfo
from builder.amazon.common.steps.step_pre_validate import StepPreValidate
from builder.amazon.common.steps.step_run_source_instance import StepRunSourceInstance
from builder.amazon.common.steps.step_security_group import StepSecurityGroup
from builder.amazon.common.steps.step_source_ami_info import StepSourceAMIInfo
from builder.amazon.common.steps.step_stop_instance import StepStopInstance

__all__ = [
    "StepAMIRegionCopy",
    "StepCleanupVolumes",
    "StepCreateAMI",
    "StepCreateTags",
    "StepDeregisterAMI",
    "StepKeyPair",
    "StepModifyAMIAttributes",
    "StepModifyInstance",
    "StepNetworkInfo",
    "StepPreValidate",
    "StepRunSourceInstance",
    "StepSecurityGroup",
    "StepSourceAMIInfo",
    "StepStopInstance",
    "instance_address",
    "instance_host",
    "name_checked_late",
    "packer_uuid",
]
