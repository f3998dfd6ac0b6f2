"""Download the ISO into Packer's cache: verified, resumed, shared by parallel builds.

Packer 1.6.6's cache: `$PACKER_CACHE_DIR` (default `./packer_cache`, relative to the
working directory), the file named `sha1("<type>:<hex>").<extension>` from the resolved
checksum (a `file:` checksum is read first), or `sha1(<url>)` with `none`. So pybuild and
packer share a cache directory, and the `<file>.lock` both take. Local files and file://
URLs are verified and used where they are, not copied (Packer's "in place").

An HTTP download goes to `<file>.part`, recorded in the ledger (`local.file`) before it is
created, hashed while it arrives and renamed to `<file>` once verified. The cache's own
things (its directory, `<file>.lock`, a verified `<file>`) are recorded as kept before
they exist, so no `pybuild cleanup` ever removes the cache. A cut connection resumes with
a Range request, from the same or the next URL. If the download fails or is cancelled,
its `.part` is removed. If the build is killed, the `.part` stays: the next download
resumes from it, and `pybuild cleanup` removes it (then the next download starts over).

One download per target: a lock per target in the process and a `flock` on `<file>.lock`
across processes; a build that waits then finds the verified file and uses it.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import itertools
import os
import threading
import urllib.parse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol

from builder import faults
from builder.common.iso.checksum import (
    Checksum,
    ChecksumError,
    ChecksumFile,
    Hasher,
    find_checksum,
    local_path,
    parse_checksum,
)
from builder.errors import BuildCancelled, BuildError
from builder.ledger import LOCAL

if TYPE_CHECKING:
    import http.client

    from builder.ledger import BuildLedger, Resource
    from builder.multistep import CancelToken

DEFAULT_CACHE_DIR = "packer_cache"
CHUNK = 1 << 20
RESUMES = 5  # resumed attempts per URL after a cut, while each one brings data
MAX_CHECKSUM_FILE = 16 << 20


class DownloadUi(Protocol):
    """The part of the Ui a download talks through."""

    def say(self, text: str) -> None: ...
    def message(self, text: str) -> None: ...
    def progress(self, name: str, done: int, total: int) -> None: ...


class DownloadError(BuildError):
    """No URL gave a verified file; `failures` lists (url, reason) for every URL tried."""

    def __init__(self, description: str, failures: Sequence[tuple[str, str]]):
        self.failures = list(failures)
        lines = "".join(f"\n  * {url}: {_indent(reason)}" for url, reason in self.failures)
        super().__init__(f"error downloading {description}:{lines}")


class Failed(Exception):
    """One URL failed (the reason is the message); the next URL is tried."""


class _Mismatch(Failed):
    """The file is not the one the checksum names."""


class _Cut(Failed):
    """The transfer broke off after `Failed` data arrived: resume it."""


def cache_dir() -> str:
    """`$PACKER_CACHE_DIR`, else `packer_cache`, made absolute against the working directory."""
    return os.path.abspath(os.environ.get("PACKER_CACHE_DIR") or DEFAULT_CACHE_DIR)


def cache_target(
    url: str, checksum: Checksum | None, *, target_path: str = "", extension: str = "iso"
) -> str:
    """Where Packer 1.6.6 puts the download of `url` (its UseSourceToFindCacheTarget)."""
    key = str(checksum) if checksum is not None else url
    name = hashlib.sha1(key.encode()).hexdigest()
    if not target_path:
        return os.path.join(cache_dir(), f"{name}.{extension}" if extension else name)
    if _go_ext(target_path):
        return os.path.abspath(target_path)
    # a path without an extension is a directory to put the named file in
    return os.path.abspath(os.path.join(target_path, f"{name}.{extension or 'iso'}"))


def is_local(url: str) -> bool:
    """A file:// URL or a plain path (no scheme, or a drive letter)."""
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    return scheme == "file" or len(scheme) <= 1


