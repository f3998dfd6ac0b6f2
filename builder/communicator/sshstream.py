"""Channel plumbing: watchdog, command signals, progress, packet streams, scp, tar owners."""

from __future__ import annotations

import os
import posixpath
import stat
import tarfile
import threading
import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING

import paramiko
from paramiko.common import cMSG_CHANNEL_REQUEST
from paramiko.message import Message

from builder.communicator.base import ProgressHandler
from builder.errors import BuildCancelled, BuildError
from builder.logs import logger

if TYPE_CHECKING:
    from builder.multistep import CancelToken


log = logger("pybuild.ssh")


class NoScp(Exception):
    """The remote could not start `scp` (not installed, or not a POSIX shell)."""


CANCEL_GRACE = 1.0


class Watchdog:
    """Drops the connection when an operation stalls or is cancelled and does not stop.

    Several paramiko waits have no timeout of their own (opening a channel, exec, the
    SFTP handshake, an exit status): against a frozen machine they would wait forever.
    Closing the transport is the one thing that ends all of them. `stall`: seconds
    without a `beat()` (0: no limit); a cancelled operation gets `grace` seconds to
    notice by itself first. `fired` then says why ("stalled" or "cancelled").
    """

    TICK = 0.1

    def __init__(
        self,
        close: Callable[[], None],
        stall: float,
        cancel: CancelToken | None,
        grace: float = CANCEL_GRACE,
    ):
        self.close, self.stall, self.cancel, self.grace = close, stall, cancel, grace
        self.fired = ""
        self._beats = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def beat(self) -> None:
        """Progress was made: the stall clock starts over."""
        self._beats += 1

    def __enter__(self) -> Watchdog:
        if self.stall > 0 or self.cancel is not None:
            self._thread = threading.Thread(target=self._watch, name="ssh-watchdog", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _watch(self) -> None:
        seen, since = self._beats, time.monotonic()
        cancelled_at = None
        while not self._stop.wait(self.TICK):
            now = time.monotonic()
            if self._beats != seen:
                seen, since = self._beats, now
            if self.cancel is not None and self.cancel.cancelled:
                cancelled_at = cancelled_at or now
                if now - cancelled_at >= self.grace:
                    self.fired = "cancelled"
            elif self.stall > 0 and now - since >= self.stall:
                self.fired = "stalled"
            if self.fired:
                self.close()
                return


def stop_command(chan: paramiko.Channel) -> None:
    """Ask sshd to signal the command (RFC 4254 6.9), then close the channel.

    paramiko has no call for the `signal` request: the message is built by hand.
    """
    try:
        m = Message()
        m.add_byte(cMSG_CHANNEL_REQUEST)
        m.add_int(chan.remote_chanid)
        m.add_string("signal")
        m.add_boolean(False)
        m.add_string("TERM")
        chan.transport._send_user_message(m)
    except Exception as exc:  # noqa: BLE001 - the close below still ends the session
        log.debug("could not send a signal request: %s", exc)
    chan.close()


class Progress:
    """Calls the handler at most every 100 ms (and always at the end); checks cancel."""

    def __init__(
        self,
        handler: ProgressHandler | None,
        total: int,
        cancel: CancelToken | None,
        beat: Callable[[], None] | None = None,
    ):
        self.handler, self.total, self.cancel, self.beat = handler, total, cancel, beat
        self.done = 0
        self._last = 0.0

    def add(self, n: int) -> None:
        self.done += n
        if self.beat is not None:
            self.beat()
        if self.cancel is not None and self.cancel.cancelled:
            raise BuildCancelled()
        if self.handler is not None:
            now = time.monotonic()
            if now - self._last >= 0.1:
                self._last = now
                done = min(self.done, self.total) if self.total else self.done
                self.handler(done, self.total)

    def finish(self) -> None:
        """Report completion; a known total wins over stream bytes (tar headers count too)."""
        if self.handler is not None:
            end = self.total or self.done
            self.handler(end, end)


def local_size(fh: IO[bytes]) -> int | None:
    try:
        return os.fstat(fh.fileno()).st_size - fh.tell()
    except (OSError, AttributeError, ValueError):
        pass
    try:
        here = fh.tell()
        end = fh.seek(0, os.SEEK_END)
        fh.seek(here)
        return end - here
    except (OSError, AttributeError, ValueError):
        return None


def send_all(chan: paramiko.Channel, data: bytes) -> None:
    """Send without paramiko's sendall, which re-slices (copies) the rest on every packet."""
    view = memoryview(data)
    while view:
        n = chan.send(view)
        if n <= 0:
            raise EOFError()
        view = view[n:]


def read_line(chan: paramiko.Channel) -> bytes:
    out = bytearray()
    while True:
        b = chan.recv(1)
        if not b:
            raise EOFError()
        if b == b"\n":
            return bytes(out)
        out += b


def scp_ack(chan: paramiko.Channel) -> None:
    code = chan.recv(1)
    if code == b"\0":
        return
    if not code:
        raise NoScp()
    raise BuildError(scp_error(code + read_line(chan)))


def scp_error(record: bytes) -> str:
    text = record[1:].decode("utf-8", "replace").strip() if record[:1] in (b"\1", b"\2") else ""
    return text or f"unexpected scp reply {record[:60]!r}"


def stderr_text(chan: paramiko.Channel) -> str:
    chunks = []
    while chan.recv_stderr_ready():
        chunks.append(chan.recv_stderr(65536))
    return b"".join(chunks).decode("utf-8", "replace").strip()


def as_login_user(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """Files belong to whoever logs in, as with scp (root extracting keeps tar owners)."""
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mtime = int(info.mtime)  # a float mtime costs an extra PAX header block per file
    return info


def sftp_makedirs(sftp: paramiko.SFTPClient, path: str) -> None:
    try:
        sftp.mkdir(path)
    except OSError:
        try:
            if stat.S_ISDIR(sftp.stat(path).st_mode or 0):
                return
        except OSError:
            pass
        parent = posixpath.dirname(path.rstrip("/"))
        if parent and parent != path:
            sftp_makedirs(sftp, parent)
            sftp.mkdir(path)
        else:
            raise


class ChannelWriter:
    """A write-only file over a channel that sends whole SSH packets."""

    def __init__(self, chan: paramiko.Channel, prog: Progress):
        self.chan, self.prog = chan, prog
        self.step = chan.out_max_packet_size - 64
        self.buf = bytearray()

    def write(self, data: bytes) -> int:
        self.buf += data
        if len(self.buf) >= self.step:
            cut = len(self.buf) - len(self.buf) % self.step
            send_all(self.chan, bytes(self.buf[:cut]))
            del self.buf[:cut]
            self.prog.add(cut)
        return len(data)

    def flush(self) -> None:
        if self.buf:
            send_all(self.chan, bytes(self.buf))
            self.prog.add(len(self.buf))
            self.buf.clear()


class ChannelReader:
    """A read-only file over a channel's stdout."""

    def __init__(self, chan: paramiko.Channel, prog: Progress):
        self.chan, self.prog = chan, prog

    def read(self, n: int = -1) -> bytes:
        out = bytearray()
        want = n if n >= 0 else 1 << 62
        while len(out) < want:
            block = self.chan.recv(min(want - len(out), 1 << 20))
            if not block:
                break
            out += block
            self.prog.add(len(block))
        return bytes(out)
