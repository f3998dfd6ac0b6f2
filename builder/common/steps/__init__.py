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
from builder.common.steps.shutdown import (
    DEFAULT_SHUTDOWN_TIMEOUT,
    ShutdownConfig,
    ShutdownRun,
    StepShutdown,
)

__all__ = [
    "DEFAULT_SHUTDOWN_TIMEOUT",
    "ShutdownConfig",
    "ShutdownRun",
    "StepCleanupTempKeys",
    "StepConnect",
    "StepConnectNone",
    "StepProvision",
    "StepSSHKeyGen",
    "StepShutdown",
    "connection_data",
    "temporary_key_name",
]
