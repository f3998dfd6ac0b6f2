"""`BuildRun[C]`: the typed run context every build has; a platform subclasses it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypedDict, TypeVar

from builder.config import PluginConfig
from builder.multistep import RunState

if TYPE_CHECKING:
    from builder.communicator.base import Communicator
    from builder.communicator.keygen import KeyPair
    from builder.components import Hook, PluginOptions
    from builder.ledger import BuildLedger
    from builder.multistep import CancelToken
    from builder.ui import Ui

# Covariant: a step written for BuildRun[CommunicatorConfig] runs in a DockerRun.
C = TypeVar("C", bound=PluginConfig, covariant=True)


class RunArgs(TypedDict):
    """What the engine gives every run context; `PlatformBuilder` fills it."""

    ui: Ui
    cancel: CancelToken
    hook: Hook
    options: PluginOptions
    resources: BuildLedger


@dataclass(kw_only=True)
class BuildRun(Generic[C]):
    """One build's state: the engine's handles, the config, and what steps learn.

    Steps read and fill typed fields; a platform adds its own in a subclass
    (`DockerRun.container_id`, `AmazonRun.instance`).
    """

    ui: Ui
    cancel: CancelToken
    hook: Hook
    options: PluginOptions
    resources: BuildLedger
    config: C
    state: RunState = field(default_factory=RunState)
    communicator: Communicator | None = None
    ssh_key: KeyPair | None = field(default=None, repr=False)
    connect_data: dict[str, str] = field(default_factory=dict)

    def machine_id(self) -> str:
        """`{{build `ID`}}`: the machine being built (a container or instance id)."""
        return ""

    def build_data(self) -> dict[str, str]:
        """`{{build `X`}}` values for the provisioners: ID and what connecting learned."""
        return {"ID": self.machine_id(), **self.connect_data}
