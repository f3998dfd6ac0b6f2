"""`communicator: docker`: commands through the Engine's exec API, files through its archive API.

The engine is reached through a small protocol (`ContainerAPI`) that the docker
builder's driver implements; this module never imports the Docker SDK.
"""

from __future__ import annotations

import codecs
import os
import posixpath
import queue
import shlex
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Protocol, cast

from builder.communicator.base import (
    CommandResult,
    Disconnected,
    OutputHandler,
    ProgressHandler,
    Source,
    Tail,
)
from builder.errors import BuildCancelled, BuildError, CommunicatorTimeout, DriverError

if TYPE_CHECKING:
    from builder.multistep import CancelToken

CHUNK = 1 << 20
POLL = 0.2


@dataclass
class ContainerState:
    """What `inspect` says about a container."""

    running: bool
    exit_code: int = 0
    oom_killed: bool = False
    error: str = ""
    user: str = ""
    ip_address: str = ""


class ExecStream(Protocol):
    """One command running in a container: its output frames, exit code, and a way to stop it."""

    def __iter__(self) -> Iterator[tuple[int, bytes]]: ...  # (1 = stdout | 2 = stderr, data)

    def close(self) -> None: ...  # unblocks the iteration from another thread

    def exit_code(self) -> int | None: ...  # None while still running

    def kill(self) -> bool: ...  # best effort; True when the process was signalled


class ContainerAPI(Protocol):
    """The engine calls this communicator needs (the docker builder's driver has them)."""

    def exec(
        self, container_id: str, argv: list[str], user: str, env: dict[str, str], tty: bool
    ) -> ExecStream: ...

    def put_archive(self, container_id: str, path: str, chunks: Iterable[bytes]) -> None: ...

    def get_archive(
        self, container_id: str, path: str
    ) -> tuple[Iterator[bytes], dict[str, Any]]: ...

    def container_state(self, container_id: str) -> ContainerState: ...


