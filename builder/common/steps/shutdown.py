"""StepShutdown: stop the machine once provisioning is done (Packer 1.6.6's qemu semantics).

- `communicator: none`: nothing can be sent; wait up to `shutdown_timeout` for the machine
  to power itself off ("Failed to shutdown" when it does not).
- `shutdown_command`: run it over the communicator ("Gracefully halting virtual
  machine..."), then wait up to `shutdown_timeout` for the machine to be off.
- neither: the platform's halt ("Halting the virtual machine...").

The platform gives `is_off(ctx)` (polled) and `halt(ctx)`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Generic, Protocol, TypeVar

from pydantic import model_validator

from builder.communicator.base import Disconnected
from builder.communicator.none import NoneCommunicator
from builder.config import Duration, PluginConfig
from builder.errors import BuildCancelled, BuildError, CommunicatorTimeout

if TYPE_CHECKING:
    from builder.communicator.base import Communicator
    from builder.multistep import CancelToken
    from builder.ui import Ui

DEFAULT_SHUTDOWN_TIMEOUT = 300.0  # 5m


class ShutdownConfig(PluginConfig):
    """`shutdown_command` and `shutdown_timeout` (Packer's shutdowncommand block)."""

    shutdown_command: str = ""
    shutdown_timeout: Duration = DEFAULT_SHUTDOWN_TIMEOUT

    @model_validator(mode="after")
    def _shutdown_defaults(self) -> ShutdownConfig:
        """Packer's Prepare: a zero timeout means the default, five minutes."""
        if not self.shutdown_timeout:
            self.shutdown_timeout = DEFAULT_SHUTDOWN_TIMEOUT
        return self


class ShutdownRun(Protocol):
    """What the step needs from a run (every BuildRun of a ShutdownConfig has it)."""

    @property
    def ui(self) -> Ui: ...
    @property
    def cancel(self) -> CancelToken: ...
    @property
    def config(self) -> ShutdownConfig: ...
    @property
    def communicator(self) -> Communicator | None: ...


R = TypeVar("R", bound=ShutdownRun)


@dataclass
class StepShutdown(Generic[R]):
    """Shut the machine down gracefully with `shutdown_command`, else halt it.

    `poll_interval` is how often `is_off` is asked while waiting.
    """

    name: ClassVar[str] = "StepShutdown"
    is_off: Callable[[R], bool]
    halt: Callable[[R], None]
    poll_interval: float = 1.0

    def run(self, ctx: R) -> None:
        cfg, comm = ctx.config, ctx.communicator
        if isinstance(comm, NoneCommunicator):
            ctx.ui.say("Waiting for shutdown...")
            if not self._wait_off(ctx, cfg.shutdown_timeout):
                raise BuildError("Failed to shutdown")
            return
        if cfg.shutdown_command:
            ctx.ui.say("Gracefully halting virtual machine...")
            self._send(ctx, comm, cfg.shutdown_command, cfg.shutdown_timeout)
            if not self._wait_off(ctx, cfg.shutdown_timeout):
                raise BuildError("Timeout while waiting for machine to shut down.")
            return
        ctx.ui.say("Halting the virtual machine...")
        try:
            self.halt(ctx)
        except BuildCancelled:
            raise
        except Exception as exc:
            raise BuildError(f"Error stopping VM: {exc}") from exc

    def cleanup(self, ctx: R) -> None:
        """Nothing to undo."""

    def _send(self, ctx: R, comm: Communicator | None, command: str, timeout: float) -> None:
        """Run the command, its output as messages; like Packer, its exit status is not checked.

        The connection dropping (the machine going down) or the command outliving
        `shutdown_timeout` is not a failure: whether the machine goes off decides.
        """
        if comm is None:
            raise BuildError("Failed to send shutdown command: no communicator is connected")
        try:
            comm.run(command, on_output=ctx.ui.message, timeout=timeout, cancel=ctx.cancel)
        except (Disconnected, CommunicatorTimeout):
            ctx.cancel.check()
        except BuildError as exc:
            raise BuildError(f"Failed to send shutdown command: {exc}") from exc

    def _wait_off(self, ctx: R, timeout: float) -> bool:
        """Poll `is_off` until it is true (True) or `timeout` passes (False); cancellable."""
        deadline = time.monotonic() + timeout
        while True:
            if self.is_off(ctx):
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if ctx.cancel.wait(min(self.poll_interval, left)):
                raise BuildCancelled()
