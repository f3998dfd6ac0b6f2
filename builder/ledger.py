"""The run's durable resource ledger: what a build made outside the process, and its fate.

Each run appends JSON lines to its own file, `$PYBUILD_STATE_DIR/<run id>.jsonl` (default
`$XDG_STATE_HOME/pybuild/runs/`), flushed to disk record by record. A step records a
resource *before* the create call (the name or client token it will have), its id after,
and its release in cleanup; a finished artifact is recorded as kept. The run holds an
exclusive `flock` on its file for as long as it lives, so the kernel tells `pybuild
cleanup` which runs are dead, even after SIGKILL. A run that ends with nothing left
deletes its file.

No secret goes into a record: settings are written without their secret fields, and the
values a step passes are its resources' names and ids.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from builder import faults

RUN_TAG = "pybuild:run-id"  # the tag (or metadata key) that carries the run id
SUFFIX = ".jsonl"
LOCAL = "local"  # the platform of files and directories on this machine


def state_dir() -> Path:
    """`$PYBUILD_STATE_DIR`, else `$XDG_STATE_HOME/pybuild/runs`, else ~/.local/state/…."""
    explicit = os.environ.get("PYBUILD_STATE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    return Path(base) / "pybuild" / "runs"


class _Writer:
    """Appends whole records to one file: a lock between threads, O_APPEND between processes."""

    def __init__(self, fd: int | None):
        self.fd = fd
        self._lock = threading.Lock()

    def append(self, record: Mapping[str, Any]) -> None:
        if self.fd is None:
            return
        line = (json.dumps(record, separators=(",", ":"), sort_keys=True) + "\n").encode()
        with self._lock:
            os.write(self.fd, line)
            os.fdatasync(self.fd)


class Resource:
    """One thing a build makes: recorded before it exists, then its id, then its release."""

    def __init__(self, ledger: BuildLedger, rid: str, platform: str, kind: str, name: str):
        self._ledger, self.rid = ledger, rid
        self.platform, self.kind, self.name = platform, kind, name
        self.id = ""
        self.state = "creating"

    @property
    def ref(self) -> str:
        """`platform.kind`: the name `pybuild cleanup` knows the removal by."""
        return f"{self.platform}.{self.kind}"

    def created(self, id: str = "", **attrs: str) -> None:
        """The create call returned `id` (and facts cleanup needs, like a region)."""
        faults.point(f"created:{self.ref}")
        self.id = id or self.name
        self.state = "created"
        self._ledger._record("created", self, id=self.id, attrs=attrs)

    def released(self) -> None:
        """Cleanup removed it (or found it gone); safe to call twice."""
        if self.state in ("released", "kept"):
            return
        self.state = "released"
        self._ledger._record("released", self)

    def kept(self) -> None:
        """It is a finished artifact: cleanup leaves it alone."""
        if self.state in ("released", "kept"):
            return
        self.state = "kept"
        self._ledger._record("kept", self)

    def __repr__(self) -> str:
        return f"<Resource {self.ref} {self.id or self.name!r} {self.state}>"


class BuildLedger:
    """One build's view of the run's ledger (`ctx.resources` in steps)."""

    def __init__(self, run: Ledger, build: str):
        self.run, self.build = run, build
        self._resources: list[Resource] = []

    @property
    def run_id(self) -> str:
        return self.run.run_id

    def tags(self) -> dict[str, str]:
        """Tags a temporary resource carries where the platform has tags."""
        return {RUN_TAG: self.run.run_id}

    def platform(self, platform: str, settings: Mapping[str, Any]) -> None:
        """How cleanup reaches `platform` for this build (settings without secrets)."""
        record = {"rec": "platform", "build": self.build, "platform": platform}
        self.run._write({**record, "settings": dict(settings)})

    def creating(self, platform: str, kind: str, name: str = "", **attrs: str) -> Resource:
        """Record a resource about to be made; call before the create call."""
        rid = f"{self.build}#{self.run.next_id()}"
        res = Resource(self, rid, platform, kind, name)
        self._resources.append(res)
        self._record("create", res, name=name, attrs=attrs)
        return res

    def outstanding(self) -> list[Resource]:
        """Resources neither released nor kept, newest first."""
        return [r for r in reversed(self._resources) if r.state in ("creating", "created")]

    def _record(self, rec: str, res: Resource, **fields: Any) -> None:
        body: dict[str, Any] = {
            "rec": rec,
            "rid": res.rid,
            "build": self.build,
            "platform": res.platform,
            "kind": res.kind,
        }
        body.update({k: v for k, v in fields.items() if v not in ("", None, {})})
        self.run._write(body)
        for observer in self.run.observers:
            observer(rec, self.build, res)


class Ledger:
    """The ledger of one run: memory only until `start()`, then a locked file."""

    def __init__(self, run_id: str, path: Path | None = None, fd: int | None = None):
        self.run_id, self.path = run_id, path
        self._writer = _Writer(fd)
        self._counter = itertools.count(1)
        self._builds: dict[str, BuildLedger] = {}
        self._lock = threading.Lock()
        self._pending: tuple[Path, str | None] | None = None  # start()ed, no record yet
        # (record, build, resource) for each record: the engine's resource events
        self.observers: list[Callable[[str, str, Resource], None]] = []

    @classmethod
    def memory(cls, run_id: str = "") -> Ledger:
        """A ledger that writes nothing until `start()` (validate, library, unit tests)."""
        return cls(run_id, None, None)

    @property
    def durable(self) -> bool:
        return self._writer.fd is not None or self._pending is not None

    def start(self, *, directory: Path | None = None, template: str | None = None) -> None:
        """Make the ledger durable: its file is created (and locked) with the first record.

        A run that creates nothing writes nothing, not even the state directory.
        """
        self._pending = (directory or state_dir(), template)

    def _open(self) -> None:
        assert self._pending is not None
        directory, template = self._pending
        self._pending = None
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = directory / f"{self.run_id}{SUFFIX}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        self.path, self._writer.fd = path, fd
        self._writer.append(
            {
                "rec": "run",
                "run": self.run_id,
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "template": os.path.abspath(template) if template else "",
                "time": round(time.time(), 3),
            }
        )

    def next_id(self) -> int:
        with self._lock:
            return next(self._counter)

    def build(self, name: str) -> BuildLedger:
        with self._lock:
            if name not in self._builds:
                self._builds[name] = BuildLedger(self, name)
            return self._builds[name]

    def outstanding(self) -> list[Resource]:
        with self._lock:
            builds = list(self._builds.values())
        return [r for b in builds for r in b.outstanding()]

    def _write(self, record: dict[str, Any]) -> None:
        record.setdefault("time", round(time.time(), 3))
        with self._lock:
            if self._pending is not None:
                self._open()
        self._writer.append(record)

    def close(self) -> None:
        """End the run: delete the file when nothing is left, then release the lock."""
        self._pending = None
        fd, self._writer.fd = self._writer.fd, None
        if fd is None:
            return
        try:
            if self.path is not None and not self.outstanding():
                self.path.unlink(missing_ok=True)
        finally:
            os.close(fd)


# ----------------------------------------------------------------------------- reading
@dataclass
class LeftResource:
    """A resource as the ledger file tells it: what it is, and whether it is still there."""

    run_id: str
    rid: str
    build: str
    platform: str
    kind: str
    name: str = ""
    id: str = ""
    attrs: dict[str, str] = field(default_factory=dict)
    state: str = "creating"  # creating | created | released | kept

    @property
    def ref(self) -> str:
        return f"{self.platform}.{self.kind}"

    @property
    def label(self) -> str:
        """How a line of `pybuild cleanup` names it."""
        what = self.id or self.name or "?"
        if self.state == "creating":
            what += " (create call not confirmed)"
        return what

    @property
    def outstanding(self) -> bool:
        return self.state in ("creating", "created")


@dataclass
class RunRecord:
    """A run's ledger file read back."""

    run_id: str
    path: Path
    pid: int = 0
    host: str = ""
    template: str = ""
    started: float = 0.0
    settings: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    resources: list[LeftResource] = field(default_factory=list)

    def outstanding(self) -> list[LeftResource]:
        """What is left, newest first (the order to remove it in)."""
        return [r for r in reversed(self.resources) if r.outstanding]


