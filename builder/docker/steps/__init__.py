"""The docker builder's steps, in Packer's order; each cleanup undoes only its own work."""

from builder.docker.steps.step_commit import StepCommit
from builder.docker.steps.step_connect import StepConnectDocker
from builder.docker.steps.step_export import StepExport
from builder.docker.steps.step_provision import StepDockerProvision
from builder.docker.steps.step_pull import StepPull
from builder.docker.steps.step_run_container import StepRunContainer, container_spec
from builder.docker.steps.step_temp_dir import StepTempDir, packer_tmp_root

__all__ = [
    "StepCommit",
    "StepConnectDocker",
    "StepDockerProvision",
    "StepExport",
    "StepPull",
    "StepRunContainer",
    "StepTempDir",
    "container_spec",
    "packer_tmp_root",
]
