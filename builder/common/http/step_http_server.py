"""StepHTTPServer: serve `http_directory` for the guest while the build runs.

It fills the run's `http_ip` (how the guest reaches this machine, from the platform) and
`http_port` (0 when nothing is served, as Packer 1.6.6), which boot commands and qemu
arguments render as `{{ .HTTPIP }}` and `{{ .HTTPPort }}`, and the build data keys
PackerHTTPIP, PackerHTTPPort and PackerHTTPAddr in `connect_data`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Generic, Protocol, TypeVar

from builder.common.http.config import HTTPConfig

if TYPE_CHECKING:
    from builder.common.http.server import FileServer
    from builder.ui import Ui


class HTTPRun(Protocol):
    """What the step needs from a run: a platform run has these fields (`HTTPRunFields`)."""

    @property
    def ui(self) -> Ui: ...
    @property
    def config(self) -> HTTPConfig: ...
    @property
    def connect_data(self) -> dict[str, str]: ...

    http_ip: str
    http_port: int


@dataclass(kw_only=True)
class HTTPRunFields:
    """A mixin for a platform's run dataclass: `class QemuRun(BuildRun[...], HTTPRunFields)`."""

    http_ip: str = ""
    http_port: int = 0


R = TypeVar("R", bound=HTTPRun)


def http_build_data(ip: str, port: int) -> dict[str, str]:
    """The `{{build}}` keys of the HTTP server, as Packer 1.6.6's provisioning step sets them."""
    return {"PackerHTTPIP": ip, "PackerHTTPPort": str(port), "PackerHTTPAddr": f"{ip}:{port}"}


@dataclass
class StepHTTPServer(Generic[R]):
    """Start the HTTP server when `http_directory` is set; stop it in cleanup.

    `guest_ip(ctx)` is the address the guest uses for this machine (qemu user-mode
    networking: "10.0.2.2"); it is asked even when nothing is served, as Packer's qemu
    builder always sets http_ip.
    """

    name: ClassVar[str] = "StepHTTPServer"
    guest_ip: Callable[[R], str]
    _server: FileServer | None = field(default=None, init=False, repr=False)

    def run(self, ctx: R) -> None:
        cfg = ctx.config
        ctx.http_ip = self.guest_ip(ctx)
        ctx.http_port = 0
        if cfg.http_directory:
            from builder.common.http.server import FileServer

            server = FileServer(directory=cfg.http_directory, log=ctx.ui.message)
            _, port = server.start(cfg.http_bind_address, cfg.http_port_min, cfg.http_port_max)
            self._server = server
            ctx.ui.say(f"Starting HTTP server on port {port}")
            ctx.http_port = port
        ctx.connect_data.update(http_build_data(ctx.http_ip, ctx.http_port))

    def cleanup(self, ctx: R) -> None:
        """Stop the server this step started (its thread joined); safe to call twice."""
        if self._server is not None:
            self._server.stop()
            self._server = None
