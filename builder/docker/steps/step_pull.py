"""StepPull: `docker pull`, logged in to the registry when asked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from builder.docker.run import DockerRun
from builder.errors import BuildError, DriverError


@dataclass
class StepPull:
    """`docker pull` (with login/logout around it when asked); nothing to undo."""

    name: ClassVar[str] = "StepPull"

    def run(self, ctx: DockerRun) -> None:
        cfg = ctx.config
        ctx.ui.say(f"Pulling Docker image: {cfg.image}")
        logged_in = False
        if cfg.login:
            ctx.ui.message("Logging in...")
            try:
                ctx.driver.login(cfg.login_server, cfg.login_username, cfg.login_password)
            except DriverError as exc:
                raise BuildError(f"Error logging in: {exc}") from exc
            logged_in = True
        try:
            ctx.driver.pull(cfg.image, cfg.platform, ctx.ui.message, ctx.cancel)
        except DriverError as exc:
            raise BuildError(f"Error pulling Docker image: {exc}") from exc
        finally:
            if logged_in:
                ctx.ui.message("Logging out...")
                ctx.driver.logout(cfg.login_server)

    def cleanup(self, ctx: DockerRun) -> None:
        """A pulled image stays, as with Packer."""