def read_run(path: Path) -> RunRecord:
    """Parse a ledger file; a torn last line (a kill mid-write) is ignored."""
    run = RunRecord(path.name.removesuffix(SUFFIX), path)
    by_rid: dict[str, LeftResource] = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            _apply(run, by_rid, rec)
    return run


def _apply(run: RunRecord, by_rid: dict[str, LeftResource], rec: dict[str, Any]) -> None:
    kind = rec.get("rec")
    if kind == "run":
        run.pid, run.host = int(rec.get("pid", 0)), str(rec.get("host", ""))
        run.template, run.started = str(rec.get("template", "")), float(rec.get("time", 0))
    elif kind == "platform":
        run.settings[(str(rec["build"]), str(rec["platform"]))] = dict(rec.get("settings", {}))
    elif kind == "create":
        res = LeftResource(
            run.run_id,
            str(rec["rid"]),
            str(rec["build"]),
            str(rec["platform"]),
            str(rec["kind"]),
            name=str(rec.get("name", "")),
            attrs=dict(rec.get("attrs", {})),
        )
        by_rid[res.rid] = res
        run.resources.append(res)
    elif kind in ("created", "released", "kept") and rec.get("rid") in by_rid:
        res = by_rid[rec["rid"]]
        res.state = kind
        if kind == "created":
            res.id = str(rec.get("id", "")) or res.name
            res.attrs.update(rec.get("attrs", {}))


def mark_released(path: Path, res: LeftResource) -> None:
    """Append a release record to a dead run's file (cleanup holds its lock)."""
    record = {
        "rec": "released",
        "rid": res.rid,
        "build": res.build,
        "platform": res.platform,
        "kind": res.kind,
        "by": "cleanup",
        "time": round(time.time(), 3),
    }
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
    try:
        _Writer(fd).append(record)
    finally:
        os.close(fd)


def run_files(directory: Path | None = None) -> list[Path]:
    """Every ledger file, oldest first."""
    directory = directory or state_dir()
    try:
        files = [p for p in directory.iterdir() if p.name.endswith(SUFFIX)]
    except FileNotFoundError:
        return []
    return sorted(files, key=lambda p: (p.stat().st_mtime, p.name))


class RunLock:
    """Hold a dead run's file while cleaning it; `None` from `try_lock` means it is alive."""

    def __init__(self, fd: int):
        self.fd = fd

    @staticmethod
    def try_lock(path: Path) -> RunLock | None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return RunLock(fd)

    def release(self) -> None:
        os.close(self.fd)

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def is_live(path: Path) -> bool:
    """True while the process that writes `path` holds its lock."""
    lock = RunLock.try_lock(path)
    if lock is None:
        return path.exists()
    lock.release()
    return False


def dead_runs(directory: Path | None = None) -> Iterator[RunRecord]:
    """Runs whose process is gone and whose file still lists resources."""
    for path in run_files(directory):
        if is_live(path):
            continue
        try:
            run = read_run(path)
        except OSError:
            continue
        if run.outstanding():
            yield run