def download(
    urls: Sequence[str],
    checksum: str,
    *,
    target_path: str = "",
    extension: str = "iso",
    skip_cache: bool = False,
    ui: DownloadUi,
    cancel: CancelToken,
    resources: BuildLedger,
    description: str = "ISO",
) -> str:
    """Fetch the first URL that gives a file matching `checksum`; return its local path.

    `checksum` is an `iso_checksum` value. With `skip_cache` nothing is downloaded: the
    first http(s) URL whose server serves byte ranges is returned (qemu reads it), or a
    local file's path. Raises DownloadError listing each URL's failure, BuildCancelled.
    """
    if skip_cache:
        return _skip_cache(urls, ui, cancel, description)
    ui.say(f"Retrieving {description}")
    spec = _parse(checksum)
    digest = resolve_checksum(spec, urls[0], cancel, checksum) if urls else None
    failures: list[tuple[str, str]] = []
    by_target = itertools.groupby(
        urls,
        key=lambda u: (
            ""
            if is_local(u)
            else cache_target(u, digest, target_path=target_path, extension=extension)
        ),
    )
    for target, group in by_target:
        cancel.check()
        if not target:
            for url in group:
                found = _try_local(url, digest, ui, cancel, failures)
                if found:
                    return found
            continue
        with _target_lock(target, ui, cancel, resources):
            found = _fetch_group(list(group), target, digest, ui, cancel, resources, failures)
        if found:
            return found
    raise DownloadError(description, failures)


def _parse(text: str) -> Checksum | ChecksumFile | None:
    try:
        return parse_checksum(text)
    except ChecksumError as exc:
        raise BuildError(f"iso_checksum: {exc}") from exc


def resolve_checksum(
    spec: Checksum | ChecksumFile | None, iso_url: str, cancel: CancelToken, raw: str = ""
) -> Checksum | None:
    """The digest to verify against; a `file:` checksum is fetched and searched for `iso_url`."""
    if not isinstance(spec, ChecksumFile):
        return spec
    try:
        text = _read_small(spec.url, cancel)
    except Failed as exc:
        raise BuildError(f'Error downloading checksum file: {exc} in "{raw}"') from exc
    try:
        return find_checksum(text, iso_url, spec.url)
    except ValueError as exc:
        raise BuildError(f'{exc} in "{raw}"') from exc


def _read_small(url: str, cancel: CancelToken) -> str:
    if is_local(url):
        try:
            with open(local_path(url), "rb") as f:
                return f.read(MAX_CHECKSUM_FILE).decode("utf-8", "replace")
        except OSError as exc:
            raise Failed(_os_reason(exc)) from exc
    with open_url(url, "GET", {}, cancel) as resp:
        if resp.status != 200:
            raise Failed(f"bad response code: {resp.status}")
        return resp.read_all(MAX_CHECKSUM_FILE).decode("utf-8", "replace")


# ------------------------------------------------------------------------- local files
def _try_local(
    url: str,
    digest: Checksum | None,
    ui: DownloadUi,
    cancel: CancelToken,
    failures: list[tuple[str, str]],
) -> str:
    shown = redacted(url)
    ui.say(f"Trying {shown}")
    ui.say(f"Trying {_with_checksum(shown, digest)}")
    path = os.path.abspath(local_path(url))
    try:
        if not os.path.exists(path):
            raise Failed(f"source path error: {path}: no such file")
        if os.path.isdir(path):
            raise Failed("source path must be a file")
        if digest is not None:
            _verify_existing(path, digest, ui, cancel, check_only=False)
    except _Mismatch as exc:
        ui.say(f"Checksum did not match for {path}")  # the user's file: never removed
        failures.append((shown, str(exc)))
        return ""
    except Failed as exc:
        ui.say(f"Download failed {exc}")
        failures.append((shown, str(exc)))
        return ""
    ui.say(f"{_with_checksum(shown, digest)} => {path}")
    return path


# ------------------------------------------------------------------------- the cache
_VERIFIED: dict[str, tuple[str, int, int, int]] = {}  # target -> (checksum, ino, size, mtime)
_LOCKS: dict[str, threading.Lock] = {}
_GUARD = threading.Lock()


