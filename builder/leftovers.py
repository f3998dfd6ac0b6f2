"""`pybuild cleanup`: remove what dead runs left behind, from their ledgers and by tag.

A run is dead when no process holds the lock on its ledger file (see `builder.ledger`).
Each platform registers a `ResourceHandler` under the entry-point group
`pybuild.resources` (imported only when a ledger names that platform); it opens a
driver from the settings the build recorded, or from the same template's settings
(credentials included) when the caller passes the template, and removes each kind.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol

from builder.errors import PybuildError
from builder.ledger import (
    LOCAL,
    LeftResource,
    RunLock,
    is_live,
    mark_released,
    read_run,
    run_files,
)
from builder.logs import logger

GROUP = "pybuild.resources"


class Remover(Protocol):
    """Removes one platform's resources through an open driver."""

    def remove(self, res: LeftResource) -> bool:
        """Remove it; False when it was already gone. Raise to report a failure."""

    def sweep(self) -> Iterable[LeftResource]:
        """Resources that carry a run id tag (`ledger.RUN_TAG`), of any run."""


class ResourceHandler(Protocol):
    """How `pybuild cleanup` reaches a platform."""

    def open(
        self, recorded: Mapping[str, Any], full: Any | None
    ) -> AbstractContextManager[Remover]:
        """A remover from the recorded settings, or the template's own (`full`) when known."""


log = logger("pybuild.cleanup")


@dataclass(frozen=True)
class CleanupLine:
    """What cleanup did with one resource."""

    run_id: str
    build: str
    ref: str  # platform.kind
    what: str  # id or name
    outcome: str  # removed | gone | failed | would remove | in use
    reason: str = ""


@dataclass
class CleanupReport:
    lines: list[CleanupLine] = field(default_factory=list)
    runs: int = 0

    @property
    def ok(self) -> bool:
        return not any(line.outcome == "failed" for line in self.lines)


# --------------------------------------------------------------------------- handlers
class _LocalRemover:
    """Files and directories on this machine (temp dirs, partial downloads)."""

    def remove(self, res: LeftResource) -> bool:
        path = res.id or res.name
        if not os.path.lexists(path):
            return False
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)
        return True

    def sweep(self) -> Iterable[LeftResource]:
        return ()


class _LocalHandler:
    @contextmanager
    def open(self, recorded: Mapping[str, Any], full: Any | None) -> Iterator[Remover]:
        yield _LocalRemover()


_HANDLERS: dict[str, ResourceHandler] = {LOCAL: _LocalHandler()}
_HANDLERS_LOCK = threading.Lock()


def handler(platform: str) -> ResourceHandler:
    """The platform's handler, loaded from its entry point the first time."""
    with _HANDLERS_LOCK:
        if platform in _HANDLERS:
            return _HANDLERS[platform]
        found = [ep for ep in entry_points(group=GROUP) if ep.name == platform]
        if not found:
            raise PybuildError(f"no plugin installed knows how to remove {platform} resources")
        loaded: ResourceHandler = found[0].load()
        _HANDLERS[platform] = loaded
        return loaded


def platforms() -> list[str]:
    """Every platform with a registered handler (for -sweep)."""
    names = {ep.name for ep in entry_points(group=GROUP)} | set(_HANDLERS)
    return sorted(names)


@contextmanager
def override_handler(platform: str, replacement: ResourceHandler) -> Iterator[None]:
    """Use `replacement` for `platform` inside the block (tests)."""
    with _HANDLERS_LOCK:
        previous = _HANDLERS.get(platform)
        _HANDLERS[platform] = replacement
    try:
        yield
    finally:
        with _HANDLERS_LOCK:
            if previous is None:
                _HANDLERS.pop(platform, None)
            else:
                _HANDLERS[platform] = previous


# --------------------------------------------------------------------------- cleanup
FullSettings = Callable[[str, str], Any]  # (build, platform) -> settings with credentials


class _Removers:
    """Opens one remover per (settings, platform), lazily, closed at the end."""

    def __init__(self, stack: ExitStack, full: FullSettings | None):
        self._stack, self._full = stack, full
        self._open: dict[str, Remover] = {}

    def get(self, build: str, platform: str, recorded: Mapping[str, Any]) -> Remover:
        full = self._full(build, platform) if self._full else None
        key = f"{platform}|{sorted(recorded.items())!r}|{id(full) if full is not None else ''}"
        if key not in self._open:
            self._open[key] = self._stack.enter_context(handler(platform).open(recorded, full))
        return self._open[key]


