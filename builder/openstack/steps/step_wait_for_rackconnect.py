"""StepWaitForRackConnect: with rackconnect_wait, until RackConnect has deployed the server."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from builder.common.wait import WaitFailed, wait_until
from builder.errors import BuildError
from builder.openstack.driver import OpenStackError

if TYPE_CHECKING:
    from builder.openstack.driver import Server
    from builder.openstack.run import OpenStackRun


@dataclass
class StepWaitForRackConnect:
    name: ClassVar[str] = "StepWaitForRackConnect"

    def run(self, ctx: OpenStackRun) -> None:
        if not ctx.config.rackconnect_wait:
            return
        server = ctx.require_server()
        ctx.ui.say(f"Waiting for server ({server.id}) to become RackConnect ready...")

        def deployed() -> Server | None:
            now = ctx.driver.get_server(server.id)
            if now is None:
                raise WaitFailed(f"server {server.id} disappeared")
            return now if now.metadata.get("rackconnect_automation_status") == "DEPLOYED" else None

        try:
            ctx.server = wait_until("rackconnect", deployed, ctx.polling, ctx.cancel)
        except (WaitFailed, OpenStackError) as exc:
            raise BuildError(f"Error waiting for RackConnect: {exc}") from exc

    def cleanup(self, ctx: OpenStackRun) -> None:
        """Nothing to undo."""