def _fetch_group(
    urls: list[str],
    target: str,
    digest: Checksum | None,
    ui: DownloadUi,
    cancel: CancelToken,
    resources: BuildLedger,
    failures: list[tuple[str, str]],
) -> str:
    """Under the target's lock: use the cached file, else fetch from each URL in turn."""
    part = _Part(target, digest, resources)
    try:
        for index, url in enumerate(urls):
            shown = redacted(url)
            ui.say(f"Trying {shown}")
            ui.say(f"Trying {_with_checksum(shown, digest)}")
            if index == 0 and _cached(target, digest, ui, cancel):
                ui.say(f"{_with_checksum(shown, digest)} => {target}")
                return target
            try:
                _fetch_url(url, part, ui, cancel)
                part.finish(target, digest, ui)
            except Failed as exc:
                failures.append((shown, str(exc)))
                continue
            _remember(target, digest)
            ui.say(f"{_with_checksum(shown, digest)} => {target}")
            return target
        return ""
    finally:
        part.discard()


def _cached(target: str, digest: Checksum | None, ui: DownloadUi, cancel: CancelToken) -> bool:
    """True when `target` exists and verifies (with `none`: exists)."""
    try:
        st = os.stat(target)
    except FileNotFoundError:
        return False
    if digest is None:
        return True
    with _GUARD:
        known = _VERIFIED.get(target)
    if known == (str(digest), st.st_ino, st.st_size, st.st_mtime_ns):
        return True
    try:
        _verify_existing(target, digest, ui, cancel, check_only=True)
    except Failed:
        return False
    _remember(target, digest)
    return True


def _remember(target: str, digest: Checksum | None) -> None:
    if digest is None:
        return
    st = os.stat(target)
    with _GUARD:
        _VERIFIED[target] = (str(digest), st.st_ino, st.st_size, st.st_mtime_ns)


def _verify_existing(
    path: str, digest: Checksum, ui: DownloadUi, cancel: CancelToken, *, check_only: bool
) -> None:
    """Hash a file on disk; Failed with the mismatch (unless only checking a cache file)."""
    hasher = digest.hasher()
    progress = _Progress(ui, os.path.basename(path), os.path.getsize(path))
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    done = 0
    try:
        with open(path, "rb", buffering=0) as f:
            while n := f.readinto(buf):
                if cancel.cancelled:
                    raise BuildCancelled()
                hasher.update(view[:n])
                done += n
                progress(done)
    except OSError as exc:
        raise Failed(f"cannot read {path}: {_os_reason(exc)}") from exc
    actual = hasher.hexdigest()
    if actual != digest.value:
        raise _Mismatch("" if check_only else mismatch(path, digest, actual))


def mismatch(path: str, digest: Checksum, actual: str) -> str:
    """Packer's words, with the type on both lines."""
    return f"Checksums did not match for {path}.\nExpected: {digest}\nGot: {digest.type}:{actual}"


@contextmanager
def _target_lock(
    target: str, ui: DownloadUi, cancel: CancelToken, resources: BuildLedger
) -> Iterator[None]:
    """Hold `target` against other builds: in this process, then `flock` on `<target>.lock`."""
    with _GUARD:
        lock = _LOCKS.setdefault(target, threading.Lock())
    told = False
    while not lock.acquire(timeout=0.2):
        if not told:
            ui.message(f"Waiting for another build to finish downloading {target}")
            told = True
        cancel.check()
    try:
        _ensure_dir(os.path.dirname(target), resources)
        fd = _open_lock_file(target + ".lock", resources)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if not told:
                        ui.message(f"Waiting for another process to finish downloading {target}")
                        told = True
                    if cancel.wait(0.2):
                        raise BuildCancelled() from None
            yield
        finally:
            os.close(fd)  # releases the flock
    finally:
        lock.release()


def _cache_owned(resources: BuildLedger, kind: str, path: str) -> None:
    """Record something the cache keeps, as kept before it exists: no cleanup removes it."""
    resources.creating(LOCAL, kind, name=path).kept()


