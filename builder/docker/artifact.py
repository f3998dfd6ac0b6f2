"""Docker artifacts: an image in the engine (commit, docker-import, docker-tag) or a tarball."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from builder.artifact import Artifact
from builder.docker.driver import DOCKER, DockerSettings

BUILDER_ID = "packer.docker"
BUILDER_ID_IMPORT = "packer.post-processor.docker-import"


class ImageArtifact(Artifact):
    """An image known to the engine; `destroy()` removes it (`docker rmi`).

    It keeps how to reach the engine, not a live driver: `destroy()` opens one.
    """

    def __init__(
        self,
        builder_id: str,
        image: str,
        settings: DockerSettings,
        *,
        tags: Sequence[str] | None = None,
        generated_data: dict[str, Any] | None = None,
    ):
        state: dict[str, Any] = {"generated_data": generated_data}
        if tags is not None:
            state["docker_tags"] = list(tags)
        super().__init__(builder_id, image, [], state=state)
        self.settings = settings

    def string(self) -> str:
        tags = self.state("docker_tags")
        if not tags:
            return f"Imported Docker image: {self.id}"
        return f"Imported Docker image: {self.id} with tags {' '.join(tags)}"

    def destroy(self) -> None:
        with DOCKER.open(self.settings) as driver:
            driver.remove_image(self.id)


class ExportArtifact(Artifact):
    """A `docker export` tarball; `destroy()` deletes the file.

    Like Packer, a `discard` build yields one too, with an empty path.
    """

    def __init__(self, path: str, generated_data: dict[str, Any] | None = None):
        super().__init__(
            BUILDER_ID,
            "Container",
            [path] if path else [],
            state={"generated_data": generated_data},
        )
        self.path = path

    def string(self) -> str:
        return f"Exported Docker file: {self.path}"

    def destroy(self) -> None:
        if self.path:
            try:
                os.remove(self.path)
            except FileNotFoundError:
                pass
