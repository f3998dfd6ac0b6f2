"""Steps every platform shares: keys, connecting the communicator, provisioning."""

from builder.common.steps.connect import (
    StepCleanupTempKeys,
    StepConnect,
    StepConnectNone,
    StepSSHKeyGen,
    connection_data,
    temporary_key_name,
)
from builder.common.steps.provision import StepProvision

__all__ = [
    "StepCleanupTempKeys",
    "StepConnect",
    "StepConnectNone",
    "StepProvision",
    "StepSSHKeyGen",
    "connection_data",
    "temporary_key_name",
]