def _ensure_dir(path: str, resources: BuildLedger) -> None:
    """Make the cache directory (the cache's, like everything in it but `.part` files)."""
    if os.path.isdir(path):
        return
    _cache_owned(resources, "dir", path)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise BuildError(f"cannot create the cache directory {path}: {_os_reason(exc)}") from exc


def _open_lock_file(path: str, resources: BuildLedger) -> int:
    """Open (making it when missing) `<target>.lock`, the lock file Packer also takes."""
    try:
        if not os.path.exists(path):
            _cache_owned(resources, "file", path)
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise BuildError(f"cannot open the lock file {path}: {_os_reason(exc)}") from exc


# ------------------------------------------------------------------------- the .part file
class _Part:
    """`<target>.part`: recorded before it exists, hashed as it grows, renamed or removed."""

    def __init__(self, target: str, digest: Checksum | None, resources: BuildLedger):
        self.path, self.digest, self.resources = target + ".part", digest, resources
        self.file: _File | None = None
        self.res: Resource | None = None
        self.hasher: Hasher | None = None
        self.size = 0
        self.mixed = False  # holds bytes of an earlier run or another URL

    def open(self, cancel: CancelToken) -> None:
        """Open (creating or taking over) the part file and hash what it already holds."""
        if self.file is not None:
            return
        self.res = self.resources.creating(LOCAL, "file", name=self.path)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            self.res.released()
            raise Failed(f"cannot create {self.path}: {_os_reason(exc)}") from exc
        self.file = _File(fd, self.path)
        self.res.created(self.path)
        self.hasher = self.digest.hasher() if self.digest is not None else None
        self.size = self.file.hash_existing(self.hasher, cancel)
        self.mixed = self.size > 0

    def restart(self) -> None:
        """Throw away what it holds (the server ignored the range, or it did not verify)."""
        assert self.file is not None
        self.file.truncate()
        self.size, self.mixed = 0, False
        self.hasher = self.digest.hasher() if self.digest is not None else None

    def write(self, data: memoryview) -> None:
        assert self.file is not None
        self.file.write(data)
        if self.hasher is not None:
            self.hasher.update(data)
        self.size += len(data)

    def finish(self, target: str, digest: Checksum | None, ui: DownloadUi) -> None:
        """Verify and rename to `target`: the cache's from now on. Failed on a mismatch."""
        assert self.file is not None and self.res is not None
        if self.hasher is not None and digest is not None:
            actual = self.hasher.hexdigest()
            if actual != digest.value:
                ui.say(f"Checksum did not match, removing {target}")
                self.discard()
                raise _Mismatch(mismatch(target, digest, actual))
        if self.file.unlinked():
            self.discard()
            raise Failed(f"{self.path} was removed while downloading (by pybuild cleanup?)")
        self.file.close()
        self.file = None
        _cache_owned(self.resources, "file", target)
        try:
            os.replace(self.path, target)
        except OSError as exc:
            raise BuildError(f"cannot rename {self.path}: {_os_reason(exc)}") from exc
        self.res.released()

    def discard(self) -> None:
        """Close and remove the part file if this download still has it; safe twice."""
        if self.file is not None:
            self.file.close()
            self.file = None
        if self.res is not None and self.res.state != "released":
            try:
                os.remove(self.path)
            except FileNotFoundError:
                pass
            self.res.released()
        self.size = 0


class _File:
    """The part file's descriptor; a failing disk is a BuildError naming the file."""

    def __init__(self, fd: int, path: str):
        self.fd, self.path = fd, path

    def hash_existing(self, hasher: Hasher | None, cancel: CancelToken) -> int:
        size = 0
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        with self._io("read"):
            os.lseek(self.fd, 0, os.SEEK_SET)
            while n := os.readv(self.fd, [buf]):
                if cancel.cancelled:
                    raise BuildCancelled()
                if hasher is not None:
                    hasher.update(view[:n])
                size += n
        return size

    def truncate(self) -> None:
        with self._io("truncate"):
            os.ftruncate(self.fd, 0)
            os.lseek(self.fd, 0, os.SEEK_SET)

    def write(self, data: memoryview) -> None:
        with self._io("write"):
            while data:
                data = data[os.write(self.fd, data) :]

    def unlinked(self) -> bool:
        return os.fstat(self.fd).st_nlink == 0

    def close(self) -> None:
        os.close(self.fd)

    @contextmanager
    def _io(self, what: str) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            raise BuildError(f"cannot {what} {self.path}: {_os_reason(exc)}") from exc


