"""The ssh communicator: Packer's connect loop, streaming commands, transfers (paramiko).

paramiko is imported only inside the functions that connect, so importing this module
(to build a step list) costs nothing at validate time.
"""

from __future__ import annotations

import codecs
import select
import shlex
import time
from collections.abc import Callable, Mapping
from typing import IO, TYPE_CHECKING, Any

from builder.communicator.base import (
    CommandResult,
    Disconnected,
    OutputHandler,
    ProgressHandler,
    Source,
    Tail,
)
from builder.communicator.sshsettings import Hop, SSHSettings
from builder.config import format_go_duration
from builder.errors import BuildCancelled, BuildError, CommunicatorTimeout
from builder.logs import logger

if TYPE_CHECKING:
    from builder.communicator.sshdial import Connection, DialOptions
    from builder.communicator.sshtransfer import Transfers
    from builder.multistep import CancelToken
    from builder.ui import Ui

log = logger("pybuild.ssh")

AUTH_HELP = (
    "pybuild experienced an authentication error when trying to connect via SSH. This can "
    "happen if your username/password are wrong. You may want to double-check your "
    "credentials as part of your debugging process. original error: {reason}"
)


class SSHAuthenticationError(BuildError):
    """The server refused the credentials ssh_handshake_attempts times."""


