"""The docker builder: a container from an image, provisioned, then committed, exported or discarded."""

from __future__ import annotations

import os
from collections.abc import Sequence

from builder.artifact import Artifact
from builder.common.builder import PlatformBuilder
from builder.common.plan import Writes
from builder.common.run import RunArgs
from builder.common.steps import StepConnect, StepConnectNone
from builder.docker.artifact import BUILDER_ID, BUILDER_ID_IMPORT, ExportArtifact, ImageArtifact
from builder.docker.config import DockerConfig
from builder.docker.driver import DOCKER, DockerDriver, DockerSettings
from builder.docker.run import DockerRun
from builder.docker.steps import (
    StepCommit,
    StepConnectDocker,
    StepDockerProvision,
    StepExport,
    StepPull,
    StepRunContainer,
    StepTempDir,
)
from builder.errors import BuildError
from builder.multistep import Step


class Builder(PlatformBuilder[DockerRun]):
    """Packer's `docker` builder over the Docker Engine API."""

    Config = DockerConfig
    builder_id = BUILDER_ID
    config: DockerConfig
    drivers = DOCKER
    _settings: DockerSettings | None = None

    def driver_settings(self) -> DockerSettings:
        """The engine from DOCKER_HOST (or the default socket), resolved once per build."""
        if self._settings is None:
            self._settings = DockerSettings.from_env()
        return self._settings

    def new_run(self, args: RunArgs, driver: DockerDriver) -> DockerRun:
        return DockerRun(**args, config=self.config, driver=driver)

    def plan_writes(self) -> list[Writes]:
        cfg = self.config
        if cfg.commit or not cfg.export_path:
            return []
        return [Writes(os.path.abspath(cfg.export_path), "the container's export", "overwrite")]

    def steps(self) -> Sequence[Step[DockerRun] | None]:
        cfg = self.config
        finish: Step[DockerRun] | None = None
        if cfg.commit:
            finish = StepCommit()
        elif cfg.export_path:
            finish = StepExport()
        return [
            StepTempDir(),
            StepPull() if cfg.pull else None,
            StepRunContainer(),
            self._connect_step(),
            StepDockerProvision(),
            finish,
        ]

    def _connect_step(self) -> Step[DockerRun]:
        kind = self.config.communicator
        if kind == "docker":
            return StepConnectDocker()
        if kind == "none":
            return StepConnectNone()
        # Packer's default address is the container's own IP; set ssh_host (and publish
        # the port with run_command) to reach it through 127.0.0.1 instead.
        return StepConnect(host=_container_ip)

    def artifact(self, ctx: DockerRun) -> Artifact:
        generated = {**ctx.build_data()}
        if self.config.commit:
            if not ctx.image_id:
                raise BuildError("the commit step produced no image")
            return ImageArtifact(
                BUILDER_ID_IMPORT, ctx.image_id, self.driver_settings(), generated_data=generated
            )
        return ExportArtifact(self.config.export_path, generated)


def _container_ip(ctx: object) -> str:
    return ctx.container_ip if isinstance(ctx, DockerRun) else ""