class DockerCommunicator:
    """Runs commands with `/bin/sh -c "(cmd)"` in a container and copies files in and out."""

    def __init__(
        self,
        api: ContainerAPI,
        container_id: str,
        *,
        exec_user: str = "",
        container_user: str = "",
        fix_upload_owner: bool = True,
        pty: bool = False,
    ):
        self.api, self.container_id = api, container_id
        self.exec_user, self.container_user = exec_user, container_user
        self.fix_upload_owner, self.pty = fix_upload_owner, pty

    # ------------------------------------------------------------------ commands
    def run(
        self,
        command: str,
        *,
        on_output: OutputHandler | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
        cancel: CancelToken | None = None,
        user: str | None = None,
    ) -> CommandResult:
        """Run `command`, streaming its output lines; never raises for a non-zero status."""
        argv = ["/bin/sh", "-c", f"({command})"]
        stream = self.api.exec(
            self.container_id,
            argv,
            self.exec_user if user is None else user,
            dict(env or {}),
            self.pty,
        )
        frames: queue.Queue[tuple[int, bytes] | BaseException | None] = queue.Queue()
        reader = threading.Thread(target=_pump, args=(stream, frames), daemon=True)
        reader.start()
        lines = _Lines(on_output)
        deadline = None if not timeout else time.monotonic() + timeout
        broken: BaseException | None = None
        while True:
            if cancel is not None and cancel.cancelled:
                self._stop(stream)
                raise BuildCancelled()
            if deadline is not None and time.monotonic() > deadline:
                self._stop(stream)
                raise CommunicatorTimeout(f"command timed out after {timeout:g}s: {command}")
            try:
                item = frames.get(timeout=POLL)
            except queue.Empty:
                continue
            if item is None:
                break
            if isinstance(item, BaseException):
                broken = item
                break
            lines.feed(*item)
        lines.flush()
        status = self._exit_status(stream, command, broken)
        return CommandResult(command, status, lines.tail.lines)

    def _stop(self, stream: ExecStream) -> None:
        stream.kill()
        stream.close()

    def _exit_status(self, stream: ExecStream, command: str, broken: BaseException | None) -> int:
        """The command's exit code, or Disconnected when the container went away under it."""
        code: int | None = None
        for _ in range(20):
            try:
                code = stream.exit_code()
            except DriverError as exc:
                broken = broken or exc
                break
            if code is not None:
                break
            time.sleep(0.05)
        if code is not None and 0 <= code <= 128 and broken is None:
            return code  # it ended on its own; a container going down kills its commands
        state = self._state(command)
        # a command killed by a signal (128+n) may mean the container is going down: the
        # engine reports the container's exit a moment after the command's
        for _ in range(10 if code is not None and code > 128 and state.running else 0):
            time.sleep(0.1)
            state = self._state(command)
            if not state.running:
                break
        if not state.running:
            why = f"exit code {state.exit_code}" + (", out of memory" if state.oom_killed else "")
            raise Disconnected(
                f"the container {self.container_id[:12]} stopped ({why}) while running: {command}"
            )
        if code is None:
            raise Disconnected(f"the command's output stream broke ({broken}): {command}")
        return code

    def _state(self, command: str) -> Any:
        try:
            return self.api.container_state(self.container_id)
        except DriverError as exc:
            raise Disconnected(f"lost the container while running {command!r}: {exc}") from exc

    # ------------------------------------------------------------------ uploads
    def upload(
        self,
        src: Source,
        dst: str,
        *,
        mode: int | None = None,
        progress: ProgressHandler | None = None,
        cancel: CancelToken | None = None,
    ) -> None:
        """One file to the full remote path `dst` (its directory must exist)."""
        with _opened(src) as (f, size, local_mode, mtime):
            info = _info(posixpath.basename(dst), tarfile.REGTYPE, mode or local_mode, mtime, size)
            chunks = _tar_stream([(info, f)], progress, cancel, size)
            self._put(posixpath.dirname(dst) or "/", chunks, dst)
        self._fix_owner([dst])

    def upload_dir(
        self,
        src: str,
        dst: str,
        *,
        progress: ProgressHandler | None = None,
        cancel: CancelToken | None = None,
    ) -> None:
        """Packer's rule: `src/` copies the contents into `dst`, `src` the directory itself."""
        if not os.path.isdir(src):
            raise BuildError(f"Upload failed: {src} is not a directory")
        prefix = "" if src.endswith("/") else os.path.basename(os.path.normpath(src))
        entries = list(_walk(src, prefix))
        total = sum(i.size for i, _ in entries if i.isreg())
        self._mkdir(dst)
        with _closing(entries):
            self._put(dst, _tar_stream(entries, progress, cancel, total), dst)
        if prefix:
            tops = [posixpath.join(dst, prefix)]
        else:
            tops = [posixpath.join(dst, n) for n in sorted(os.listdir(src))]
        self._fix_owner(tops)

    def _put(self, directory: str, chunks: Iterator[bytes], dst: str) -> None:
        try:
            self.api.put_archive(self.container_id, directory, chunks)
        except DriverError as exc:
            raise BuildError(f"Failed to upload to '{dst}' in container: {exc}") from exc

    def _mkdir(self, path: str) -> None:
        result = self.run(f"mkdir -p {shlex.quote(path)}", user="root")
        if result.exit_status != 0:
            raise BuildError(f"Upload failed: cannot create {path}: {' '.join(result.tail)}")

    def _fix_owner(self, paths: list[str]) -> None:
        """Packer's fix_upload_owner: chown what was uploaded to the container's user."""
        owner = self.container_user or "root"
        if not self.fix_upload_owner or not paths or owner in ("root", "0", "0:0"):
            return  # archives are unpacked as root already
        quoted = " ".join(shlex.quote(p) for p in paths)
        result = self.run(f"chown -R {shlex.quote(owner)} {quoted}", user="root")
        if result.exit_status != 0:
            raise BuildError(f"Failed to set owner of the uploaded file: {' '.join(result.tail)}")

    # ------------------------------------------------------------------ downloads
    def download(
        self,
        src: str,
        dst: str | IO[bytes],
        *,
        progress: ProgressHandler | None = None,
        cancel: CancelToken | None = None,
    ) -> None:
        """One remote file to a local path or a writable binary file object."""
        chunks, stat = self._get(src)
        with _tar_reader(chunks) as tar:
            member = tar.next()
            if member is None or member.isdir():
                raise BuildError(f"Error downloading file: {src} is a directory")
            data = tar.extractfile(member)
            if data is None:
                raise BuildError(f"Error downloading file: {src} is not a regular file")
            total = int(stat.get("size") or member.size)
            with _writable(dst) as out:
                _copy(data, out, progress, cancel, total)

    def download_dir(
        self,
        src: str,
        dst: str,
        *,
        progress: ProgressHandler | None = None,
        cancel: CancelToken | None = None,
    ) -> None:
        """A remote directory into local `dst`: `src/` its contents, `src` the directory."""
        contents = src.endswith("/")
        chunks, _ = self._get(src.rstrip("/") or "/")
        os.makedirs(dst, exist_ok=True)
        done = 0
        with _tar_reader(chunks) as tar:
            for member in tar:
                if cancel is not None:
                    cancel.check()
                if contents:
                    _, _, rest = member.name.partition("/")
                    if not rest:
                        continue
                    member.name = rest
                tar.extract(member, dst, filter="data")
                done += member.size if member.isreg() else 0
                if progress is not None:
                    progress(done, 0)

    def _get(self, src: str) -> tuple[Iterator[bytes], dict[str, Any]]:
        try:
            return self.api.get_archive(self.container_id, src)
        except DriverError as exc:
            raise BuildError(f"Error downloading file: {exc}") from exc


