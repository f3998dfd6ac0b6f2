"""The docker builder: a container from an image, provisioned, then committed, exported or discarded."""

from __future__ import annotations

from typing import Any

from builder.artifact import Artifact
from builder.common.steps import StepConnectNone
from builder.components import Builder as BaseBuilder
from builder.components import Hook
from builder.docker.artifact import BUILDER_ID, BUILDER_ID_IMPORT, ExportArtifact, ImageArtifact
from builder.docker.config import DockerConfig, check_config
from builder.docker.driver import DockerDriver
from builder.docker.steps import (
    DockerRun,
    StepCommit,
    StepConnectDocker,
    StepDockerProvision,
    StepExport,
    StepPull,
    StepRunContainer,
    StepTempDir,
)
from builder.errors import BuildError, ConfigErrors
from builder.multistep import CancelToken, run_build_steps
from builder.ui import Ui


class Builder(BaseBuilder):
    """Packer's `docker` builder over the Docker Engine API."""

    Config = DockerConfig
    builder_id = BUILDER_ID
    config: DockerConfig

    def prepare(self) -> list[str]:
        errors = check_config(self.config)
        errors.extend(self.config.check_communicator(host_required=False))
        if errors:
            raise ConfigErrors(errors)
        return []

    def make_driver(self) -> DockerDriver:
        """The real engine; tests replace this with a FakeDockerDriver."""
        from builder.docker.driver import DockerSDKDriver

        return DockerSDKDriver()

    def steps(self) -> list[Any]:
        cfg = self.config
        finish: list[Any] = []
        if cfg.commit:
            finish = [StepCommit()]
        elif cfg.export_path:
            finish = [StepExport()]
        return [
            StepTempDir(),
            StepPull() if cfg.pull else None,
            StepRunContainer(),
            self._connect_step(),
            StepDockerProvision(),
            *finish,
        ]

    def _connect_step(self) -> Any:
        kind = self.config.communicator
        if kind == "docker":
            return StepConnectDocker()
        if kind == "none":
            return StepConnectNone()
        from builder.common.steps import StepConnect

        # Packer's default address is the container's own IP; set ssh_host (and publish
        # the port with run_command) to reach it through 127.0.0.1 instead.
        return StepConnect(host=lambda ctx: ctx.container_ip)

    def run(self, ui: Ui, hook: Hook, cancel: CancelToken) -> Artifact | None:
        driver = self.make_driver()
        ctx = DockerRun(ui, cancel, hook, self.config, driver, self.options)
        try:
            run_build_steps(self.steps(), ctx, self.options)
            artifact = self.artifact(ctx)
        except BaseException:
            driver.close()
            raise
        if not self.config.commit:
            driver.close()  # only a committed image keeps the driver, for destroy()
        return artifact

    def artifact(self, ctx: DockerRun) -> Artifact:
        generated = {**ctx.build_data()}
        if self.config.commit:
            if not ctx.image_id:
                raise BuildError("the commit step produced no image")
            return ImageArtifact(
                BUILDER_ID_IMPORT, ctx.image_id, ctx.driver, generated_data=generated
            )
        return ExportArtifact(self.config.export_path, generated)
