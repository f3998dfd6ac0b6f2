"""The communicator protocol every transport implements (ssh, docker, none).

Semantics shared by all transports:
- `run` starts `command` through the remote shell, closes its stdin at once, streams
  stdout and stderr line by line to `on_output` as they arrive, and returns the exit
  status with the last lines of output. It never raises for a non-zero status (the
  caller decides which codes are allowed). It raises `Disconnected` when the
  connection drops before an exit status arrives, `CommunicatorTimeout` when
  `timeout` passes, `BuildCancelled` when `cancel` is set (the remote command is
  stopped in both cases).
- `upload(src, dst)`: `src` is a local file path or a readable binary file object;
  `dst` is the full remote file path (its directory must exist, like Packer).
- `upload_dir(src, dst)`: Packer's rule: `src` ending in `/` copies the directory's
  *contents* into `dst`; otherwise the directory itself is created inside `dst`.
- `download(src, dst)`: remote file to local path or writable binary file object.
- `download_dir(src, dst)`: remote directory (same trailing-slash rule) into local `dst`.
- Transfers call `progress(done_bytes, total_bytes)` now and then when given.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Protocol

from builder.errors import BuildError

if TYPE_CHECKING:
    from builder.multistep import CancelToken

OutputHandler = Callable[[str], None]
ProgressHandler = Callable[[int, int], None]
Source = str | IO[bytes]


@dataclass
class CommandResult:
    """Exit status and the last lines of output of one remote command."""

    command: str
    exit_status: int
    tail: list[str] = field(default_factory=list)


class Disconnected(BuildError):
    """The connection dropped before the command's exit status arrived."""


class Communicator(Protocol):
    """Runs commands and moves files; every call honours cancellation and timeouts."""

    def run(
        self,
        command: str,
        *,
        on_output: OutputHandler | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
        cancel: CancelToken | None = None,
    ) -> CommandResult: ...

    def upload(
        self,
        src: Source,
        dst: str,
        *,
        mode: int | None = None,
        progress: ProgressHandler | None = None,
        cancel: CancelToken | None = None,
    ) -> None: ...

    def upload_dir(
        self,
        src: str,
        dst: str,
        *,
        progress: ProgressHandler | None = None,
        cancel: CancelToken | None = None,
    ) -> None: ...

    def download(
        self,
        src: str,
        dst: str | IO[bytes],
        *,
        progress: ProgressHandler | None = None,
        cancel: CancelToken | None = None,
    ) -> None: ...

    def download_dir(
        self,
        src: str,
        dst: str,
        *,
        progress: ProgressHandler | None = None,
        cancel: CancelToken | None = None,
    ) -> None: ...


class Reconnectable(Protocol):
    """A communicator that can drop and re-establish its connection (after a reboot)."""

    def reconnect(self, cancel: CancelToken | None = None) -> None: ...


class Tail:
    """Keeps the last `n` lines of output for error messages."""

    def __init__(self, n: int = 10):
        self.n = n
        self.lines: list[str] = []

    def add(self, line: str) -> None:
        self.lines.append(line)
        if len(self.lines) > self.n:
            del self.lines[0]
