"""The communicator protocol every transport implements."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol


@dataclass
class CommandResult:
    """Exit status and the last lines of output of one remote command."""

    command: str
    exit_status: int
    tail: list[str] = field(default_factory=list)


OutputHandler = Callable[[str], None]


class Communicator(Protocol):
    """Runs commands and moves files; every call honours cancellation and timeouts."""

    def run(
        self,
        command: str,
        *,
        on_output: OutputHandler | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> CommandResult: ...

    def upload(self, src: str, dst: str) -> None: ...

    def upload_dir(self, src: str, dst: str) -> None: ...

    def download(self, src: str, dst: str) -> None: ...

    def download_dir(self, src: str, dst: str) -> None: ...
