"""StepCommit: `docker commit` of the provisioned container."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

from builder.common.plan import Creates
from builder.docker.config import DockerConfig
from builder.docker.resources import PLATFORM, remove_commit
from builder.docker.run import DockerRun
from builder.errors import BuildError, DriverError
from builder.ledger import Resource


@dataclass
class StepCommit:
    """`docker commit` with changes, author and message; removes the image if the build fails.

    Packer's `docker commit` pauses the running container (a cgroup freeze and thaw) to get
    a consistent file system. The container is of no more use once provisioning is over, so
    it is killed instead: the same consistent snapshot, less work for the engine (which
    matters with many builds at once). With `--rm` in run_command a stopped container
    would vanish, so that one is paused as Packer does.

    The ledger gets the image before the commit call (by its source container; the id is
    not known until the call returns) and its id after. The image is the build's artifact
    when the build succeeds (kept), and removed when it fails.
    """

    name: ClassVar[str] = "StepCommit"
    _image: str = ""
    _res: Resource | None = None
    _since: float = 0.0

    def plan(self, config: DockerConfig, build_name: str) -> list[Creates]:
        changes = f" with {len(config.changes)} change(s)" if config.changes else ""
        return [Creates(f"{PLATFORM}.image", f"image committed from the container{changes}")]

    def run(self, ctx: DockerRun) -> None:
        cfg = ctx.config
        ctx.ui.say("Committing the container")
        self._since = time.time()
        self._res = ctx.resources.creating(
            PLATFORM, "image", container=ctx.container_id, since=f"{self._since:.3f}"
        )
        try:
            if not ctx.auto_remove:
                ctx.driver.kill_container(ctx.container_id)
            image = ctx.driver.commit(
                ctx.container_id, cfg.changes, cfg.author, cfg.message, pause=ctx.auto_remove
            )
        except DriverError as exc:
            raise BuildError(f"Error committing container: {exc}") from exc
        self._image = ctx.image_id = image
        self._res.created(image)
        ctx.ui.message(f"Image ID: {image}")

    def cleanup(self, ctx: DockerRun) -> None:
        res = self._res
        if res is None:
            return
        if self._image and not ctx.state.failed:
            res.kept()
        elif self._image:
            ctx.driver.remove_image(self._image, force=True)
            res.released()
        else:  # the commit call failed: an image may still have been made
            remove_commit(ctx.driver, ctx.container_id, self._since, strict=False)
            res.released()
        self._image, self._res = "", None
