"""Docker unit tests: the docker plugins registered with a FakeDockerDriver instead of the engine."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from builder.components import PluginOptions
from builder.docker.builder import Builder
from builder.plugins import registry
from builder.template.funcs import RenderContext
from tests.fakes.docker import FakeDockerDriver


class FakeDriverBuilder(Builder):
    """The docker builder, talking to the fake the test installed."""

    driver: FakeDockerDriver | None = None

    def make_driver(self) -> Any:
        assert FakeDriverBuilder.driver is not None
        return FakeDriverBuilder.driver


@pytest.fixture
def fake() -> Iterator[FakeDockerDriver]:
    """A fresh fake engine, used by the `docker` builder and the docker post-processors."""
    from postprocessors import docker as pp
    from provisioners.file import FileProvisioner
    from provisioners.shell import ShellProvisioner

    driver = FakeDockerDriver()
    FakeDriverBuilder.driver = driver
    registry.register("builder", "docker", FakeDriverBuilder)
    registry.register("provisioner", "shell", ShellProvisioner)
    registry.register("provisioner", "file", FileProvisioner)
    for name, cls in (
        ("docker-tag", pp.DockerTagPostProcessor),
        ("docker-import", pp.DockerImportPostProcessor),
        ("docker-push", pp.DockerPushPostProcessor),
        ("docker-save", pp.DockerSavePostProcessor),
    ):
        registry.register("post-processor", name, cls)
    old = pp.DockerPostProcessor.driver_factory
    pp.DockerPostProcessor.driver_factory = staticmethod(lambda: driver)  # type: ignore[assignment]
    yield driver
    pp.DockerPostProcessor.driver_factory = old  # type: ignore[assignment]
    FakeDriverBuilder.driver = None


def plugin_options(name: str = "docker", kind: str = "docker") -> PluginOptions:
    ctx = RenderContext(user_vars={}, template_path=None, build_name=name, build_type=kind)
    return PluginOptions(build_name=name, build_type=kind, render=ctx, run_uuid="run-uuid")
