"""Docker unit tests: every docker driver (builder, post-processors, cleanup) is the fake."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from builder.components import PluginOptions
from builder.docker.builder import Builder
from builder.docker.driver import DOCKER
from builder.template.funcs import RenderContext
from tests.fakes.docker import FakeDockerDriver


@pytest.fixture
def fake(plugins: Callable[[str, str, type[Any]], None]) -> Iterator[FakeDockerDriver]:
    """A fresh fake engine, used by the `docker` builder, the docker post-processors and cleanup."""
    from postprocessors import docker as pp
    from provisioners.file import FileProvisioner
    from provisioners.shell import ShellProvisioner

    driver = FakeDockerDriver()
    plugins("builder", "docker", Builder)
    plugins("provisioner", "shell", ShellProvisioner)
    plugins("provisioner", "file", FileProvisioner)
    for name, cls in (
        ("docker-tag", pp.DockerTagPostProcessor),
        ("docker-import", pp.DockerImportPostProcessor),
        ("docker-push", pp.DockerPushPostProcessor),
        ("docker-save", pp.DockerSavePostProcessor),
    ):
        plugins("post-processor", name, cls)
    with DOCKER.override(driver.open):
        yield driver


def plugin_options(name: str = "docker", kind: str = "docker") -> PluginOptions:
    ctx = RenderContext(user_vars={}, template_path=None, build_name=name, build_type=kind)
    return PluginOptions(build_name=name, build_type=kind, render=ctx, run_uuid="run-uuid")
