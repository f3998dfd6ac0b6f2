"""Base classes of the three plugin kinds, and what the engine hands them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from builder.config import PluginConfig
from builder.multistep import CancelToken, OnError

if TYPE_CHECKING:
    from builder.artifact import Artifact
    from builder.common.plan import Creates, Writes
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

    def plan_writes(self) -> Sequence[Writes]:
        """Files and directories it will write on this machine (`pybuild plan`)."""
        return ()

    def plan_creates(self) -> Sequence[Creates]:
        """What a provisioner or post-processor will create (a builder's steps say theirs)."""
        return ()


class Builder(Plugin):
    """A platform: turns a config into a machine, provisions it and makes an artifact."""

    builder_id: ClassVar[str] = ""
    runs_provisioners: ClassVar[bool] = True  # the file builder has no machine to provision

    def plan_steps(self) -> list[tuple[str, list[Creates]]] | None:
        """Its steps and what each creates, from the config alone; None: not known."""
        return None

    @abstractmethod
    def run(self, ui: Ui, hook: Hook, cancel: CancelToken) -> Artifact | None:
        """Build, calling `hook.provision` once the machine is reachable."""


class Provisioner(Plugin):
    """Changes the machine through a communicator (or the local host for shell-local)."""

    @abstractmethod
    def provision(self, ui: Ui, communicator: Communicator | None, data: dict[str, str]) -> None:
        """Do the work; raise to fail the build."""


class PostProcessor(Plugin):
    """Takes an artifact and returns (artifact, keep_input_default, force_keep).

    `keeps_input` declares that pair for `pybuild plan` (None: decided at run time).
    """

    keeps_input: ClassVar[tuple[bool, bool] | None] = None

    @abstractmethod
    def post_process(self, ui: Ui, artifact: Artifact) -> tuple[Artifact | None, bool, bool]:
        """Return the new artifact, whether to keep the input by default, and force-keep."""