# ------------------------------------------------------------------------- HTTP
def _fetch_url(url: str, part: _Part, ui: DownloadUi, cancel: CancelToken) -> None:
    """Fill `part` from `url`, resuming after cuts; Failed when this URL cannot finish it."""
    if part.file is not None and part.size:
        part.mixed = True  # resuming what another URL began
    part.open(cancel)
    resumes = 0
    while True:
        before = part.size
        try:
            _transfer(url, part, ui, cancel)
        except _Cut as exc:
            if part.size == before or resumes >= RESUMES:
                ui.say(f"Download failed {exc}")
                raise Failed(str(exc)) from None
            resumes += 1
            ui.say(f"Download interrupted at {part.size} bytes ({exc}); resuming")
            continue
        except Failed as exc:
            ui.say(f"Download failed {exc}")
            raise
        if part.mixed and not _matches(part):
            ui.say("The resumed download did not verify; downloading it again from the start")
            part.restart()
            continue
        return


def _matches(part: _Part) -> bool:
    if part.hasher is None or part.digest is None:
        return True
    # hexdigest() of a hashlib object does not end it; the part can still grow
    return part.hasher.hexdigest() == part.digest.value


def _transfer(url: str, part: _Part, ui: DownloadUi, cancel: CancelToken) -> None:
    """One request: append to `part` from where it stops. _Cut when it breaks off."""
    offset = part.size
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    with open_url(url, "GET", headers, cancel) as resp:
        total = _start(resp, part, offset)
        if total == part.size:
            return
        name = os.path.basename(urllib.parse.urlsplit(url).path) or redacted(url)
        progress = _Progress(ui, name, total)
        progress(part.size)
        try:
            _copy(resp, part, progress, cancel)
        except _Cut as exc:
            raise _Cut(f"{exc} after {part.size} of {total} bytes") from None
        if total >= 0 and part.size < total:
            raise _Cut(f"connection closed after {part.size} of {total} bytes")
        progress.end(part.size)


def _start(resp: Response, part: _Part, offset: int) -> int:
    """Check the response against the range asked for; the file's full size or -1."""
    length = resp.length
    if resp.status == 206:
        start, size = resp.content_range()
        if start != offset:
            raise Failed(f"the server resumed at byte {start}, not {offset}")
        return size if size >= 0 else (offset + length if length >= 0 else -1)
    if resp.status == 416 and offset:
        _, size = resp.content_range()
        if size == offset:
            return size  # the part is already whole
        part.restart()
        raise _Cut(f"the server refused to resume at byte {offset}")
    if resp.status == 200:
        if offset:
            part.restart()  # the server ignored the range: start over
        return length
    raise Failed(f"bad response code: {resp.status}")


def _copy(resp: Response, part: _Part, progress: _Progress, cancel: CancelToken) -> None:
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    first = True
    while True:
        try:
            n = resp.readinto(buf)
        except _Cut:
            if cancel.cancelled:
                raise BuildCancelled() from None
            raise
        if cancel.cancelled:
            raise BuildCancelled()
        if not n:
            return
        part.write(view[:n])
        if first:
            faults.point("download:part")
            first = False
        progress(part.size)


