"""StepConfigParams: configuration_parameters (extraConfig) and the VMware Tools settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from builder.errors import BuildError, DriverError
from builder.vsphere.common.run import VSphereRun


@dataclass
class StepConfigParams:
    name: ClassVar[str] = "StepConfigParams"

    def run(self, ctx: VSphereRun[Any]) -> None:
        cfg = ctx.config
        ctx.ui.say("Adding configuration parameters...")
        try:
            ctx.driver.add_config_params(
                ctx.require_vm(),
                dict(cfg.configuration_parameters),
                cfg.tools_sync_time,
                cfg.tools_upgrade_policy,
            )
        except DriverError as exc:
            raise BuildError(f"error adding configuration parameters: {exc}") from exc

    def cleanup(self, ctx: VSphereRun[Any]) -> None:
        """Nothing to undo."""
