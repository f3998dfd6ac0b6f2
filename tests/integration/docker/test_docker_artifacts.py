"""Artifacts on a real engine: export contents, destroy() of images and tarballs a chain does
not keep, docker-tag over an existing tag."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.conftest import write_template
from tests.integration.docker.conftest import Leaks, pybuild, remove_refs

if TYPE_CHECKING:
    import docker


def builder(base_image: str, **extra: Any) -> dict[str, Any]:
    return {"type": "docker", "image": base_image, "pull": False, **extra}


def tags_of(client: docker.DockerClient, repository: str) -> set[str]:
    return {t for image in client.images.list(repository) for t in image.tags}


def test_export_tarball_holds_the_container_file_system(
    leaks: Leaks, base_image: str, tmp_path: Path
) -> None:
    export = tmp_path / "image.tar"
    path = write_template(
        tmp_path,
        {
            "builders": [builder(base_image, export_path=str(export))],
            "provisioners": [
                {
                    "type": "shell",
                    "inline": [
                        "mkdir -p /opt/app && printf 'v1\\n' > /opt/app/version",
                        "ln -s version /opt/app/current && chmod 0750 /opt/app",
                        "echo scratch > /packer-files/not-exported",
                        "rm /etc/issue",
                    ],
                }
            ],
        },
    )
    proc = pybuild(leaks, "build", str(path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout
    assert f"--> docker: Exported Docker file: {export}" in proc.stdout
    with tarfile.open(export) as tar:
        members = {m.name.removeprefix("./"): m for m in tar.getmembers()}
        assert tar.extractfile(members["opt/app/version"]).read() == b"v1\n"  # type: ignore[union-attr]
        assert tar.extractfile(members["etc/debian_version"]).read().startswith(b"12.")  # type: ignore[union-attr]
    assert members["opt/app/current"].issym() and members["opt/app/current"].linkname == "version"
    assert members["opt/app"].mode & 0o777 == 0o750
    assert "etc/issue" not in members and "usr/bin/sh" in members
    # the shared temp dir is a mount: its mount point is exported, never its contents
    assert "packer-files/not-exported" not in members
    leaks.assert_clean()


def test_docker_import_destroys_the_tarball_it_does_not_keep(
    leaks: Leaks, docker_client: docker.DockerClient, base_image: str, tmp_path: Path
) -> None:
    export = tmp_path / "image.tar"
    manifest = tmp_path / "manifest.json"
    path = write_template(
        tmp_path,
        {
            "builders": [builder(base_image, export_path=str(export))],
            "provisioners": [{"type": "shell", "inline": ["echo imported > /imported.txt"]}],
            "post-processors": [
                [
                    {"type": "docker-import", "repository": "pybuild-it/import-rm", "tag": "1"},
                    {"type": "manifest", "output": str(manifest)},
                ]
            ],
        },
    )
    proc = pybuild(leaks, "build", str(path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout
    assert not export.exists()  # docker-import's default: the input artifact is not kept
    summary = proc.stdout.split("The artifacts of successful builds are:")[1]
    assert "Exported Docker file" not in summary
    assert "--> docker: Imported Docker image: pybuild-it/import-rm:1" in summary
    assert json.loads(manifest.read_text())["builds"][0]["artifact_id"] == "pybuild-it/import-rm:1"
    out = docker_client.containers.run(
        "pybuild-it/import-rm:1", ["/bin/cat", "/imported.txt"], remove=True
    )
    assert out == b"imported\n"
    leaks.assert_clean(allowed_images=leaks.new_images())
    remove_refs(docker_client, "pybuild-it/import-rm:1")


def test_committed_image_destroyed_when_the_chain_does_not_keep_it(
    leaks: Leaks, base_image: str, tmp_path: Path
) -> None:
    saved = tmp_path / "saved.tar"
    path = write_template(
        tmp_path,
        {
            "builders": [builder(base_image, commit=True)],
            "provisioners": [{"type": "shell", "inline": ["echo saved > /saved.txt"]}],
            "post-processors": [
                {"type": "docker-save", "path": str(saved), "keep_input_artifact": False}
            ],
        },
    )
    proc = pybuild(leaks, "build", str(path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout
    image_id = proc.stdout.split("    docker: Image ID: ")[1].split()[0]
    assert image_id.startswith("sha256:")
    with tarfile.open(saved) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert manifest[0]["Config"].removeprefix("blobs/sha256/").removesuffix(".json") in image_id
    assert image_id not in leaks.new_images()  # docker rmi'd after the chain
    leaks.assert_clean()


def test_tag_artifact_destroyed_untags_only_its_own_name(
    leaks: Leaks, docker_client: docker.DockerClient, base_image: str, tmp_path: Path
) -> None:
    repo = "pybuild-it/tag-rm"
    docker_client.images.get(base_image).tag(repo, "b")  # an older image under the same tag
    saved = tmp_path / "saved.tar"
    path = write_template(
        tmp_path,
        {
            "builders": [builder(base_image, commit=True)],
            "provisioners": [{"type": "shell", "inline": ["touch /tagged"]}],
            "post-processors": [
                [
                    {"type": "docker-tag", "repository": repo, "tags": ["a", "b"], "force": True},
                    {"type": "docker-save", "path": str(saved), "keep_input_artifact": False},
                ]
            ],
        },
    )
    proc = pybuild(leaks, "build", str(path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout
    # the tag artifact (id repo:b, the last tag) was destroyed after docker-save used it
    assert tags_of(docker_client, repo) == {f"{repo}:a"}
    committed = docker_client.images.get(f"{repo}:a")
    assert committed.id != docker_client.images.get(base_image).id  # force moved the tag
    assert "Saved to: " in proc.stdout and saved.exists()
    leaks.assert_clean(allowed_images={committed.id})
    remove_refs(docker_client, f"{repo}:a", f"{repo}:b")
