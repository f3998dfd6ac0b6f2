"""StepDockerProvision: the provisioners, and a clear word when the container died under them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from builder.common.steps import StepProvision
from builder.docker.run import DockerRun
from builder.errors import BuildCancelled, BuildError, DriverError


@dataclass
class StepDockerProvision:
    """The shared StepProvision; a failure caused by the container dying says so."""

    name: ClassVar[str] = StepProvision.name
    keep_on_abort: ClassVar[bool] = StepProvision.keep_on_abort
    _provision: StepProvision = field(default_factory=StepProvision)

    def run(self, ctx: DockerRun) -> None:
        try:
            self._provision.run(ctx)
        except BuildCancelled:
            raise
        except Exception as exc:
            gone = _container_gone(ctx)
            if gone:
                raise BuildError(f"{gone} while provisioning: {exc}") from exc
            raise

    def cleanup(self, ctx: DockerRun) -> None:
        self._provision.cleanup(ctx)


def _container_gone(ctx: DockerRun) -> str:
    try:
        state = ctx.driver.container_state(ctx.container_id)
    except DriverError as exc:
        return f"The container {ctx.container_id[:12]} disappeared ({exc})"
    if state.running:
        return ""
    why = f"exit status {state.exit_code}"
    if state.exit_code == 137:
        why += ", killed"
    if state.oom_killed:
        why += ", out of memory"
    return f"The container {ctx.container_id[:12]} stopped ({why})"