class SSHCommunicator:
    """Runs commands and moves files over one SSH connection, reconnecting when asked."""

    retry_interval: float = 5.0  # Packer's pause between connection attempts
    attempt_timeout: float = 30.0  # one TCP connect + handshake + auth, at most
    reconnect_timeout: float = 10.0  # one attempt of reconnect(), bounded for retry loops

    def __init__(self, settings: SSHSettings):
        self.settings = settings
        self._conn: Connection | None = None
        self._transfers: Transfers | None = None

    # ------------------------------------------------------------------ connecting
    def connect(self, ui: Ui | None = None, cancel: CancelToken | None = None) -> None:
        """Packer's wait: retry every 5 s until ssh_timeout; auth failures are counted."""
        from builder.multistep import CancelToken

        _require_paramiko()
        cancel = cancel or CancelToken()
        say = ui.say if ui is not None else (lambda _t: None)
        say("Waiting for SSH to become available...")
        self._conn = self._wait(cancel)
        say("Connected to SSH!")
        pause = self.settings.pause_before_connecting
        if pause > 0:
            say(f"Pausing {format_go_duration(pause)} before connecting...")
            self.close()
            if cancel.wait(pause):
                raise BuildCancelled()
            say("Waiting for SSH to become available...")
            self._conn = self._wait(cancel)
            say("Connected to SSH!")

    def reconnect(self, cancel: CancelToken | None = None) -> None:
        """Drop the connection and dial once more (after a reboot); Disconnected if that fails.

        A single attempt, as Packer's: the caller (the shell provisioner's
        start_retry_timeout loop) decides how long to keep trying.
        """
        if cancel is not None:
            cancel.check()
        self.close()
        self._conn = self._dial_once(cancel)

    def close(self) -> None:
        """Close the SFTP session, the transport and the bastion's; safe to repeat."""
        if self._transfers is not None:
            self._transfers.close()
            self._transfers = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @property
    def connected(self) -> bool:
        return self._conn is not None and self._conn.active

    def _dial_args(self) -> tuple[Hop, DialOptions]:
        from builder.communicator.sshdial import DialOptions

        s = self.settings
        hop = Hop(
            s.host,
            s.port,
            s.username,
            s.password,
            s.private_key_file,
            s.private_key,
            s.certificate_file,
            s.agent_auth,
        )
        return hop, DialOptions(s.ciphers, s.kex, s.keep_alive_interval)

    def _wait(self, cancel: CancelToken | None) -> Connection:
        from builder.communicator.sshdial import AuthFailed, DialError
        from builder.multistep import CancelToken

        cancel = cancel or CancelToken()
        s = self.settings
        start = time.monotonic()
        deadline = start + s.timeout
        auth_failures = 0
        last = "no attempt was made"
        attempt = 0
        while True:
            cancel.check()
            remaining = deadline - time.monotonic()
            if attempt and remaining <= 0:
                raise CommunicatorTimeout(
                    f"Timeout waiting for SSH: {s.username}@{s.address} was not reachable "
                    f"within {format_go_duration(s.timeout)} ({attempt} attempts); "
                    f"last error: {last}"
                )
            attempt += 1
            try:
                conn = self._dial(max(0.5, min(self.attempt_timeout, remaining)), cancel)
                log.info("connected to %s after %d attempt(s)", s.address, attempt)
                return conn
            except AuthFailed as exc:
                auth_failures += 1
                last = f"authentication failed: {exc.reason}"
                log.info("[%s] %s (%d of %d)", s.address, last, auth_failures, s.handshake_attempts)
                if auth_failures >= s.handshake_attempts:
                    raise SSHAuthenticationError(AUTH_HELP.format(reason=exc.reason)) from None
            except DialError as exc:
                last = exc.reason
                log.info("[%s] connection attempt %d: %s", s.address, attempt, last)
            pause = min(self.retry_interval, max(0.0, deadline - time.monotonic()))
            if cancel.wait(pause):
                raise BuildCancelled()

    def _live(self, cancel: CancelToken | None = None) -> Connection:
        """The connection, re-established once (a single attempt) if it dropped."""
        if self._conn is not None and self._conn.active:
            return self._conn
        log.info("ssh connection to %s is gone, attempting reconnect", self.settings.address)
        self.close()
        self._conn = self._dial_once(cancel)
        return self._conn

    def _dial_once(self, cancel: CancelToken | None = None) -> Connection:
        from builder.communicator.sshdial import DialError

        try:
            return self._dial(self.reconnect_timeout, cancel)
        except DialError as exc:
            raise Disconnected(
                f"SSH connection to {self.settings.address} is lost and reconnecting failed: "
                f"{exc.reason}"
            ) from None

    def _dial(self, timeout: float, cancel: CancelToken | None) -> Connection:
        """One dial (DialError/AuthFailed when it fails) that a cancel ends at once."""
        from builder.communicator.sshdial import DialError, Pending, dial
        from builder.communicator.sshstream import Watchdog

        hop, opts = self._dial_args()
        s = self.settings
        pending = Pending()
        with Watchdog(pending.close, 0.0, cancel, grace=0.0):
            try:
                conn = dial(hop, timeout, opts, s.bastion, s.proxy, pending)
            except DialError:
                if cancel is not None and cancel.cancelled:
                    raise BuildCancelled() from None
                raise
        if cancel is not None and cancel.cancelled:
            conn.close()
            raise BuildCancelled()
        return conn

    # ------------------------------------------------------------------ commands
    def run(
        self,
        command: str,
        *,
        on_output: OutputHandler | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
        cancel: CancelToken | None = None,
    ) -> CommandResult:
        """Run `command` via the login shell, streaming lines; see base.py for the contract."""
        import paramiko

        from builder.communicator.sshstream import Watchdog

        if cancel is not None:
            cancel.check()
        limit = _limit(timeout, self.settings.read_write_timeout)
        deadline = None if limit is None else time.monotonic() + limit
        conn = self._live(cancel)
        chan = None
        # the start waits on the server with no timeout of its own: a watchdog drops the
        # connection if a frozen machine makes it outlast the command's limit or a cancel
        dog = Watchdog(conn.close, limit or 0.0, cancel)
        try:
            with dog:
                chan = conn.transport.open_session(timeout=self.attempt_timeout)
                self._start(chan, _with_env(command, env))
        except (paramiko.SSHException, EOFError, OSError) as exc:
            if chan is not None:
                chan.close()
            if dog.fired == "cancelled":
                raise BuildCancelled() from exc
            if dog.fired == "stalled":
                raise self._timed_out(command, limit) from exc
            if chan is None:
                raise Disconnected(
                    f"cannot start a command on {self.settings.address}: {exc}"
                ) from exc
            raise self._lost(command, exc) from exc
        try:
            return self._run_on(chan, command, on_output, deadline, limit, cancel)
        finally:
            chan.close()

    def _start(self, chan: Any, full: str) -> None:
        if self.settings.pty:
            chan.get_pty(term="xterm", width=80, height=40)
        self._forward_agent(chan)
        chan.exec_command(full)
        chan.shutdown_write()  # stdin closed at once: a script cannot wait for input

    def _timed_out(self, command: str, limit: float | None) -> CommunicatorTimeout:
        return CommunicatorTimeout(
            f"command timed out after {format_go_duration(limit or 0)}: {command}"
        )

    def _run_on(
        self,
        chan: Any,
        command: str,
        on_output: OutputHandler | None,
        deadline: float | None,
        limit: float | None,
        cancel: CancelToken | None,
    ) -> CommandResult:
        from builder.communicator.sshstream import stop_command

        tail = Tail()

        def emit(line: str) -> None:
            tail.add(line)
            if on_output is not None:
                on_output(line)

        out, err = _Lines(emit), _Lines(emit)
        fd = chan.fileno()
        while True:
            if chan.eof_received:  # the pipe stays readable after EOF: wait for the status
                chan.status_event.wait(0.2)
            else:
                select.select([fd], [], [], 0.2)
            _drain(chan, out, err)
            if chan.closed or (chan.eof_received and chan.exit_status_ready()):
                break
            if cancel is not None and cancel.cancelled:
                stop_command(chan)
                raise BuildCancelled()
            if deadline is not None and time.monotonic() > deadline:
                stop_command(chan)
                raise self._timed_out(command, limit)
            if not self._conn or not self._conn.active:
                break
        _drain(chan, out, err)
        out.flush()
        err.flush()
        status = chan.exit_status if chan.exit_status_ready() else -1
        if status == -1 and (self._conn is None or not self._conn.active):
            raise self._lost(command, None)
        return CommandResult(command, status, tail.lines)

    def _lost(self, command: str, exc: BaseException | None) -> Disconnected:
        why = f": {exc}" if exc and str(exc) else ""
        return Disconnected(
            f"SSH connection to {self.settings.address} dropped while running {command!r}{why}"
        )

    def _forward_agent(self, chan: Any) -> None:
        import os

        if self.settings.disable_agent_forwarding or not os.environ.get("SSH_AUTH_SOCK"):
            return
        from paramiko.agent import AgentRequestHandler

        try:
            AgentRequestHandler(chan)
        except Exception as exc:  # noqa: BLE001 - forwarding is best effort, as in Packer
            log.info("agent forwarding not available: %s", exc)

    # ------------------------------------------------------------------ transfers
    def _xfer(self, cancel: CancelToken | None = None) -> Transfers:
        from builder.communicator.sshtransfer import Transfers

        conn = self._live(cancel)
        if self._transfers is None or self._transfers.conn is not conn:
            if self._transfers is not None:
                self._transfers.close()
            self._transfers = Transfers(
                conn,
                self.settings.file_transfer_method,
                self.settings.read_write_timeout,
                self.settings.address,
            )
        return self._transfers

    def upload(
        self,
        src: Source,
        dst: str,
        *,
        mode: int | None = None,
        progress: ProgressHandler | None = None,
        cancel: CancelToken | None = None,
    ) -> None:
        """Copy a local file (path or binary file object) to the remote path `dst`."""
        self._xfer(cancel).upload(src, dst, mode=mode, progress=progress, cancel=cancel)

    def upload_dir(
        self,
        src: str,
        dst: str,
        *,
        progress: ProgressHandler | None = None,
        cancel: CancelToken | None = None,
    ) -> None:
        """Copy a directory; `src/` copies its contents into `dst`, `src` the directory itself."""
        self._xfer(cancel).upload_dir(src, dst, progress=progress, cancel=cancel)

    def download(
        self,
        src: str,
        dst: str | IO[bytes],
        *,
        progress: ProgressHandler | None = None,
        cancel: CancelToken | None = None,
    ) -> None:
        """Copy the remote file `src` to a local path or binary file object."""
        self._xfer(cancel).download(src, dst, progress=progress, cancel=cancel)

    def download_dir(
        self,
        src: str,
        dst: str,
        *,
        progress: ProgressHandler | None = None,
        cancel: CancelToken | None = None,
    ) -> None:
        """Copy a remote directory into the local `dst` (same trailing-slash rule)."""
        self._xfer(cancel).download_dir(src, dst, progress=progress, cancel=cancel)


