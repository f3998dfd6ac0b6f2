"""StepStopServer: stop the server and wait until it is SHUTOFF."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from builder.common.wait import WaitFailed
from builder.errors import BuildError
from builder.openstack.driver import OpenStackError
from builder.openstack.waits import wait_server

if TYPE_CHECKING:
    from builder.openstack.run import OpenStackRun


@dataclass
class StepStopServer:
    name: ClassVar[str] = "StepStopServer"

    def run(self, ctx: OpenStackRun) -> None:
        server = ctx.require_server()
        ctx.ui.say(f"Stopping server: {server.id} ...")
        try:
            if not ctx.driver.stop_server(server.id):
                return  # 409: already stopped (1.6.6 goes on)
        except OpenStackError as exc:
            raise BuildError(f"Error stopping server: {exc}") from exc
        ctx.ui.message(f"Waiting for server to stop: {server.id} ...")
        try:
            ctx.server = wait_server(
                ctx.driver, server.id, ("SHUTOFF", "STOPPED"), ("ACTIVE",), ctx.polling, ctx.cancel
            )
        except (WaitFailed, OpenStackError) as exc:
            raise BuildError(f"Error waiting for server ({server.id}) to stop: {exc}") from exc

    def cleanup(self, ctx: OpenStackRun) -> None:
        """Nothing to undo."""
