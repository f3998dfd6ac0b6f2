"""Real builds on the local Docker engine: the example, commit/export/discard, post-processors."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.conftest import write_template
from tests.integration.docker.conftest import EXAMPLE, Leaks, Registry, pybuild, remove_refs

if TYPE_CHECKING:
    import docker


def builder(base_image: str, **extra: Any) -> dict[str, Any]:
    return {"type": "docker", "image": base_image, "pull": False, **extra}


def test_example_builds_via_the_cli(
    leaks: Leaks, docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    repo = "pybuild-it/example"
    manifest = tmp_path / "manifest.json"
    proc = pybuild(
        leaks,
        "build",
        "-var",
        f"repository={repo}",
        "-var",
        f"manifest={manifest}",
        str(EXAMPLE),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "==> docker: Creating a temporary directory for sharing data..." in out
    assert "    docker: Run command: docker run -v " in out
    assert "==> docker: Committing the container" in out
    assert f"    docker (docker-tag): Repository: {repo}:latest" in out
    assert f"--> docker: Imported Docker image: {repo}:latest with tags {repo}:latest" in out
    info = docker_client.containers.run(
        f"{repo}:latest", entrypoint=["cat"], command=["/etc/pybuild-build-info"], remove=True
    ).decode()
    assert "cloud-init" in info and "built by docker build docker" in info
    image = docker_client.images.get(f"{repo}:latest")
    assert image.attrs["Config"]["Labels"]["org.opencontainers.image.title"] == "debian-cloud-init"
    assert not any(k.startswith("pybuild") for k in image.attrs["Config"]["Labels"])
    (entry,) = json.loads(manifest.read_text())["builds"]
    assert set(entry) == {
        "name",
        "builder_type",
        "build_time",
        "files",
        "artifact_id",
        "packer_run_uuid",
        "custom_data",
    }
    assert (entry["builder_type"], entry["artifact_id"], entry["files"]) == (
        "docker",
        f"{repo}:latest",
        None,
    )
    leaks.assert_clean(allowed_images=leaks.new_images())
    remove_refs(docker_client, f"{repo}:latest")


def test_commit_applies_changes_author_and_message(
    leaks: Leaks, docker_client: docker.DockerClient, base_image: str, tmp_path: Path
) -> None:
    changes = [
        "ENV GREETING=hello",
        "LABEL team=builds",
        "EXPOSE 8080/tcp",
        "WORKDIR /srv",
        "USER nobody",
        'ENTRYPOINT ["/bin/sh", "-c"]',
        'CMD ["echo hi"]',
        "VOLUME /data",
        "ONBUILD RUN echo child",
    ]
    path = write_template(
        tmp_path,
        {
            "builders": [
                builder(
                    base_image,
                    commit=True,
                    changes=changes,
                    author="Ada <a@x>",
                    message="built by pybuild",
                )
            ],
            "provisioners": [{"type": "shell", "inline": ["echo provisioned > /srv-marker"]}],
            "post-processors": [
                {"type": "docker-tag", "repository": "pybuild-it/changes", "tags": "t1"}
            ],
        },
    )
    proc = pybuild(leaks, "build", str(path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout
    attrs = docker_client.images.get("pybuild-it/changes:t1").attrs
    cfg = attrs["Config"]
    assert "GREETING=hello" in cfg["Env"] and cfg["Labels"]["team"] == "builds"
    assert "8080/tcp" in cfg["ExposedPorts"] and cfg["WorkingDir"] == "/srv"
    assert cfg["User"] == "nobody" and cfg["Entrypoint"] == ["/bin/sh", "-c"]
    assert cfg["Cmd"] == ["echo hi"] and "/data" in cfg["Volumes"]
    assert cfg["OnBuild"] == ["RUN echo child"]
    assert attrs["Author"] == "Ada <a@x>" and attrs["Comment"] == "built by pybuild"
    leaks.assert_clean(allowed_images=leaks.new_images())
    remove_refs(docker_client, "pybuild-it/changes:t1")


def test_export_then_docker_import_with_changes(
    leaks: Leaks, docker_client: docker.DockerClient, base_image: str, tmp_path: Path
) -> None:
    export = tmp_path / "out" / "deep" / "image.tar"
    path = write_template(
        tmp_path,
        {
            "builders": [builder(base_image, export_path=str(export))],
            "provisioners": [{"type": "shell", "inline": ["echo exported > /exported.txt"]}],
            "post-processors": [
                [
                    {
                        "type": "docker-import",
                        "repository": "pybuild-it/imported",
                        "tag": "v1",
                        "changes": ['CMD ["/bin/cat", "/exported.txt"]'],
                        "keep_input_artifact": True,
                    },
                ]
            ],
        },
    )
    proc = pybuild(leaks, "build", str(path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout
    assert "==> docker: Exporting the container" in proc.stdout
    assert "    docker (docker-import): Repository: pybuild-it/imported:v1" in proc.stdout
    with tarfile.open(export) as tar:
        assert tar.extractfile("exported.txt").read() == b"exported\n"  # type: ignore[union-attr]
    out = docker_client.containers.run("pybuild-it/imported:v1", remove=True)
    assert out == b"exported\n"
    leaks.assert_clean(allowed_images=leaks.new_images())
    remove_refs(docker_client, "pybuild-it/imported:v1")


def test_discard_leaves_no_image(leaks: Leaks, base_image: str, tmp_path: Path) -> None:
    path = write_template(
        tmp_path,
        {
            "builders": [builder(base_image, discard=True)],
            "provisioners": [{"type": "shell", "inline": ["true"]}],
        },
    )
    proc = pybuild(leaks, "build", str(path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout
    assert "--> docker: Exported Docker file: " in proc.stdout
    leaks.assert_clean()


def test_tag_push_and_save_against_a_local_registry(
    leaks: Leaks,
    docker_client: docker.DockerClient,
    base_image: str,
    tmp_path: Path,
    registry: Registry,
) -> None:
    repo = f"{registry.address}/pybuild/pushed"
    saved = tmp_path / "saved.tar"
    path = write_template(
        tmp_path,
        {
            "variables": {"registry_password": registry.password},
            "sensitive-variables": ["registry_password"],
            "builders": [builder(base_image, commit=True)],
            "provisioners": [{"type": "shell", "inline": ["echo pushed > /pushed.txt"]}],
            "post-processors": [
                [
                    {"type": "docker-tag", "repository": repo, "tags": ["a", "b"]},
                    {
                        "type": "docker-push",
                        "login": True,
                        "login_server": registry.address,
                        "login_username": registry.username,
                        "login_password": "{{user `registry_password`}}",
                    },
                    {"type": "docker-save", "path": str(saved)},
                ]
            ],
        },
    )
    proc = pybuild(leaks, "build", str(path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout
    assert f"    docker (docker-push): Pushing: {repo}:b" in proc.stdout
    assert registry.password not in proc.stdout
    assert sorted(registry.get("pybuild/pushed/tags/list")["tags"]) == ["a", "b"]
    with tarfile.open(saved) as tar:
        assert "manifest.json" in tar.getnames()
    leaks.assert_clean(allowed_images=leaks.new_images())
    remove_refs(docker_client, f"{repo}:a", f"{repo}:b")


def test_push_with_wrong_password_fails_clearly(
    leaks: Leaks,
    docker_client: docker.DockerClient,
    base_image: str,
    tmp_path: Path,
    registry: Registry,
) -> None:
    repo = f"{registry.address}/pybuild/denied"
    path = write_template(
        tmp_path,
        {
            "builders": [builder(base_image, commit=True)],
            "post-processors": [
                [
                    {"type": "docker-tag", "repository": repo, "tags": ["x"]},
                    {
                        "type": "docker-push",
                        "login": True,
                        "login_server": registry.address,
                        "login_username": registry.username,
                        "login_password": "wrong",
                    },
                ]
            ],
        },
    )
    proc = pybuild(leaks, "build", str(path), cwd=tmp_path)
    assert proc.returncode == 1
    assert "Post-processor failed: Error logging in to Docker" in proc.stdout
    assert "401 Unauthorized" in proc.stdout
    remove_refs(docker_client, f"{repo}:x")
    leaks.assert_clean(allowed_images=leaks.new_images())
