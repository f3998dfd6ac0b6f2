"""StepConnectDocker: the docker communicator, exec and archive calls into the container."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from builder.communicator.docker import DockerCommunicator
from builder.docker.run import DockerRun


@dataclass
class StepConnectDocker:
    """The docker communicator: exec and archive calls against the container."""

    name: ClassVar[str] = "StepConnect"

    def run(self, ctx: DockerRun) -> None:
        ctx.ui.say(f"Using docker communicator to connect: {ctx.container_ip}")
        cfg = ctx.config
        ctx.communicator = DockerCommunicator(
            ctx.driver,
            ctx.container_id,
            exec_user=cfg.exec_user,
            container_user=ctx.container_user,
            fix_upload_owner=cfg.fix_upload_owner,
            pty=cfg.pty,
        )

    def cleanup(self, ctx: DockerRun) -> None:
        ctx.communicator = None
