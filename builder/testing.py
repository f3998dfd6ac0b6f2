"""Fakes of our own boundaries for tests: RecordingSink and FakeCommunicator."""

from __future__ import annotations

import fnmatch
import os
import posixpath
import re
import stat
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

from builder.communicator.base import (
    CommandResult,
    Disconnected,
    OutputHandler,
    ProgressHandler,
    Source,
    Tail,
)
from builder.errors import BuildCancelled, BuildError, CommunicatorTimeout
from builder.events import Event
from builder.multistep import CancelToken

__all__ = ["FakeCommunicator", "FakeFile", "Handler", "Ran", "RecordingSink", "Transfer"]

Cancel = CancelToken | None
Progress = ProgressHandler | None


@dataclass
class RecordingSink:
    """Keeps every event; for tests and for library users who want to inspect output."""

    events: list[Event] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    prompts: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def emit(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)

    def ask(self, prompt: str) -> str | None:
        """Answer from `answers` in order (None when they run out); prompts are kept."""
        with self._lock:
            self.prompts.append(prompt)
            return self.answers.pop(0) if self.answers else None

    def texts(self, kind: type[Event] | None = None, target: str | None = None) -> list[str]:
        """The text of every recorded event of `kind` (and `target`)."""
        out = []
        for e in self.events:
            if kind is not None and not isinstance(e, kind):
                continue
            if target is not None and e.target != target:
                continue
            text = getattr(e, "text", None)
            if text is not None:
                out.append(text)
        return out


@dataclass
class FakeFile:
    """A remote file: its bytes and permission bits."""

    data: bytes
    mode: int = 0o644


@dataclass
class Ran:
    """One command the fake was asked to run."""

    command: str
    env: dict[str, str]
    timeout: float | None


@dataclass
class Transfer:
    """One completed transfer: kind is upload, upload_dir, download or download_dir."""

    kind: str
    src: str
    dst: str
    mode: int | None = None


@dataclass
class Handler:
    """A scripted answer to commands matching `pattern` (`times` None: forever)."""

    pattern: re.Pattern[str]
    exit_status: int = 0
    output: list[str] = field(default_factory=list)
    disconnect: bool = False
    hang: bool = False
    effect: Callable[[str], Any] | None = None
    times: int | None = None


