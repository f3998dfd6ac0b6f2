"""The shell-local post-processor: runs local commands with the artifact's build data."""

from __future__ import annotations

from typing import TYPE_CHECKING

from builder.components import PostProcessor
from provisioners.shell_local import ShellLocalConfig, ShellLocalRun

if TYPE_CHECKING:
    from builder.artifact import Artifact
    from builder.ui import Ui


class ShellLocalPostProcessor(PostProcessor):
    """Runs inline commands or local scripts; passes the input artifact on unchanged."""

    Config = ShellLocalConfig
    config: ShellLocalConfig
    keeps_input = (True, True)

    def post_process(self, ui: Ui, artifact: Artifact) -> tuple[Artifact | None, bool, bool]:
        data = artifact.state("generated_data") or {"ID": artifact.id}
        ShellLocalRun(self.config, self.options, ui, data).run()
        return artifact, True, True
