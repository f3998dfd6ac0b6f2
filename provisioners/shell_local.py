"""The shell-local provisioner: runs commands on the pybuild host, not on the machine."""

from __future__ import annotations

from typing import TYPE_CHECKING

from builder.components import Provisioner
from builder.shell_local import ShellLocalConfig, ShellLocalRun, validate

if TYPE_CHECKING:
    from builder.communicator.base import Communicator
    from builder.events import Ui


class ShellLocalProvisioner(Provisioner):
    """Runs inline commands or local scripts with the build's data; ignores the communicator."""

    Config = ShellLocalConfig
    config: ShellLocalConfig

    def prepare(self) -> list[str]:
        validate(self.config)
        return []

    def provision(self, ui: Ui, communicator: Communicator | None, data: dict[str, str]) -> None:
        ShellLocalRun(self.config, self.options, ui, data).run()
