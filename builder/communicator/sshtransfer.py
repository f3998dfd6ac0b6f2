"""File and directory transfers over one SSH connection: SFTP, scp streams and tar streams.

What was measured on loopback (bench/ssh_transfer.py) decides the `auto` method:
- small files: SFTP on the one session kept for the build (~0.5 ms a file) beats
  starting an `scp -t` process per file (~3 ms);
- large files (>= STREAM_MIN): an scp stream over an exec channel, one SSH packet per
  read, beats pipelined SFTP (no per-32-KiB request and reply) in both directions;
- directories: one tar archive streamed over one exec channel when the remote has tar,
  per-file SFTP otherwise.
An explicit `ssh_file_transfer_method` (sftp or scp) is honoured for files.
"""

from __future__ import annotations

import os
import posixpath
import shlex
import stat
import tarfile
from typing import IO, TYPE_CHECKING, Any, cast

import paramiko

from builder.communicator.base import Disconnected, ProgressHandler, Source
from builder.communicator.sshstream import (
    ChannelReader,
    ChannelWriter,
    NoScp,
    Progress,
    Watchdog,
    as_login_user,
    local_size,
    read_line,
    scp_ack,
    scp_error,
    send_all,
    sftp_makedirs,
    stderr_text,
)
from builder.errors import BuildCancelled, BuildError, CommunicatorTimeout

if TYPE_CHECKING:
    from builder.communicator.sshdial import Connection
    from builder.multistep import CancelToken

STREAM_MIN = 4 * 1024 * 1024
SFTP_CHUNK = 32768 - 128  # one SFTP write request fits one 32 KiB SSH packet
_GLOB = set("*?[")