# ---------------------------------------------------------------------- helpers
def _pump(stream: ExecStream, out: queue.Queue[Any]) -> None:
    """Reader thread: frames into the queue, then None (or the error that ended it)."""
    try:
        for frame in stream:
            out.put(frame)
        out.put(None)
    except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
        out.put(exc)


class _Lines:
    """Line-buffers stdout and stderr separately, decoding UTF-8 as bytes arrive."""

    def __init__(self, sink: Callable[[str], None] | None):
        self.sink = sink
        self.tail = Tail()
        self.buffers = {1: "", 2: ""}
        self.decoders = {k: codecs.getincrementaldecoder("utf-8")("replace") for k in (1, 2)}

    def feed(self, stream: int, data: bytes) -> None:
        key = 2 if stream == 2 else 1
        text = self.buffers[key] + self.decoders[key].decode(data)
        *complete, self.buffers[key] = text.split("\n")
        for line in complete:
            self._emit(line.rstrip("\r"))

    def flush(self) -> None:
        for key in (1, 2):
            rest = self.buffers[key] + self.decoders[key].decode(b"", final=True)
            self.buffers[key] = ""
            if rest:
                self._emit(rest.rstrip("\r"))

    def _emit(self, line: str) -> None:
        self.tail.add(line)
        if self.sink is not None:
            self.sink(line)


def _info(name: str, kind: bytes, mode: int, mtime: float, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime, info.size = kind, mode & 0o7777, int(mtime), size
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def _walk(src: str, prefix: str) -> Iterator[tuple[tarfile.TarInfo, IO[bytes] | None]]:
    """Tar entries of a local tree; files are opened lazily by _tar_stream."""
    root = os.path.normpath(src)
    if prefix:
        st = os.stat(root)
        yield _info(prefix, tarfile.DIRTYPE, st.st_mode, st.st_mtime), None
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, root)
        for name in [*dirnames, *sorted(filenames)]:
            path = os.path.join(dirpath, name)
            rel = posixpath.normpath(posixpath.join(prefix, rel_dir, name)).lstrip("/")
            st = os.lstat(path)
            if os.path.islink(path):
                info = _info(rel, tarfile.SYMTYPE, st.st_mode, st.st_mtime)
                info.linkname = os.readlink(path)
                yield info, None
            elif os.path.isdir(path):
                yield _info(rel, tarfile.DIRTYPE, st.st_mode, st.st_mtime), None
            elif os.path.isfile(path):
                info = _info(rel, tarfile.REGTYPE, st.st_mode, st.st_mtime, st.st_size)
                yield info, _LazyFile(path)  # type: ignore[misc]