# ---------------------------------------------------------------------- helpers
def _require_paramiko() -> None:
    try:
        import paramiko  # noqa: F401
    except ImportError as exc:
        raise BuildError(
            "the ssh communicator needs the paramiko package: pip install 'pybuild[ssh]'"
        ) from exc


def _limit(timeout: float | None, read_write: float) -> float | None:
    """The command's deadline: its own timeout, capped by ssh_read_write_timeout."""
    limits = [t for t in (timeout, read_write) if t]
    return min(limits) if limits else None


def _with_env(command: str, env: Mapping[str, str] | None) -> str:
    """Environment as an `export` prefix (sshd refuses most `env` requests)."""
    if not env:
        return command
    pairs = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(env.items()))
    return f"export {pairs}; {command}"


def _drain(chan: Any, out: _Lines, err: _Lines) -> None:
    while chan.recv_ready():
        out.feed(chan.recv(65536))
    while chan.recv_stderr_ready():
        err.feed(chan.recv_stderr(65536))


class _Lines:
    """Splits a byte stream into decoded lines as they complete."""

    def __init__(self, emit: Callable[[str], None]):
        self.emit = emit
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.buf = ""

    def feed(self, data: bytes) -> None:
        self.buf += self.decoder.decode(data)
        if "\n" not in self.buf:
            return
        *lines, self.buf = self.buf.split("\n")
        for line in lines:
            self.emit(line.rstrip("\r"))

    def flush(self) -> None:
        self.buf += self.decoder.decode(b"", final=True)
        if self.buf:
            self.emit(self.buf.rstrip("\r"))
            self.buf = ""
