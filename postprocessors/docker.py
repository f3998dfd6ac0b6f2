"""The docker post-processors: docker-tag, docker-import, docker-push, docker-save (Packer 1.6.6).

They reach the engine through the docker builder's driver (the Engine API, no docker CLI):
one driver per `post_process`, opened from `DOCKER` and closed before it returns. What
they make is recorded in the build's ledger before it is made, and kept once it is the
artifact they return.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from builder.artifact import Artifact
from builder.common.drivers import public_settings
from builder.common.plan import Creates, Writes
from builder.components import PostProcessor
from builder.config import PluginConfig, StrList, config_check, option_error
from builder.docker.artifact import BUILDER_ID, BUILDER_ID_IMPORT, ImageArtifact
from builder.docker.config import DockerLoginConfig, check_changes
from builder.docker.driver import DOCKER, DockerSettings
from builder.docker.resources import PLATFORM
from builder.errors import DriverError, PostProcessorError, TemplateError
from builder.ledger import LOCAL

if TYPE_CHECKING:
    from builder.ui import Ui

BUILDER_ID_TAG = "packer.post-processor.docker-tag"
BUILDER_ID_SAVE = "packer.post-processor.docker-save"
BUILDER_ID_ARTIFICE = "packer.post-processor.artifice"
TAG_DEPRECATION = (
    'Deprecation warning: "tag" option has been replaced with "tags". In future versions of '
    "Packer, this configuration may not work. Please call `packer fix` on your template to "
    "update."
)


class DockerPostProcessor(PostProcessor):
    """Shared: which engine to reach, and the accepted input artifacts."""

    accepts: ClassVar[tuple[str, ...]] = ()
    refusal: ClassVar[str] = ""

    def _check_input(self, artifact: Artifact) -> None:
        if artifact.builder_id not in self.accepts:
            raise PostProcessorError(
                f"Unknown artifact type: {artifact.builder_id}\n{self.refusal}"
            )

    def _settings(self, artifact: Artifact) -> DockerSettings:
        """The engine the input image lives in (else DOCKER_HOST or the default socket)."""
        if isinstance(artifact, ImageArtifact):
            return artifact.settings
        return DockerSettings.from_env()

    def _record_platform(self, settings: DockerSettings) -> None:
        """Tell cleanup which engine the resources this post-processor makes are in."""
        self.options.resources.platform(DOCKER.platform, public_settings(settings))


def _required(value: str, name: str) -> list[TemplateError]:
    return [] if value else [option_error(f"{name} is required", name)]


# ---------------------------------------------------------------------- docker-tag
class DockerTagConfig(PluginConfig):
    """Options of docker-tag."""

    repository: str = ""
    tag: StrList = Field(default_factory=list, description="deprecated: use tags")
    tags: StrList = Field(default_factory=list)
    force: bool = False

    @config_check
    def check_repository(self) -> list[TemplateError]:
        return _required(self.repository, "repository")


class DockerTagPostProcessor(DockerPostProcessor):
    """Tags the image (`repository:tag` for each tag); always keeps the input.

    Each name is recorded (kind "tag") before it is made, and kept once made: as with
    Packer, the names made before a failing one stay.
    """

    Config = DockerTagConfig
    config: DockerTagConfig
    keeps_input = (True, True)

    def plan_creates(self) -> list[Creates]:
        cfg = self.config
        tags = [t for t in [*cfg.tags, *cfg.tag] if t] or [""]
        names = [f"{cfg.repository}:{t}" if t else cfg.repository for t in tags]
        return [Creates(f"{PLATFORM}.tag", f"tag {name}", name) for name in names]

    accepts = (BUILDER_ID_TAG, BUILDER_ID_IMPORT)
    refusal = "Can only tag from Docker builder artifacts."

    def warnings(self) -> list[str]:
        return [TAG_DEPRECATION] if self.config.tag else []

    def post_process(self, ui: Ui, artifact: Artifact) -> tuple[Artifact | None, bool, bool]:
        cfg = self.config
        if cfg.tag:
            ui.say(TAG_DEPRECATION)
        self._check_input(artifact)
        settings = self._settings(artifact)
        self._record_platform(settings)
        resources = self.options.resources
        tags = [t for t in [*cfg.tags, *cfg.tag] if t]
        tagged: list[str] = []
        last = cfg.repository
        with DOCKER.open(settings) as driver:
            image = artifact.id
            if not image.startswith("sha256:"):  # a name: record the image it names
                image = driver.image_id(image) or image
            for tag in tags or [""]:
                local = f"{cfg.repository}:{tag}" if tag else cfg.repository
                ui.message(f"Tagging image: {artifact.id}")
                ui.message(f"Repository: {local}")
                res = resources.creating(PLATFORM, "tag", name=local, image=image)
                try:
                    driver.tag_image(artifact.id, cfg.repository, tag)
                except DriverError as exc:
                    res.released()
                    raise PostProcessorError(f"Error tagging image: {exc}") from exc
                res.created(local)
                res.kept()
                if tag:
                    tagged.append(local)
                last = local
        out = ImageArtifact(
            BUILDER_ID_TAG,
            last,
            settings,
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

    @config_check
    def check_import(self) -> list[TemplateError]:
        return [*_required(self.repository, "repository"), *check_changes(self.changes)]


class DockerImportPostProcessor(DockerPostProcessor):
    """Imports an exported tarball as `repository[:tag]`, with Dockerfile changes.

    The image is recorded (by its name, and the image the name pointed to before) before
    the import call, its id after; it is kept as the artifact returned.
    """

    Config = DockerImportConfig
    config: DockerImportConfig
    keeps_input = (False, False)

    def plan_creates(self) -> list[Creates]:
        name = f"{self.config.repository}:{self.config.tag or 'latest'}"
        return [Creates(f"{PLATFORM}.image", f"image {name} imported from the artifact", name)]

    accepts = (BUILDER_ID, BUILDER_ID_ARTIFICE)
    refusal = (
        "Can only import from Docker builder and Artifice post-processor artifacts. If you "
        "are getting this error after having run the docker builder, it may be because you "
        "set commit: true in your Docker builder, so the image is already imported. "
    )

    def post_process(self, ui: Ui, artifact: Artifact) -> tuple[Artifact | None, bool, bool]:
        self._check_input(artifact)
        cfg = self.config
        repo = f"{cfg.repository}:{cfg.tag}" if cfg.tag else cfg.repository
        files = [f for f in artifact.files if f]
        if not files:
            raise PostProcessorError(f"the artifact {artifact.id!r} has no file to import")
        ui.message(f"Importing image: {artifact.id}")
        ui.message(f"Repository: {repo}")
        settings = self._settings(artifact)
        self._record_platform(settings)
        with DOCKER.open(settings) as driver:
            name = f"{cfg.repository}:{cfg.tag or 'latest'}"
            try:
                previous = driver.image_id(name) or ""
                res = self.options.resources.creating(
                    PLATFORM, "image", name=name, previous=previous
                )
                try:
                    image_id = driver.import_image(files[0], cfg.repository, cfg.tag, cfg.changes)
                except DriverError:
                    res.released()  # the engine refused it: nothing was named
                    raise
            except DriverError as exc:
                raise PostProcessorError(f"Error importing container: {exc}") from exc
        res.created(image_id)
        res.kept()
        ui.message(f"Imported ID: {image_id}")
        return ImageArtifact(BUILDER_ID_IMPORT, repo, settings), False, False


# ---------------------------------------------------------------------- docker-push
class DockerPushConfig(DockerLoginConfig):
    """Options of docker-push: the registry login (ecr_login is refused by its check)."""


class DockerPushPostProcessor(DockerPostProcessor):
    """Pushes the image and each of its tags, logged in when asked; nothing local is made."""

    Config = DockerPushConfig
    config: DockerPushConfig
    keeps_input = (True, False)
    accepts = (BUILDER_ID_IMPORT, BUILDER_ID_TAG)
    refusal = "Can only import from docker-import and docker-tag artifacts."

    def post_process(self, ui: Ui, artifact: Artifact) -> tuple[Artifact | None, bool, bool]:
        self._check_input(artifact)
        cfg = self.config
        settings = self._settings(artifact)
        tags = [str(t) for t in artifact.state("docker_tags") or []]
        names = list(dict.fromkeys([artifact.id, *tags]))
        with DOCKER.open(settings) as driver:
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
            settings,
            tags=tags,
            generated_data=artifact.state("generated_data"),
        )
        return out, True, False


# ---------------------------------------------------------------------- docker-save
class DockerSaveConfig(PluginConfig):
    """Options of docker-save."""

    path: str = ""

    @config_check
    def check_path(self) -> list[TemplateError]:
        return _required(self.path, "path")


class DockerSavePostProcessor(DockerPostProcessor):
    """Writes the image to a tarball (`docker save`); passes the image on.

    The tarball is recorded (a local file) before it is opened and kept once written.
    """

    Config = DockerSaveConfig
    config: DockerSaveConfig
    keeps_input = (True, False)

    def plan_creates(self) -> list[Creates]:
        path = os.path.abspath(self.config.path)
        return [Creates(f"{LOCAL}.file", f"image tarball {path}", path)]

    def plan_writes(self) -> list[Writes]:
        return [Writes(os.path.abspath(self.config.path), "the saved image", "overwrite")]

    accepts = (BUILDER_ID_IMPORT, BUILDER_ID_TAG)
    refusal = "Can only save Docker builder artifacts."

    def post_process(self, ui: Ui, artifact: Artifact) -> tuple[Artifact | None, bool, bool]:
        self._check_input(artifact)
        path = self.config.path
        res = self.options.resources.creating(LOCAL, "file", name=os.path.abspath(path))
        try:
            f = open(path, "wb")
        except OSError as exc:
            res.released()
            raise PostProcessorError(f"Error creating output file: {exc}") from exc
        res.created(os.path.abspath(path))
        ui.message(f"Saving image: {artifact.id}")
        try:
            with f, DOCKER.open(self._settings(artifact)) as driver:
                driver.save_image(artifact.id, f, self.options.cancel)
        except BaseException as exc:
            if _remove_quietly(path):
                res.released()
            if isinstance(exc, DriverError):
                raise PostProcessorError(f"Error saving image: {exc}") from exc
            raise
        res.kept()
        ui.message(f"Saved to: {path}")
        return artifact, True, False


def _remove_quietly(path: str) -> bool:
    """Delete a partial file; True when it is gone."""
    try:
        os.remove(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True