class _LazyFile:
    """Opens a local file only when its bytes are streamed (directories can be large)."""

    def __init__(self, path: str):
        self.path = path
        self.f: IO[bytes] | None = None

    def read(self, n: int) -> bytes:
        if self.f is None:
            self.f = open(self.path, "rb")
        data = self.f.read(n)
        if not data:
            self.close()
        return data

    def close(self) -> None:
        if self.f is not None:
            self.f.close()
            self.f = None


def _tar_stream(
    entries: Iterable[tuple[tarfile.TarInfo, Any]],
    progress: ProgressHandler | None,
    cancel: CancelToken | None,
    total: int,
) -> Iterator[bytes]:
    """A tar archive produced as it is sent: headers, file bytes, padding, end blocks."""
    done = 0
    for info, f in entries:
        yield info.tobuf(format=tarfile.PAX_FORMAT)
        if f is None:
            continue
        left = info.size
        while left > 0:
            if cancel is not None:
                cancel.check()
            chunk = f.read(min(CHUNK, left))
            if not chunk:
                raise BuildError(f"Upload failed: {info.name} shrank while it was being sent")
            left -= len(chunk)
            done += len(chunk)
            yield chunk
            if progress is not None:
                progress(done, total)
        pad = -info.size % tarfile.BLOCKSIZE
        if pad:
            yield b"\0" * pad
    yield b"\0" * (2 * tarfile.BLOCKSIZE)


class _opened:
    """`src` (path or binary file object) as (file, size, mode, mtime) with a known size."""

    def __init__(self, src: Source):
        self.src = src
        self.owned: IO[bytes] | None = None

    def __enter__(self) -> tuple[IO[bytes], int, int, float]:
        if isinstance(self.src, str):
            st = os.stat(self.src)
            self.owned = open(self.src, "rb")
            return self.owned, st.st_size, st.st_mode, st.st_mtime
        f = self.src
        try:
            start = f.tell()
            size = f.seek(0, os.SEEK_END) - start
            f.seek(start)
        except (OSError, AttributeError, ValueError):
            spool = tempfile.TemporaryFile()
            while chunk := f.read(CHUNK):
                spool.write(chunk)
            size = spool.tell()
            spool.seek(0)
            self.owned = f = spool
        return f, size, 0o644, time.time()

    def __exit__(self, *exc: object) -> None:
        if self.owned is not None:
            self.owned.close()


class _closing:
    def __init__(self, entries: list[tuple[tarfile.TarInfo, Any]]):
        self.entries = entries

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        for _, f in self.entries:
            if f is not None:
                f.close()


class _writable:
    """A local path (opened for writing) or a caller's file object."""

    def __init__(self, dst: str | IO[bytes]):
        self.dst = dst
        self.f: IO[bytes] | None = None

    def __enter__(self) -> IO[bytes]:
        if isinstance(self.dst, str):
            self.f = open(self.dst, "wb")
            return self.f
        return self.dst

    def __exit__(self, *exc: object) -> None:
        if self.f is not None:
            self.f.close()


def _copy(
    src: IO[bytes],
    dst: IO[bytes],
    progress: ProgressHandler | None,
    cancel: CancelToken | None,
    total: int,
) -> None:
    done = 0
    while chunk := src.read(CHUNK):
        if cancel is not None:
            cancel.check()
        dst.write(chunk)
        done += len(chunk)
        if progress is not None:
            progress(done, total)


def _tar_reader(chunks: Iterator[bytes]) -> tarfile.TarFile:
    return tarfile.open(fileobj=cast(IO[bytes], _ChunkReader(chunks)), mode="r|")


class _ChunkReader:
    """A read()-able view of an iterator of byte chunks (for tarfile's stream mode)."""

    def __init__(self, chunks: Iterator[bytes]):
        self.chunks = iter(chunks)
        self.buf = b""
        self.pos = 0

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self.buf) - self.pos < n:
            try:
                chunk = next(self.chunks)
            except StopIteration:
                break
            self.buf = self.buf[self.pos :] + chunk
            self.pos = 0
        end = len(self.buf) if n < 0 else self.pos + n
        out = self.buf[self.pos : end]
        self.pos = min(end, len(self.buf))
        return out