class Transfers:
    """Transfers for one connection; the SFTP session is opened once and reused."""

    def __init__(self, conn: Connection, method: str, rw_timeout: float, address: str):
        self.conn, self.method, self.rw_timeout, self.address = conn, method, rw_timeout, address
        self._sftp: paramiko.SFTPClient | None = None
        self._tar: bool | None = None
        self._dog: Watchdog | None = None

    def close(self) -> None:
        if self._sftp is not None:
            try:
                self._sftp.close()
            except Exception:  # noqa: BLE001 - the transport may be gone already
                pass
            self._sftp = None

    # ------------------------------------------------------------------ plumbing
    def sftp(self) -> paramiko.SFTPClient:
        if self._sftp is None:
            self._sftp = paramiko.SFTPClient.from_transport(self.conn.transport)
            if self._sftp is None:
                raise BuildError(f"{self.address}: the server refused the SFTP subsystem")
            if self.rw_timeout:
                self._sftp.get_channel().settimeout(self.rw_timeout)
        return self._sftp

    def _exec(self, command: str) -> paramiko.Channel:
        chan = self.conn.transport.open_session()
        chan.settimeout(self.rw_timeout or None)
        chan.exec_command(command)
        return chan

    def has_tar(self) -> bool:
        """Whether the remote shell finds `tar` (asked once per connection)."""
        if self._tar is None:
            chan = self._exec("command -v tar >/dev/null 2>&1")
            chan.shutdown_write()
            self._tar = chan.recv_exit_status() == 0
            chan.close()
        return self._tar

    def _beat(self) -> None:
        if self._dog is not None:
            self._dog.beat()

    def _progress(
        self, handler: ProgressHandler | None, total: int, cancel: CancelToken | None
    ) -> Progress:
        return Progress(handler, total, cancel, self._beat)

    def _guard(self, what: str, cancel: CancelToken | None, fn: Any, *args: Any, **kw: Any) -> Any:
        """Run a transfer under a watchdog; map drops, stalls and remote errors to ours.

        ssh_read_write_timeout is the longest a transfer may go without moving data.
        """
        dog = self._dog = Watchdog(self.conn.close, self.rw_timeout, cancel)
        try:
            with dog:
                return fn(*args, **kw)
        except BaseException as exc:
            if dog.fired == "cancelled":
                raise BuildCancelled() from exc
            if dog.fired == "stalled" or isinstance(exc, TimeoutError):
                raise CommunicatorTimeout(
                    f"{what}: no progress for {self.rw_timeout:g}s (ssh_read_write_timeout)"
                ) from exc
            mapped = self._mapped(what, exc)
            if mapped is exc:
                raise
            raise mapped from exc
        finally:
            self._dog = None

    def _mapped(self, what: str, exc: BaseException) -> BaseException:
        if isinstance(exc, (BuildCancelled, BuildError, NoScp)) or not isinstance(
            exc, (OSError, EOFError, paramiko.SSHException)
        ):
            return exc
        if not self.conn.active:
            return Disconnected(f"{what}: SSH connection to {self.address} dropped")
        if isinstance(exc, OSError):
            return BuildError(f"{what}: {exc.strerror or exc}")
        return BuildError(f"{what}: {exc}")

    # ------------------------------------------------------------------ files
    def upload(
        self,
        src: Source,
        dst: str,
        *,
        mode: int | None = None,
        progress: ProgressHandler | None = None,
        cancel: CancelToken | None = None,
    ) -> None:
        what = dst
        fh, owned = (open(src, "rb", buffering=0), True) if isinstance(src, str) else (src, False)
        try:
            size = local_size(fh)
            prog = self._progress(progress, size or 0, cancel)
            method = self.method
            if method == "auto":
                method = "scp" if size is not None and size >= STREAM_MIN else "sftp"
            if method == "scp":
                try:
                    self._guard(what, cancel, self._scp_put, fh, dst, size, mode, prog)
                    return prog.finish()
                except NoScp:
                    if self.method == "scp":
                        raise BuildError(f"{what}: the remote cannot run `scp -t`") from None
                    fh.seek(0)
                    prog = self._progress(progress, size or 0, cancel)
            self._guard(what, cancel, self._sftp_put, fh, dst, mode, prog)
            prog.finish()
        finally:
            if owned:
                fh.close()

    def _sftp_put(self, fh: IO[bytes], dst: str, mode: int | None, prog: Progress) -> None:
        sftp = self.sftp()
        try:
            rf = sftp.open(dst, "wb", bufsize=0)
        except OSError:
            if _is_dir(sftp, dst):  # SFTP says only "Failure"
                raise BuildError(f"{dst}: Is a directory") from None
            raise
        with rf:
            rf.set_pipelined(True)
            while block := fh.read(SFTP_CHUNK):
                rf.write(block)
                prog.add(len(block))
        if mode is not None:
            sftp.chmod(dst, mode)

    def _scp_put(
        self, fh: IO[bytes], dst: str, size: int | None, mode: int | None, prog: Progress
    ) -> None:
        if size is None:
            raise NoScp()  # scp must announce the size first; SFTP does not
        # Packer's layout: the target is the parent directory (-d: it must be one, else scp
        # would write a file named like the missing directory), the record names the file
        parent, name = posixpath.split(dst)
        chan = self._exec(f"scp -t -d {shlex.quote(parent or '.')}")
        try:
            scp_ack(chan)  # an error here (missing directory) is the remote scp's message
            chan.sendall(b"C%04o %d %s\n" % ((mode or 0o644) & 0o7777, size, name.encode()))
            scp_ack(chan)
            step = chan.out_max_packet_size - 64
            sent = 0
            while sent < size:
                block = fh.read(min(step, size - sent))
                if not block:
                    raise BuildError(f"local file shrank while uploading to {dst}")
                send_all(chan, block)
                sent += len(block)
                prog.add(len(block))
            chan.sendall(b"\0")
            scp_ack(chan)
            chan.shutdown_write()
            status = chan.recv_exit_status()
            if status != 0:
                raise BuildError(f"scp exited with status {status}")
        finally:
            chan.close()

    def download(
        self,
        src: str,
        dst: str | IO[bytes],
        *,
        progress: ProgressHandler | None = None,
        cancel: CancelToken | None = None,
    ) -> None:
        what = src
        method = self.method
        size = 0
        if method != "scp":
            size = self._guard(what, cancel, lambda: self.sftp().stat(src).st_size or 0)
            if method == "auto":
                method = "scp" if size >= STREAM_MIN else "sftp"
        fh, owned = (open(dst, "wb"), True) if isinstance(dst, str) else (dst, False)
        try:
            prog = self._progress(progress, size, cancel)
            if method == "scp":
                self._guard(what, cancel, self._scp_get, src, fh, prog)
            else:
                self._guard(what, cancel, self._sftp_get, src, fh, size, prog)
            prog.finish()
        finally:
            if owned:
                fh.close()

    def _sftp_get(self, src: str, fh: IO[bytes], size: int, prog: Progress) -> None:
        with self.sftp().open(src, "rb") as rf:
            rf.prefetch(size)
            while block := rf.read(1 << 20):
                fh.write(block)
                prog.add(len(block))

    def _scp_get(self, src: str, fh: IO[bytes], prog: Progress) -> None:
        chan = self._exec(f"scp -f {shlex.quote(src)}")
        try:
            chan.sendall(b"\0")
            header = read_line(chan)
            if not header.startswith(b"C"):
                raise BuildError(scp_error(header))
            size = int(header.split(b" ", 2)[1])
            prog.total = prog.total or size
            chan.sendall(b"\0")
            left = size
            while left > 0:
                block = chan.recv(min(left, 1 << 20))
                if not block:
                    raise EOFError()
                fh.write(block)
                left -= len(block)
                prog.add(len(block))
            scp_ack(chan)
            chan.sendall(b"\0")
            chan.shutdown_write()
            chan.recv_exit_status()
        finally:
            chan.close()

    # ------------------------------------------------------------------ directories
    def upload_dir(
        self,
        src: str,
        dst: str,
        *,
        progress: ProgressHandler | None = None,
        cancel: CancelToken | None = None,
    ) -> None:
        """Packer's rule: `src/` copies the contents into dst, `src` makes dst/basename."""
        root = src.rstrip("/") or "/"
        target = dst if src.endswith("/") else posixpath.join(dst, os.path.basename(root))
        if not os.path.isdir(root):
            raise BuildError(f"{src} is not a directory")
        total = sum(
            os.path.getsize(os.path.join(d, f))
            for d, _, files in os.walk(root, followlinks=True)
            for f in files
            if os.path.isfile(os.path.join(d, f))
        )
        prog = self._progress(progress, total, cancel)
        what = f"{src} => {dst}"
        if self._guard(what, cancel, self.has_tar):
            self._guard(what, cancel, self._tar_put, root, target, prog)
        else:
            self._guard(what, cancel, self._sftp_put_tree, root, target, prog)
        prog.finish()

    def _tar_put(self, root: str, target: str, prog: Progress) -> None:
        q = shlex.quote(target)
        chan = self._exec(f"mkdir -p {q} && tar -C {q} -xf -")
        stream = ChannelWriter(chan, prog)
        try:
            with tarfile.open(
                fileobj=cast(Any, stream), mode="w|", format=tarfile.PAX_FORMAT
            ) as tar:
                for name in sorted(os.listdir(root)):
                    tar.add(os.path.join(root, name), arcname=name, filter=as_login_user)
            stream.flush()
            chan.shutdown_write()
            status = chan.recv_exit_status()
            if status != 0:
                raise BuildError(f"remote tar exited with status {status}: {stderr_text(chan)}")
        finally:
            chan.close()

    def _sftp_put_tree(self, root: str, target: str, prog: Progress) -> None:
        sftp = self.sftp()
        sftp_makedirs(sftp, target)
        for d, dirs, files in os.walk(root, followlinks=True):
            rel = os.path.relpath(d, root)
            rdir = target if rel == "." else posixpath.join(target, *rel.split(os.sep))
            for name in sorted(dirs):
                sftp_makedirs(sftp, posixpath.join(rdir, name))
            for name in sorted(files):
                path = os.path.join(d, name)
                with open(path, "rb", buffering=0) as fh:
                    self._sftp_put(fh, posixpath.join(rdir, name), None, prog)
                sftp.chmod(posixpath.join(rdir, name), stat.S_IMODE(os.stat(path).st_mode))

    def download_dir(
        self,
        src: str,
        dst: str,
        *,
        progress: ProgressHandler | None = None,
        cancel: CancelToken | None = None,
    ) -> None:
        """Remote directory into local dst: `src/` its contents, `src` dst/basename."""
        root = src.rstrip("/") or "/"
        base = posixpath.basename(root)
        target = dst if src.endswith("/") or _GLOB & set(base) else os.path.join(dst, base)
        os.makedirs(target, exist_ok=True)
        prog = self._progress(progress, 0, cancel)
        what = f"{src} => {dst}"
        if self._guard(what, cancel, self.has_tar):
            self._guard(what, cancel, self._tar_get, root, target, prog)
        else:
            self._guard(what, cancel, self._sftp_get_tree, root, target, prog)
        prog.finish()

    def _tar_get(self, root: str, target: str, prog: Progress) -> None:
        base = posixpath.basename(root)
        if _GLOB & set(base):  # a pattern: the remote shell expands it in its directory
            parent = posixpath.dirname(root) or "."
            cmd = f"cd {shlex.quote(parent)} && tar -cf - -- {base}"
        else:
            cmd = f"tar -C {shlex.quote(root)} -cf - ."
        chan = self._exec(cmd)
        chan.shutdown_write()
        try:
            reader = ChannelReader(chan, prog)
            with tarfile.open(fileobj=cast(Any, reader), mode="r|") as tar:
                if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4
                    tar.extractall(target, filter="data")
                else:  # pragma: no cover - older 3.11: refuse unsafe names ourselves
                    tar.extractall(target, members=_safe_members(tar))
            status = chan.recv_exit_status()
            if status != 0:
                raise BuildError(f"remote tar exited with status {status}: {stderr_text(chan)}")
        except tarfile.ReadError as exc:
            raise BuildError(f"{root}: {stderr_text(chan) or exc}") from exc
        finally:
            chan.close()

    def _sftp_get_tree(self, root: str, target: str, prog: Progress) -> None:
        sftp = self.sftp()
        for entry in sftp.listdir_attr(root):
            rpath, lpath = (
                posixpath.join(root, entry.filename),
                os.path.join(target, entry.filename),
            )
            if stat.S_ISDIR(entry.st_mode or 0):
                os.makedirs(lpath, exist_ok=True)
                self._sftp_get_tree(rpath, lpath, prog)
            else:
                with open(lpath, "wb") as fh:
                    self._sftp_get(rpath, fh, entry.st_size or 0, prog)


def _is_dir(sftp: paramiko.SFTPClient, path: str) -> bool:
    try:
        return stat.S_ISDIR(sftp.stat(path).st_mode or 0)
    except OSError:
        return False


def _safe_members(tar: tarfile.TarFile) -> Any:
    for member in tar:
        parts = member.name.split("/")
        if member.name.startswith("/") or ".." in parts or member.issym() or member.islnk():
            if member.issym() or member.islnk():
                continue  # links could point outside the target
            raise BuildError(f"refusing unsafe path in the remote archive: {member.name}")
        yield member
