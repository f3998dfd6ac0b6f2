"""`communicator: none`: there is no way into the machine; remote provisioners fail."""

from __future__ import annotations

from collections.abc import Mapping

from builder.communicator.base import CommandResult, OutputHandler
from builder.errors import BuildError

_WHY = "the communicator is 'none': this build has no connection to run commands or move files"


class NoneCommunicator:
    """Placeholder communicator; every operation is an error naming the reason."""

    def run(
        self,
        command: str,
        *,
        on_output: OutputHandler | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> CommandResult:
        raise BuildError(_WHY)

    def upload(self, src: str, dst: str) -> None:
        raise BuildError(_WHY)

    def upload_dir(self, src: str, dst: str) -> None:
        raise BuildError(_WHY)

    def download(self, src: str, dst: str) -> None:
        raise BuildError(_WHY)

    def download_dir(self, src: str, dst: str) -> None:
        raise BuildError(_WHY)
