"""StepModifyInstance: SR-IOV and ENA on the stopped instance."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from builder.amazon.common.driver import AwsError
from builder.errors import BuildError

if TYPE_CHECKING:
    from builder.amazon.common.run import AmazonRun


@dataclass
class StepModifyInstance:
    """Enable SR-IOV and/or set ENA on the stopped instance (sriov_support, ena_support)."""

    name: ClassVar[str] = "StepModifyEBSBackedInstance"

    def run(self, ctx: AmazonRun) -> None:
        cfg, ui, instance_id = ctx.config, ctx.ui, ctx.instance_id
        if cfg.sriov_support:
            ui.say("Enabling Enhanced Networking (SR-IOV)...")
            try:
                ctx.driver.modify_instance(instance_id, sriov=True)
            except AwsError as exc:
                raise BuildError(
                    f"Error enabling Enhanced Networking (SR-IOV) on {instance_id}: {exc}"
                ) from exc
        if cfg.ena_support is not None:
            prefix = "En" if cfg.ena_support else "Dis"
            ui.say(f"{prefix}abling Enhanced Networking (ENA)...")
            try:
                ctx.driver.modify_instance(instance_id, ena=cfg.ena_support)
            except AwsError as exc:
                raise BuildError(
                    f"Error {prefix.lower()}abling Enhanced Networking (ENA) on {instance_id}: "
                    f"{exc}"
                ) from exc

    def cleanup(self, ctx: AmazonRun) -> None:
        """Nothing to undo."""
