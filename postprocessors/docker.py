"""The docker post-processors: docker-tag, docker-import, docker-push, docker-save (Packer 1.6.6).

They reach the engine through the docker builder's driver (the Engine API, no docker CLI).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from builder.artifact import Artifact
from builder.components import PostProcessor
from builder.config import PluginConfig, StrList
from builder.docker.artifact import BUILDER_ID, BUILDER_ID_IMPORT, ImageArtifact
from builder.docker.config import DockerLoginConfig, check_change
from builder.errors import ConfigErrors, DriverError, Location, PostProcessorError, TemplateError

if TYPE_CHECKING:
    from builder.docker.driver import DockerDriver
    from builder.ui import Ui

BUILDER_ID_TAG = "packer.post-processor.docker-tag"
BUILDER_ID_SAVE = "packer.post-processor.docker-save"
BUILDER_ID_ARTIFICE = "packer.post-processor.artifice"
TAG_DEPRECATION = (
    'Deprecation warning: "tag" option has been replaced with "tags". In future versions of '
    "Packer, this configuration may not work. Please call `packer fix` on your template to "
    "update."
)


def _sdk_driver() -> DockerDriver:
    from builder.docker.driver import DockerSDKDriver

    return DockerSDKDriver()


class DockerPostProcessor(PostProcessor):
    """Shared: the driver (replaceable in tests) and the accepted input artifacts."""

    driver_factory: ClassVar[Callable[[], DockerDriver]] = staticmethod(_sdk_driver)  # type: ignore[assignment]
    accepts: ClassVar[tuple[str, ...]] = ()
    refusal: ClassVar[str] = ""

    def _check_input(self, artifact: Artifact) -> None:
        if artifact.builder_id not in self.accepts:
            raise PostProcessorError(
                f"Unknown artifact type: {artifact.builder_id}\n{self.refusal}"
            )

    def _driver(self) -> DockerDriver:
        return type(self).driver_factory()


def _require(value: str, name: str) -> None:
    if not value:
        raise ConfigErrors([TemplateError(f"{name} is required", Location(path=name))])


# ---------------------------------------------------------------------- docker-tag
class DockerTagConfig(PluginConfig):
    """Options of docker-tag."""

    repository: str = ""
    tag: StrList = Field(default_factory=list, description="deprecated: use tags")
    tags: StrList = Field(default_factory=list)
    force: bool = False


class DockerTagPostProcessor(DockerPostProcessor):
    """Tags the image (`repository:tag` for each tag); always keeps the input."""

    Config = DockerTagConfig
    config: DockerTagConfig
    accepts = (BUILDER_ID_TAG, BUILDER_ID_IMPORT)
    refusal = "Can only tag from Docker builder artifacts."

    def prepare(self) -> list[str]:
        _require(self.config.repository, "repository")
        return [TAG_DEPRECATION] if self.config.tag else []

    def post_process(self, ui: Ui, artifact: Artifact) -> tuple[Artifact | None, bool, bool]:
        cfg = self.config
        if cfg.tag:
            ui.say(TAG_DEPRECATION)
        self._check_input(artifact)
        driver = self._driver()
        tags = [t for t in [*cfg.tags, *cfg.tag] if t]
        tagged: list[str] = []
        last = cfg.repository
        for tag in tags or [""]:
            local = f"{cfg.repository}:{tag}" if tag else cfg.repository
            ui.message(f"Tagging image: {artifact.id}")
            ui.message(f"Repository: {local}")
            try:
                driver.tag_image(artifact.id, cfg.repository, tag)
            except DriverError as exc:
                raise PostProcessorError(f"Error tagging image: {exc}") from exc
            if tag:
                tagged.append(local)
            last = local
        out = ImageArtifact(
            BUILDER_ID_TAG,
            last,
            driver,
            tags=tagged,
            generated_data=artifact.state("generated_data"),
        )
        return out, True, True


# ---------------------------------------------------------------------- docker-import
class DockerImportConfig(PluginConfig):
    """Options of docker-import."""

    repository: str = ""
    tag: str = ""
    changes: StrList = Field(default_factory=list)


class DockerImportPostProcessor(DockerPostProcessor):
    """Imports an exported tarball as `repository[:tag]`, with Dockerfile changes."""

    Config = DockerImportConfig
    config: DockerImportConfig
    accepts = (BUILDER_ID, BUILDER_ID_ARTIFICE)
    refusal = (
        "Can only import from Docker builder and Artifice post-processor artifacts. If you "
        "are getting this error after having run the docker builder, it may be because you "
        "set commit: true in your Docker builder, so the image is already imported. "
    )

    def prepare(self) -> list[str]:
        errors = (
            []
            if self.config.repository
            else [TemplateError("repository is required", Location(path="repository"))]
        )
        for i, line in enumerate(self.config.changes):
            problem = check_change(line)
            if problem:
                errors.append(TemplateError(problem, Location(path=f"changes[{i}]")))
        if errors:
            raise ConfigErrors(errors)
        return []

    def post_process(self, ui: Ui, artifact: Artifact) -> tuple[Artifact | None, bool, bool]:
        self._check_input(artifact)
        cfg = self.config
        repo = f"{cfg.repository}:{cfg.tag}" if cfg.tag else cfg.repository
        files = [f for f in artifact.files if f]
        if not files:
            raise PostProcessorError(f"the artifact {artifact.id!r} has no file to import")
        ui.message(f"Importing image: {artifact.id}")
        ui.message(f"Repository: {repo}")
        driver = self._driver()
        try:
            image_id = driver.import_image(files[0], cfg.repository, cfg.tag, cfg.changes)
        except DriverError as exc:
            raise PostProcessorError(f"Error importing container: {exc}") from exc
        ui.message(f"Imported ID: {image_id}")
        return ImageArtifact(BUILDER_ID_IMPORT, repo, driver), False, False


# ---------------------------------------------------------------------- docker-push
class DockerPushConfig(DockerLoginConfig):
    """Options of docker-push: the registry login."""


class DockerPushPostProcessor(DockerPostProcessor):
    """Pushes the image and each of its tags, logged in when asked."""

    Config = DockerPushConfig
    config: DockerPushConfig
    accepts = (BUILDER_ID_IMPORT, BUILDER_ID_TAG)
    refusal = "Can only import from docker-import and docker-tag artifacts."

    def prepare(self) -> list[str]:
        if self.config.ecr_login:
            raise ConfigErrors(
                [TemplateError("ECR login is not supported by pybuild", Location(path="ecr_login"))]
            )
        return []

    def post_process(self, ui: Ui, artifact: Artifact) -> tuple[Artifact | None, bool, bool]:
        self._check_input(artifact)
        cfg = self.config
        driver = self._driver()
        tags = [str(t) for t in artifact.state("docker_tags") or []]
        names = list(dict.fromkeys([artifact.id, *tags]))
        if cfg.login:
            ui.message("Logging in...")
            try:
                driver.login(cfg.login_server, cfg.login_username, cfg.login_password)
            except DriverError as exc:
                raise PostProcessorError(f"Error logging in to Docker: {exc}") from exc
        try:
            for name in names:
                ui.message(f"Pushing: {name}")
                try:
                    driver.push(name, ui.message, self.options.cancel)
                except DriverError as exc:
                    raise PostProcessorError(f"Error pushing {name}: {exc}") from exc
        finally:
            if cfg.login:
                ui.message("Logging out...")
                driver.logout(cfg.login_server)
        out = ImageArtifact(
            BUILDER_ID_IMPORT,
            names[0],
            driver,
            tags=tags,
            generated_data=artifact.state("generated_data"),
        )
        return out, True, False


# ---------------------------------------------------------------------- docker-save
class DockerSaveConfig(PluginConfig):
    """Options of docker-save."""

    path: str = ""


class DockerSavePostProcessor(DockerPostProcessor):
    """Writes the image to a tarball (`docker save`); passes the image on."""

    Config = DockerSaveConfig
    config: DockerSaveConfig
    accepts = (BUILDER_ID_IMPORT, BUILDER_ID_TAG)
    refusal = "Can only save Docker builder artifacts."

    def prepare(self) -> list[str]:
        _require(self.config.path, "path")
        return []

    def post_process(self, ui: Ui, artifact: Artifact) -> tuple[Artifact | None, bool, bool]:
        self._check_input(artifact)
        path = self.config.path
        try:
            f = open(path, "wb")
        except OSError as exc:
            raise PostProcessorError(f"Error creating output file: {exc}") from exc
        driver = self._driver()
        ui.message(f"Saving image: {artifact.id}")
        try:
            with f:
                driver.save_image(artifact.id, f, self.options.cancel)
        except BaseException as exc:
            _remove_quietly(path)
            if isinstance(exc, DriverError):
                raise PostProcessorError(f"Error saving image: {exc}") from exc
            raise
        ui.message(f"Saved to: {path}")
        return artifact, True, False


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass
