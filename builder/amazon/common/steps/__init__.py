"""The amazon steps, in the order an EBS build runs them."""

from builder.amazon.common.steps.access import StepKeyPair, StepSecurityGroup, packer_uuid
from builder.amazon.common.steps.ami import StepCreateAMI, StepDeregisterAMI, destroy_images
from builder.amazon.common.steps.connect import instance_host
from builder.amazon.common.steps.instance import (
    StepCleanupVolumes,
    StepModifyInstance,
    StepRunSourceInstance,
    StepStopInstance,
)
from builder.amazon.common.steps.publish import (
    StepAMIRegionCopy,
    StepCreateTags,
    StepModifyAMIAttributes,
)
from builder.amazon.common.steps.source import (
    StepNetworkInfo,
    StepPreValidate,
    StepSourceAMIInfo,
    name_checked_late,
)

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
    "destroy_images",
    "instance_host",
    "name_checked_late",
    "packer_uuid",
]
