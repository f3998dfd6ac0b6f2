"""Base classes of the three plugin kinds, and what the engine hands them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from builder.config import PluginConfig
from builder.multistep import CancelToken, OnError

if TYPE_CHECKING:
    from builder.artifact import Artifact
    from builder.communicator.base import Communicator
    from builder.errors import TemplateError
    from builder.ledger import BuildLedger
    from builder.template.funcs import RenderContext
    from builder.ui import Ui


@dataclass
class PluginOptions:
    """Engine settings every plugin instance gets; never mixed into the user's config."""

    build_name: str
    build_type: str
    render: RenderContext
    cancel: CancelToken = field(default_factory=CancelToken)
    run_uuid: str = ""
    debug: bool = False
    force: bool = False
    on_error: OnError = OnError.CLEANUP
    redact: Callable[[str], str] = field(default=lambda text: text)
    # The run's resource ledger for this build (memory-only unless the engine gives one).
    resources: BuildLedger = field(default_factory=lambda: _memory_ledger())

    def render_text(
        self, text: str, *, data: Any = None, build_data: dict[str, str] | None = None
    ) -> str:
        """Interpolate `text` now, with run-time build data and a dot value when given."""
        from builder.template.funcs import render

        ctx = self.render.with_(data=data)
        if build_data is not None:
            ctx = ctx.with_(build_data=build_data)
        return render(text, ctx)


def _memory_ledger() -> BuildLedger:
    from builder.ledger import Ledger

    return Ledger.memory().build("")


class Hook(Protocol):
    """What a builder calls to run the provisioners over its communicator."""

    def provision(
        self, ui: Ui, communicator: Communicator | None, data: dict[str, str]
    ) -> None: ...

    def error_cleanup(
        self,
        ui: Ui,
        communicator: Communicator | None,
        data: dict[str, str],
        original: BaseException,
    ) -> None: ...


class Plugin(ABC):
    """What the three plugin kinds share: a validated Config and the engine's options."""

    Config: ClassVar[type[PluginConfig]]

    def __init__(self, config: PluginConfig, options: PluginOptions):
        self.config = config
        self.options = options

    def prepare(self) -> list[str]:
        """Run the config's checks and the plugin's own, raise them all at once; warnings."""
        from builder.errors import ConfigErrors

        errors = [*self.config.check(), *self.check()]
        if errors:
            raise ConfigErrors(errors)
        return self.warnings()

    def check(self) -> list[TemplateError]:
        """Checks that need more than the config (the plugin's own state); none by default."""
        return []

    def warnings(self) -> list[str]:
        """Warnings shown by validate and build; none by default."""
        return []


class Builder(Plugin):
    """A platform: turns a config into a machine, provisions it and makes an artifact."""

    builder_id: ClassVar[str] = ""

    @abstractmethod
    def run(self, ui: Ui, hook: Hook, cancel: CancelToken) -> Artifact | None:
        """Build, calling `hook.provision` once the machine is reachable."""


class Provisioner(Plugin):
    """Changes the machine through a communicator (or the local host for shell-local)."""

    @abstractmethod
    def provision(self, ui: Ui, communicator: Communicator | None, data: dict[str, str]) -> None:
        """Do the work; raise to fail the build."""


class PostProcessor(Plugin):
    """Takes an artifact and returns (artifact, keep_input_default, force_keep)."""

    @abstractmethod
    def post_process(self, ui: Ui, artifact: Artifact) -> tuple[Artifact | None, bool, bool]:
        """Return the new artifact, whether to keep the input by default, and force-keep."""