def cleanup(
    run_ids: Sequence[str] = (),
    *,
    dry_run: bool = False,
    sweep: bool = False,
    state_dir: str | None = None,
    full_settings: FullSettings | None = None,
    sweep_platforms: Sequence[str] = (),
    on_line: Callable[[CleanupLine], None] | None = None,
) -> CleanupReport:
    """Remove what dead runs left: every run, or the runs named; never a live run's.

    `full_settings(build, platform)` gives a build's settings with credentials (from the
    same template and variables); without it, recorded settings and the environment.
    `sweep` also asks each platform for resources tagged with a run id: the platforms
    the ledgers name and `sweep_platforms` (a template's), else every registered one
    (then a platform that cannot be reached is skipped, not a failure).
    """
    directory = Path(state_dir) if state_dir else None
    report = CleanupReport()

    def emit(line: CleanupLine) -> None:
        report.lines.append(line)
        if on_line is not None:
            on_line(line)

    wanted = set(run_ids)
    files = run_files(directory)
    known = {p.name.removesuffix(".jsonl") for p in files}
    if not sweep:  # with -sweep a run without a ledger may still be found by its tags
        for run_id in sorted(wanted - known):
            emit(CleanupLine(run_id, "", "", "", "failed", "no ledger for this run id"))
    live_ids = set()
    with ExitStack() as stack:
        removers = _Removers(stack, full_settings)
        settings_seen: dict[str, list[Mapping[str, Any]]] = {}
        for path in files:
            run_id = path.name.removesuffix(".jsonl")
            if wanted and run_id not in wanted:
                continue
            lock = RunLock.try_lock(path)
            if lock is None:
                live_ids.add(run_id)
                if wanted:
                    emit(CleanupLine(run_id, "", "", "", "in use", "its run is still going"))
                continue
            with lock:
                run = read_run(path)
                for (_build, platform), recorded in run.settings.items():
                    settings_seen.setdefault(platform, []).append(recorded)
                left = run.outstanding()
                if not left:
                    if not dry_run:
                        path.unlink(missing_ok=True)
                    continue
                report.runs += 1
                failed = False
                for res in left:
                    recorded = run.settings.get((res.build, res.platform), {})
                    line = _remove_one(removers, res, recorded, dry_run)
                    failed = failed or line.outcome == "failed"
                    if line.outcome in ("removed", "gone") and not dry_run:
                        mark_released(path, res)
                    emit(line)
                if not failed and not dry_run:
                    path.unlink(missing_ok=True)
        if sweep:
            for name in sweep_platforms:
                settings_seen.setdefault(name, [])
            explicit = bool(settings_seen)
            if not explicit:
                settings_seen = {name: [] for name in platforms() if name != LOCAL}
            for line in _sweep(
                removers, settings_seen, live_ids, directory, dry_run, explicit, wanted
            ):
                emit(line)
    return report


def _remove_one(
    removers: _Removers, res: LeftResource, recorded: Mapping[str, Any], dry_run: bool
) -> CleanupLine:
    line = CleanupLine(res.run_id, res.build, res.ref, res.label, "would remove")
    if dry_run:
        return line
    try:
        remover = removers.get(res.build, res.platform, recorded)
        removed = remover.remove(res)
    except Exception as exc:  # noqa: BLE001 - reported per resource, the others go on
        return CleanupLine(res.run_id, res.build, res.ref, res.label, "failed", str(exc))
    return CleanupLine(res.run_id, res.build, res.ref, res.label, "removed" if removed else "gone")


def _sweep(
    removers: _Removers,
    settings_seen: dict[str, list[Mapping[str, Any]]],
    live_ids: set[str],
    directory: Path | None,
    dry_run: bool,
    explicit: bool,
    wanted: set[str],
) -> Iterator[CleanupLine]:
    """Tagged resources of runs that are not alive (and asked for, when runs are named)."""
    live = live_ids | {p.name.removesuffix(".jsonl") for p in run_files(directory) if is_live(p)}
    done: set[tuple[str, str]] = set()
    for platform, choices in sorted(settings_seen.items()):
        if platform == LOCAL:
            continue
        unique = {repr(sorted(s.items())): s for s in (choices or [{}])}
        for recorded in unique.values():
            try:
                remover = removers.get("", platform, recorded)
                found = list(remover.sweep())
            except Exception as exc:  # noqa: BLE001 - a platform out of reach is reported
                if not explicit:  # only guessed from the registry: not reachable, not used
                    log.debug("sweep of %s skipped: %s", platform, exc)
                    continue
                yield CleanupLine("", "", f"{platform}.*", "", "failed", f"sweep: {exc}")
                continue
            for res in found:
                key = (res.ref, res.id)
                if res.run_id in live or key in done or (wanted and res.run_id not in wanted):
                    continue
                done.add(key)
                yield _remove_one(removers, res, recorded, dry_run)
