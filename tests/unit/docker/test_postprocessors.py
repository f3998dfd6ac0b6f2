"""docker-tag, docker-import, docker-push, docker-save against the fake engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from builder.artifact import Artifact
from builder.docker.artifact import BUILDER_ID_IMPORT, ExportArtifact, ImageArtifact
from builder.docker.driver import DockerSettings
from builder.errors import ConfigErrors, DriverError, PostProcessorError
from builder.events import Message, Say
from builder.testing import RecordingSink
from builder.ui import Ui
from postprocessors import docker as pp
from tests.fakes.docker import FakeDockerDriver
from tests.unit.docker.conftest import plugin_options


def run(cls: Any, raw: dict[str, Any], artifact: Artifact) -> tuple[Any, RecordingSink]:
    plugin = cls(cls.Config.model_validate(raw), plugin_options())
    plugin.prepare()
    sink = RecordingSink()
    return plugin.post_process(Ui(sink, "docker (x)"), artifact), sink


def committed(fake: FakeDockerDriver) -> ImageArtifact:
    image = "sha256:" + "ab" * 32
    fake.images[image] = image
    return ImageArtifact(BUILDER_ID_IMPORT, image, DockerSettings(), generated_data={"ID": "c1"})


def test_tag_each_tag_keeps_input(fake: FakeDockerDriver) -> None:
    art = committed(fake)
    (out, keep, force), sink = run(
        pp.DockerTagPostProcessor, {"repository": "pybuild/x", "tags": "v1,latest"}, art
    )
    assert (keep, force) == (True, True)
    assert out.builder_id == "packer.post-processor.docker-tag" and out.id == "pybuild/x:latest"
    assert out.state("docker_tags") == ["pybuild/x:v1", "pybuild/x:latest"]
    assert out.state("generated_data") == {"ID": "c1"}
    assert (
        out.string()
        == "Imported Docker image: pybuild/x:latest with tags pybuild/x:v1 pybuild/x:latest"
    )
    assert sink.texts(Message) == [
        f"Tagging image: {art.id}",
        "Repository: pybuild/x:v1",
        f"Tagging image: {art.id}",
        "Repository: pybuild/x:latest",
    ]
    assert fake.images["pybuild/x:v1"] == art.id


def test_tag_without_tags_and_deprecated_tag(fake: FakeDockerDriver) -> None:
    art = committed(fake)
    (out, _, _), _ = run(pp.DockerTagPostProcessor, {"repository": "r"}, art)
    assert out.id == "r" and out.string() == "Imported Docker image: r"
    (out, _, _), sink = run(pp.DockerTagPostProcessor, {"repository": "r", "tag": "old"}, art)
    assert out.id == "r:old" and "Deprecation warning" in sink.texts(Say)[0]


def test_tag_refuses_other_artifacts_and_needs_repository(fake: FakeDockerDriver) -> None:
    with pytest.raises(
        PostProcessorError,
        match="Unknown artifact type: packer.docker\nCan only tag from Docker builder artifacts.",
    ):
        run(pp.DockerTagPostProcessor, {"repository": "r"}, ExportArtifact("x.tar"))
    with pytest.raises(ConfigErrors, match="repository is required"):
        run(pp.DockerTagPostProcessor, {}, committed(fake))


def test_import_export_tarball_with_changes(fake: FakeDockerDriver, tmp_path: Path) -> None:
    tar = tmp_path / "image.tar"
    tar.write_bytes(b"tar")
    (out, keep, force), sink = run(
        pp.DockerImportPostProcessor,
        {"repository": "pybuild/imp", "tag": "1", "changes": ['CMD ["/bin/sh"]']},
        ExportArtifact(str(tar)),
    )
    assert (keep, force) == (False, False)
    assert out.builder_id == BUILDER_ID_IMPORT and out.id == "pybuild/imp:1"
    image = fake.images["pybuild/imp:1"]
    assert fake.image_configs[image]["changes"] == ['CMD ["/bin/sh"]']
    assert sink.texts(Message) == [
        "Importing image: Container",
        "Repository: pybuild/imp:1",
        f"Imported ID: {image}",
    ]
    out.destroy()
    assert "pybuild/imp:1" not in fake.images


def test_import_refuses_committed_images_and_bad_changes(fake: FakeDockerDriver) -> None:
    with pytest.raises(PostProcessorError, match="commit: true"):
        run(pp.DockerImportPostProcessor, {"repository": "r"}, committed(fake))
    with pytest.raises(ConfigErrors) as err:
        run(
            pp.DockerImportPostProcessor,
            {"repository": "r", "changes": ["RUN x"]},
            ExportArtifact("x"),
        )
    assert err.value.errors[0].location.path == "changes[0]"


def test_push_logs_in_pushes_every_name_and_logs_out(fake: FakeDockerDriver) -> None:
    art = committed(fake)
    (tagged, _, _), _ = run(
        pp.DockerTagPostProcessor, {"repository": "127.0.0.1:5000/x", "tags": ["a", "b"]}, art
    )
    (out, keep, force), sink = run(
        pp.DockerPushPostProcessor,
        {
            "login": True,
            "login_server": "127.0.0.1:5000",
            "login_username": "u",
            "login_password": "pw",
        },
        tagged,
    )
    assert (keep, force) == (True, False)
    assert fake.pushed == ["127.0.0.1:5000/x:b", "127.0.0.1:5000/x:a"]
    assert fake.calls[-4:] == ["login", "push", "push", "logout"]
    assert sink.texts(Message)[0] == "Logging in..." and sink.texts(Message)[-1] == "Logging out..."
    assert out.id == "127.0.0.1:5000/x:b" and out.state("docker_tags") == [
        "127.0.0.1:5000/x:a",
        "127.0.0.1:5000/x:b",
    ]
    secrets = pp.DockerPushConfig.secret_paths()
    assert {("login_password",), ("aws_secret_key",), ("aws_token",)} <= set(secrets)


def test_push_failure_still_logs_out(fake: FakeDockerDriver) -> None:
    fake.fail["push"] = DriverError("push r: denied")
    art = ImageArtifact("packer.post-processor.docker-tag", "r:1", DockerSettings(), tags=["r:1"])
    with pytest.raises(PostProcessorError, match="Error pushing r:1: push r: denied"):
        run(
            pp.DockerPushPostProcessor,
            {"login": True, "login_username": "u", "login_password": "p"},
            art,
        )
    assert fake.calls[-1] == "logout"


def test_save_writes_the_image_and_passes_it_on(fake: FakeDockerDriver, tmp_path: Path) -> None:
    art = committed(fake)
    path = tmp_path / "saved.tar"
    (out, keep, force), sink = run(pp.DockerSavePostProcessor, {"path": str(path)}, art)
    assert out is art and (keep, force) == (True, False)
    assert path.read_bytes() == b"saved:" + art.id.encode()
    assert sink.texts(Message) == [f"Saving image: {art.id}", f"Saved to: {path}"]


def test_save_failure_removes_the_partial_file(fake: FakeDockerDriver, tmp_path: Path) -> None:
    fake.fail["save_image"] = DriverError("save image x: no space")
    path = tmp_path / "saved.tar"
    with pytest.raises(PostProcessorError, match="Error saving image"):
        run(pp.DockerSavePostProcessor, {"path": str(path)}, committed(fake))
    assert not path.exists()
    with pytest.raises(ConfigErrors, match="path is required"):
        run(pp.DockerSavePostProcessor, {}, committed(fake))