class FakeCommunicator:
    """A stateful in-memory Communicator: remote files, scripted commands, injected failures.

    Unscripted commands exit 0 (`rm -f PATH...` removes the files). Directories are
    implied by the files, plus those in `dirs`. `hang` handlers wait for cancel/timeout.
    """

    def __init__(self, dirs: tuple[str, ...] = ("/", "/tmp"), hang_limit: float = 10.0):
        self.files: dict[str, FakeFile] = {}
        self.dirs: set[str] = {posixpath.normpath(d) for d in dirs}
        self.handlers: list[Handler] = []
        self.ran: list[Ran] = []
        self.transfers: list[Transfer] = []
        self.reconnects = 0
        self.hang_limit = hang_limit
        self._failures: list[BaseException] = []

    # ------------------------------------------------------------------ scripting
    def on(self, pattern: str, **behaviour: Any) -> Handler:
        """Answer commands matching `pattern` (re.search) with Handler's fields as keywords:
        exit_status, output, disconnect, hang, effect(command), times. First live one wins.
        """
        handler = Handler(re.compile(pattern), **behaviour)
        self.handlers.append(handler)
        return handler

    def fail_next(self, count: int = 1, error: BaseException | None = None) -> None:
        """Make the next `count` operations of any kind raise `error` (Disconnected)."""
        for _ in range(count):
            self._failures.append(error or Disconnected("connection lost (injected)"))

    def reconnect(self, cancel: Cancel = None) -> None:
        """Count a reconnect; the fake's connection is always re-established."""
        if cancel is not None:
            cancel.check()
        self.reconnects += 1

    @property
    def commands(self) -> list[str]:
        return [r.command for r in self.ran]

    # ------------------------------------------------------------------ remote files
    def write(self, path: str, data: bytes | str, mode: int = 0o644) -> None:
        """Put a file on the fake machine."""
        raw = data.encode() if isinstance(data, str) else data
        self.files[posixpath.normpath(path)] = FakeFile(raw, mode)

    def read(self, path: str) -> bytes:
        return self.files[posixpath.normpath(path)].data

    def mkdir(self, path: str) -> None:
        self.dirs.add(posixpath.normpath(path))

    def is_dir(self, path: str) -> bool:
        norm = posixpath.normpath(path)
        prefix = norm.rstrip("/") + "/"
        return norm in self.dirs or any(p.startswith(prefix) for p in [*self.files, *self.dirs])

    def children(self, path: str) -> list[str]:
        """Full paths of the entries directly inside a remote directory."""
        prefix = posixpath.normpath(path).rstrip("/") + "/"
        names = {p[len(prefix) :].split("/")[0] for p in [*self.files, *self.dirs]}
        return sorted(prefix + n for n in names if n)

    # ------------------------------------------------------------------ the protocol
    def run(
        self,
        command: str,
        *,
        on_output: OutputHandler | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
        cancel: Cancel = None,
    ) -> CommandResult:
        self._begin(cancel)
        self.ran.append(Ran(command, dict(env or {}), timeout))
        handler = next(
            (h for h in self.handlers if h.times != 0 and h.pattern.search(command)), None
        )
        if handler is None:
            return CommandResult(command, self._builtin(command))
        if handler.times is not None:
            handler.times -= 1
        if handler.effect is not None:
            handler.effect(command)
        tail = Tail()
        for line in handler.output:
            if cancel is not None:
                cancel.check()
            tail.add(line)
            if on_output is not None:
                on_output(line)
        if handler.hang:
            token = cancel or CancelToken()
            if token.wait(self.hang_limit if timeout is None else timeout):
                raise BuildCancelled()
            raise CommunicatorTimeout(f"command timed out: {command}")
        if handler.disconnect:
            raise Disconnected(f"connection lost while running: {command}")
        return CommandResult(command, handler.exit_status, tail.lines)

    def upload(
        self,
        src: Source,
        dst: str,
        *,
        mode: int | None = None,
        progress: Progress = None,
        cancel: Cancel = None,
    ) -> None:
        self._begin(cancel)
        data = _read(src) if isinstance(src, str) else src.read()
        if self.is_dir(dst):
            raise BuildError(f"Error restoring file: {dst} is a directory")
        if not self.is_dir(posixpath.dirname(dst) or "/"):
            raise BuildError(f"{dst}: No such file or directory")
        self.write(dst, data, 0o644 if mode is None else mode)
        _progress(progress, len(data))
        name = src if isinstance(src, str) else str(getattr(src, "name", "<stream>"))
        self.transfers.append(Transfer("upload", name, dst, mode))

    def upload_dir(
        self, src: str, dst: str, *, progress: Progress = None, cancel: Cancel = None
    ) -> None:
        self._begin(cancel)
        if not self.is_dir(dst):
            raise BuildError(f"{dst}: No such file or directory")
        root = dst if src.endswith("/") else posixpath.join(dst, os.path.basename(src.rstrip("/")))
        total = 0
        for dirpath, _, filenames in os.walk(src):
            rel = os.path.relpath(dirpath, src)
            remote_dir = posixpath.normpath(posixpath.join(root, rel.replace(os.sep, "/")))
            self.mkdir(remote_dir)
            for name in filenames:
                local = os.path.join(dirpath, name)
                data, mode = _read(local), stat.S_IMODE(os.stat(local).st_mode)
                self.write(posixpath.join(remote_dir, name), data, mode)
                total += len(data)
        _progress(progress, total)
        self.transfers.append(Transfer("upload_dir", src, dst))

    def download(
        self, src: str, dst: str | IO[bytes], *, progress: Progress = None, cancel: Cancel = None
    ) -> None:
        self._begin(cancel)
        file = self.files.get(posixpath.normpath(src))
        if file is None:
            raise BuildError(f"{src}: No such file or directory")
        if isinstance(dst, str):
            with open(dst, "wb") as f:
                f.write(file.data)
        else:
            dst.write(file.data)
        _progress(progress, len(file.data))
        self.transfers.append(
            Transfer("download", src, dst if isinstance(dst, str) else "<stream>")
        )

    def download_dir(
        self, src: str, dst: str, *, progress: Progress = None, cancel: Cancel = None
    ) -> None:
        self._begin(cancel)
        parent, pattern = posixpath.split(src)
        if any(c in pattern for c in "*?["):
            found = [e for e in self.children(parent) if fnmatch.fnmatch(e, f"*/{pattern}")]
        elif not self.is_dir(src):
            raise BuildError(f"{src}: No such file or directory")
        else:
            found = self.children(src) if src.endswith("/") else [src]
        os.makedirs(dst, exist_ok=True)
        done = sum(self._copy_out(e, os.path.join(dst, posixpath.basename(e))) for e in found)
        _progress(progress, done)
        self.transfers.append(Transfer("download_dir", src, dst))

    # ------------------------------------------------------------------ internals
    def _begin(self, cancel: Cancel) -> None:
        if cancel is not None:
            cancel.check()
        if self._failures:
            raise self._failures.pop(0)

    def _copy_out(self, remote: str, local: str) -> int:
        """Copy a remote file or tree to a local path; return the bytes copied."""
        file = self.files.get(posixpath.normpath(remote))
        if file is not None:
            with open(local, "wb") as f:
                f.write(file.data)
            return len(file.data)
        os.makedirs(local, exist_ok=True)
        return sum(
            self._copy_out(child, os.path.join(local, posixpath.basename(child)))
            for child in self.children(remote)
        )

    def _builtin(self, command: str) -> int:
        """`rm -f PATH...` removes files; any other unscripted command just exits 0."""
        argv = command.split()
        if argv[:2] == ["rm", "-f"]:
            for path in argv[2:]:
                self.files.pop(posixpath.normpath(path), None)
        return 0


def _progress(progress: Progress, total: int) -> None:
    if progress is not None:
        progress(0, total)
        progress(total, total)


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()
