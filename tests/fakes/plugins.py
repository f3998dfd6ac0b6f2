"""Fake plugins, registered directly in the registry: they record what the engine did to them."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from builder.artifact import Artifact
from builder.common.builder import PlatformBuilder
from builder.common.run import BuildRun, RunArgs
from builder.common.steps import StepConnectNone, StepProvision
from builder.components import PostProcessor, Provisioner
from builder.config import Duration, PluginConfig, Secret
from builder.errors import BuildError
from builder.multistep import Step

JOURNAL: list[str] = []
_lock = threading.Lock()


def note(text: str) -> None:
    with _lock:
        JOURNAL.append(text)


class FakeBuilderConfig(PluginConfig):
    fail_step: str = ""
    artifact_id: str = "fake-id"
    password: Secret = ""
    sleep: Duration = 0.0


@dataclass(kw_only=True)
class FakeRun(BuildRun[FakeBuilderConfig]):
    build: str

    def build_data(self) -> dict[str, str]:
        return {"ID": self.config.artifact_id, "Password": self.config.password}


@dataclass
class FakeStep:
    name: str  # an instance attribute: the runner's messages name each fake step
    fail: bool = False

    def run(self, ctx: FakeRun) -> None:
        note(f"{ctx.build}:run:{self.name}")
        if ctx.config.sleep and self.name == "wait":
            if ctx.cancel.wait(ctx.config.sleep):
                from builder.errors import BuildCancelled

                raise BuildCancelled()
        if self.fail:
            raise BuildError(f"step {self.name} failed on purpose")

    def cleanup(self, ctx: FakeRun) -> None:
        note(f"{ctx.build}:cleanup:{self.name}")


class FakeBuilder(PlatformBuilder[FakeRun]):
    """Steps create, wait, provision, finish; `fail_step` makes one fail."""

    Config = FakeBuilderConfig
    builder_id = "test.fake"
    config: FakeBuilderConfig

    def new_run(self, args: RunArgs, driver: Any) -> FakeRun:
        return FakeRun(**args, config=self.config, build=self.options.build_name)

    def steps(self) -> Sequence[Step[FakeRun] | None]:
        cfg = self.config
        return [
            FakeStep("create", cfg.fail_step == "create"),
            FakeStep("wait", cfg.fail_step == "wait"),
            StepConnectNone(),
            StepProvision(),
            FakeStep("finish", cfg.fail_step == "finish"),
        ]

    def artifact(self, ctx: FakeRun) -> Artifact | None:
        cfg = self.config
        destroyed = lambda: note(f"{self.options.build_name}:destroy:{cfg.artifact_id}")  # noqa: E731
        return Artifact(
            self.builder_id,
            cfg.artifact_id,
            [],
            destroy=destroyed,
            state={"generated_data": {"ID": cfg.artifact_id}},
        )


class FakeProvisionerConfig(PluginConfig):
    label: str = "p"
    fail_times: int = 0
    sleep: Duration = 0.0
    say: str = ""
    deferred: ClassVar[frozenset[str]] = frozenset({"say"})


class FakeProvisioner(Provisioner):
    """Fails `fail_times` times, sleeps (honouring cancel), says a rendered line."""

    Config = FakeProvisionerConfig
    attempts: ClassVar[dict[str, int]] = {}

    def provision(self, ui: Any, communicator: Any, data: dict[str, str]) -> None:
        cfg = self.config
        key = f"{self.options.build_name}:{cfg.label}"
        n = FakeProvisioner.attempts[key] = FakeProvisioner.attempts.get(key, 0) + 1
        note(f"{key}:provision:{n}")
        if cfg.say:
            ui.say(self.options.render_text(cfg.say, build_data=data))
        if cfg.sleep and self.options.cancel.wait(cfg.sleep):
            raise BuildError(f"{cfg.label} interrupted")
        if n <= cfg.fail_times:
            raise BuildError(f"{cfg.label} attempt {n} failed")


class FakePPConfig(PluginConfig):
    label: str = "pp"
    keep: bool = True
    force: bool = False
    fail: bool = False


class FakePostProcessor(PostProcessor):
    """Returns a new artifact `<label>(<input id>)` with the configured keep/force."""

    Config = FakePPConfig

    def post_process(self, ui: Any, artifact: Artifact) -> tuple[Artifact | None, bool, bool]:
        cfg = self.config
        note(f"{self.options.build_name}:pp:{cfg.label}:{artifact.id}")
        if cfg.fail:
            raise BuildError(f"{cfg.label} failed on purpose")
        new_id = f"{cfg.label}({artifact.id})"
        out = Artifact(
            "test.pp",
            new_id,
            [],
            destroy=lambda: note(f"{self.options.build_name}:destroy:{new_id}"),
        )
        return out, cfg.keep, cfg.force


def register() -> None:
    from builder.plugins import registry

    registry.register("builder", "fake", FakeBuilder)
    registry.register("provisioner", "fake", FakeProvisioner)
    registry.register("post-processor", "fake-pp", FakePostProcessor)