class _Progress:
    """`ui.progress` events, a few hundred per transfer at most."""

    def __init__(self, ui: DownloadUi, name: str, total: int):
        self.ui, self.name, self.total = ui, name, total
        self.step = max(CHUNK, total // 200) if total > 0 else 8 * CHUNK
        self.last = -self.step

    def __call__(self, done: int) -> None:
        if done - self.last >= self.step or done == self.total:
            self.last = done
            self.ui.progress(self.name, done, self.total if self.total > 0 else 0)

    def end(self, done: int) -> None:
        if self.last != done:
            self.last = done
            self.ui.progress(self.name, done, self.total if self.total > 0 else done)


# ------------------------------------------------------------------------- iso_skip_cache
def _skip_cache(urls: Sequence[str], ui: DownloadUi, cancel: CancelToken, description: str) -> str:
    """qemu's iso_skip_cache: a URL it can read with byte ranges, or a local file."""
    failures: list[tuple[str, str]] = []
    for url in urls:
        cancel.check()
        shown = redacted(url)
        if is_local(url):
            path = os.path.abspath(local_path(url))
            if os.path.isfile(path):
                ui.message(f"Using {description} {path} in place (iso_skip_cache)")
                return path
            failures.append((shown, f"source path error: {path}: no such file"))
            continue
        try:
            with open_url(url, "HEAD", {}, cancel) as resp:
                ranges = resp.header("Accept-Ranges")
                if not 200 <= resp.status < 300:
                    raise Failed(f"bad response code: {resp.status}")
        except Failed as exc:
            failures.append((shown, str(exc)))
            continue
        if ranges == "bytes":
            ui.message(f"Using {description} at {shown} without caching it (iso_skip_cache)")
            return url
        failures.append((shown, "the server does not send Accept-Ranges: bytes"))
    err = DownloadError(description, failures)
    raise BuildError(
        "No byte serving support. The HTTP server must support Accept-Ranges=bytes"
        + str(err).removeprefix(f"error downloading {description}:")
    )


# ------------------------------------------------------------------------- helpers
def redacted(url: str) -> str:
    """The URL with its password replaced, as Go's URL.Redacted() does."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{parts.username}:xxxxx@{host}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def basic_auth(url: str) -> str:
    """The Authorization header for a URL's user:password, or ''."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None:
        return ""
    pair = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def _with_checksum(url: str, digest: Checksum | None) -> str:
    """The URL as Packer shows it once the checksum is added to its query."""
    if digest is None:
        return url
    value = urllib.parse.quote(str(digest), safe="")
    return f"{url}{'&' if '?' in url else '?'}checksum={value}"


def _go_ext(path: str) -> str:
    """Go's filepath.Ext: from the last dot of the last element, or ''."""
    base = path.rsplit("/", 1)[-1]
    dot = base.rfind(".")
    return base[dot:] if dot >= 0 else ""


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        name = f"{exc.filename}: " if exc.filename else ""
        return f"{name}{exc.strerror[0].lower()}{exc.strerror[1:]}"
    return str(exc) or type(exc).__name__


def _indent(text: str) -> str:
    return text.replace("\n", "\n    ")


# ------------------------------------------------------------------------- HTTP client
TIMEOUT = 60.0  # seconds without a byte (connect, headers, body) before a URL has failed
REDIRECTS = 10
USER_AGENT = "pybuild (Packer 1.6.6 compatible)"


class Response:
    """An HTTP response being read; the connection is shut down if the run is cancelled."""

    def __init__(self, conn: http.client.HTTPConnection, resp: http.client.HTTPResponse):
        self.conn, self.resp = conn, resp
        self.status = resp.status
        length = resp.getheader("Content-Length")
        self.length = int(length) if length and length.isdigit() else -1

    def header(self, name: str) -> str:
        return self.resp.getheader(name) or ""

    def content_range(self) -> tuple[int, int]:
        """(first byte, full size) of `Content-Range: bytes a-b/n` or `bytes */n`; -1 unknown."""
        unit, _, spec = self.header("Content-Range").partition(" ")
        span, _, size = spec.partition("/")
        first = span.split("-", 1)[0]
        if unit.lower() != "bytes":
            return -1, -1
        return (int(first) if first.isdigit() else -1), (int(size) if size.isdigit() else -1)

    def readinto(self, buf: bytearray) -> int:
        """Read body bytes (0 at the end); _Cut when the connection breaks off."""
        import http.client

        try:
            return self.resp.readinto(buf)
        except http.client.IncompleteRead:
            raise _Cut("connection closed") from None
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise _Cut(_os_reason(exc)) from exc

    def read_all(self, limit: int) -> bytes:
        return self.resp.read(limit)


@contextmanager
def open_url(
    url: str, method: str, headers: dict[str, str], cancel: CancelToken
) -> Iterator[Response]:
    """A response to `method url` after redirects; Failed for what stops this URL."""
    import http.client

    for _ in range(REDIRECTS + 1):
        cancel.check()
        conn, target = _connection(url)
        sent = {"User-Agent": USER_AGENT, **headers}
        if auth := basic_auth(url):
            sent["Authorization"] = auth
        watch = _Watch(cancel, conn)
        try:
            try:
                conn.request(method, target, headers=sent)
                resp = conn.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                if cancel.cancelled:
                    raise BuildCancelled() from None
                raise Failed(_net_reason(exc, conn)) from exc
            location = resp.getheader("Location")
            if resp.status in (301, 302, 303, 307, 308) and location:
                url = urllib.parse.urljoin(url, location)
                method = "GET" if resp.status == 303 else method
                continue
            yield Response(conn, resp)
            return
        finally:
            watch.stop()
            conn.close()
    raise Failed(f"more than {REDIRECTS} redirects")


def _connection(url: str) -> tuple[http.client.HTTPConnection, str]:
    """A connection for `url` (through the environment's proxy unless it is loopback)."""
    import http.client
    import ssl

    parts = urllib.parse.urlsplit(url)
    secure = parts.scheme.lower() == "https"
    host = parts.hostname or ""
    port = parts.port or (443 if secure else 80)
    target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
    proxy = _proxy(parts.scheme.lower(), host)
    if proxy is None:
        if secure:
            ctx = ssl.create_default_context()
            return http.client.HTTPSConnection(host, port, timeout=TIMEOUT, context=ctx), target
        return http.client.HTTPConnection(host, port, timeout=TIMEOUT), target
    p = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    tunnel_headers = {"Proxy-Authorization": a} if (a := basic_auth(proxy)) else {}
    if secure:
        ctx = ssl.create_default_context()
        conn = http.client.HTTPSConnection(
            p.hostname or "", p.port or 80, timeout=TIMEOUT, context=ctx
        )
        conn.set_tunnel(host, port, headers=tunnel_headers)
        return conn, target
    plain = http.client.HTTPConnection(p.hostname or "", p.port or 80, timeout=TIMEOUT)
    absolute = urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    return plain, absolute


def _proxy(scheme: str, host: str) -> str | None:
    """HTTP(S)_PROXY from the environment, never for loopback (as Go's net/http)."""
    import ipaddress
    import urllib.request

    if host == "localhost" or host.endswith(".localhost"):
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass
    proxy = urllib.request.getproxies_environment().get(scheme)
    if not proxy or urllib.request.proxy_bypass(host):
        return None
    return proxy


class _Watch:
    """Shuts the connection down when the run is cancelled, so a blocked read returns."""

    def __init__(self, cancel: CancelToken, conn: http.client.HTTPConnection):
        self._cancel, self._conn = cancel, conn
        self._done = threading.Event()
        threading.Thread(target=self._run, name="download-cancel", daemon=True).start()

    def _run(self) -> None:
        while not self._done.is_set():
            if self._cancel.wait(0.25):
                sock = self._conn.sock
                if sock is not None and not self._done.is_set():
                    import socket

                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                return

    def stop(self) -> None:
        self._done.set()


def _net_reason(exc: BaseException, conn: http.client.HTTPConnection) -> str:
    """What went wrong reaching a server, in a sentence."""
    import socket
    import ssl

    where = f"{conn.host}:{conn.port}"
    if isinstance(exc, ConnectionRefusedError):
        return f"cannot connect to {where}: connection refused"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve {conn.host}: {exc.strerror}"
    if isinstance(exc, TimeoutError):
        return f"no answer from {where} in {TIMEOUT:g} seconds"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error with {where}: {exc.reason or exc}"
    return f"{where}: {_os_reason(exc)}"
