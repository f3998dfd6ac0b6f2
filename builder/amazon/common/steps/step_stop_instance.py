"""StepStopInstance: stop the source instance and wait until it is stopped."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from builder.amazon.common.driver import AwsError
from builder.amazon.common.lifecycle import instance_state_check
from builder.common.wait import WaitFailed, retry, wait_until
from builder.errors import BuildError

if TYPE_CHECKING:
    from builder.amazon.common.run import AmazonRun


@dataclass
class StepStopInstance:
    """Stop the instance (unless disable_stop_instance) and wait until it is stopped."""

    name: ClassVar[str] = "StepStopEBSBackedInstance"

    def run(self, ctx: AmazonRun) -> None:
        ui, driver, instance_id = ctx.ui, ctx.driver, ctx.instance_id
        if not ctx.config.disable_stop_instance:
            ui.say("Stopping the source instance...")

            def stop() -> None:
                ui.message("Stopping instance")
                driver.stop_instance(instance_id)

            try:
                retry(
                    stop,
                    retry_on=lambda e: (
                        isinstance(e, AwsError) and e.code == "InvalidInstanceID.NotFound"
                    ),
                    cancel=ctx.cancel,
                    tries=6,
                    first_delay=10.0,
                    max_delay=60.0,
                )
            except AwsError as exc:
                raise BuildError(f"Error stopping instance: {exc}") from exc
        else:
            ui.say("Automatic instance stop disabled. Please stop instance manually.")
        ui.say("Waiting for the instance to stop...")
        check = instance_state_check(driver, instance_id, "stopped", ("pending", "terminated"))
        try:
            ctx.instance = wait_until("instance_stopped", check, ctx.polling, ctx.cancel)
        except (WaitFailed, AwsError) as exc:
            raise BuildError(f"Error waiting for instance to stop: {exc}") from exc

    def cleanup(self, ctx: AmazonRun) -> None:
        """The instance is terminated by StepRunSourceInstance's cleanup."""
