"""The `manifest` post-processor: appends one JSON record per build to a manifest file.

`merge_manifests` (behind `pybuild manifest merge`) joins the manifests of a CI fan-out.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any, ClassVar

from pydantic import field_validator

from builder.artifact import Artifact
from builder.common.plan import Writes
from builder.components import PostProcessor
from builder.config import PluginConfig
from builder.errors import PostProcessorError, PybuildError
from builder.ui import Ui

DEFAULT_OUTPUT = "packer-manifest.json"
LOCK_TRIES = 3
LOCK_BACKOFF = 0.2  # seconds; try i waits i * LOCK_BACKOFF first, as Packer does

_GO_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}

_thread_locks: dict[str, threading.Lock] = {}
_thread_locks_guard = threading.Lock()


class GeneratedData(dict[str, Any]):
    """An artifact's generated data as Packer's run-time render sees it.

    Packer turns `{{build `Key`}}` into `{{.Key}}` when the template is prepared and
    renders that against the generated data later, so a key the builder did not provide
    reads `<no value>` instead of failing.
    """

    def __contains__(self, key: object) -> bool:
        return True

    def __missing__(self, key: str) -> str:
        return "<no value>"


def generated_data(artifact: Artifact) -> GeneratedData:
    """The artifact's `generated_data` state (empty when it has none)."""
    return GeneratedData(artifact.state("generated_data") or {})


class ManifestConfig(PluginConfig):
    """Options of the `manifest` post-processor."""

    deferred: ClassVar[frozenset[str]] = frozenset({"custom_data"})

    output: str = DEFAULT_OUTPUT
    strip_path: bool = False
    strip_time: bool = False
    custom_data: dict[str, str] | None = None

    @field_validator("output")
    @classmethod
    def _default_output(cls, value: str) -> str:
        return value or DEFAULT_OUTPUT


class ManifestPostProcessor(PostProcessor):
    """Records the artifact (files, id, run uuid) in a JSON manifest; keeps the artifact."""

    Config = ManifestConfig
    config: ManifestConfig
    keeps_input = (True, True)

    def plan_writes(self) -> list[Writes]:
        return [Writes(self.config.output, "the manifest (a -force run starts it anew)", "append")]

    def post_process(self, ui: Ui, artifact: Artifact) -> tuple[Artifact | None, bool, bool]:
        cfg = self.config
        generated = generated_data(artifact)
        custom: dict[str, str] | None = None
        if cfg.custom_data is not None:
            custom = {}
            for key, text in cfg.custom_data.items():
                try:
                    # secrets never reach a file: sensitive values are masked here too
                    custom[key] = self.options.redact(
                        self.options.render_text(text, data=dict(generated), build_data=generated)
                    )
                except (PybuildError, ValueError) as exc:
                    raise PostProcessorError(f"Error interpolating custom data: {exc}") from exc
        entry = self._entry(artifact, custom)
        parent = os.path.dirname(cfg.output)
        if parent:
            try:
                os.makedirs(parent, exist_ok=True)
            except OSError as exc:
                raise PostProcessorError(f"Unable to create directory {parent}: {exc}") from exc
        with _locked(cfg.output, self.options.cancel.wait):
            manifest = _read(cfg.output)
            if self.options.force and manifest["last_run_uuid"] != self.options.run_uuid:
                manifest = {"builds": [], "last_run_uuid": ""}
            manifest["builds"].append(entry)
            manifest["last_run_uuid"] = self.options.run_uuid
            _write(cfg.output, manifest)
        return artifact, True, True

    def _entry(self, artifact: Artifact, custom: dict[str, str] | None) -> dict[str, Any]:
        """One `builds[]` record, keys in Packer's order."""
        files: list[dict[str, Any]] | None = None
        if artifact.files:
            strip = self.config.strip_path
            files = [
                {"name": os.path.basename(n) if strip else n, "size": _size(n)}
                for n in artifact.files
            ]
        entry: dict[str, Any] = {
            "name": self.options.build_name,
            "builder_type": self.options.build_type,
        }
        if not self.config.strip_time:
            entry["build_time"] = int(time.time())
        entry.update(
            files=files,
            artifact_id=artifact.id,
            packer_run_uuid=self.options.run_uuid,
            custom_data=custom,
        )
        return entry


def _size(path: str) -> int:
    """The file's size, 0 when it cannot be stat'ed (as Packer records it)."""
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


@contextmanager
def _locked(path: str, wait: Callable[[float], bool]) -> Iterator[None]:
    """Hold `<path>.lock` (O_EXCL, 3 tries) and a per-process lock for the same file.

    Like Packer, a lock that cannot be taken after the tries is treated as stale: we go
    ahead and remove it when done.
    """
    key = os.path.abspath(path)
    with _thread_locks_guard:
        tlock = _thread_locks.setdefault(key, threading.Lock())
    lock_name = path + ".lock"
    with tlock:
        for attempt in range(LOCK_TRIES):
            if attempt:
                wait(attempt * LOCK_BACKOFF)
            try:
                os.close(os.open(lock_name, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
                break
            except FileExistsError:
                continue
            except OSError as exc:
                raise PostProcessorError(f"Unable to lock {path}: {exc}") from exc
        try:
            yield
        finally:
            try:
                os.remove(lock_name)
            except OSError:
                pass


def _read(path: str) -> dict[str, Any]:
    """The existing manifest (empty when absent), normalised to Packer's shape."""
    try:
        with open(path, "rb") as f:
            contents = f.read()
    except FileNotFoundError:
        contents = b""
    except OSError as exc:
        raise PostProcessorError(f"Unable to open {path} for reading: {exc}") from exc
    manifest: dict[str, Any] = {"builds": [], "last_run_uuid": ""}
    if not contents:
        return manifest
    try:
        data = json.loads(contents)
    except ValueError as exc:
        raise PostProcessorError(f"Unable to parse content from {path}: {exc}") from exc
    builds = data.get("builds") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not isinstance(builds, (list, type(None))):
        raise PostProcessorError(
            f"Unable to parse content from {path}: expected an object with a 'builds' list"
        )
    try:
        manifest["builds"] = [_normalise(b) for b in builds or []]
    except (TypeError, AttributeError) as exc:
        raise PostProcessorError(f"Unable to parse content from {path}: {exc}") from exc
    uuid = data.get("last_run_uuid")
    manifest["last_run_uuid"] = uuid if isinstance(uuid, str) else ""
    return manifest


def _normalise(build: dict[str, Any]) -> dict[str, Any]:
    """An existing record as Go re-encodes it: known keys only, zero values filled in."""
    if not isinstance(build, dict):
        raise TypeError("'builds' holds a non-object entry")
    out: dict[str, Any] = {
        "name": build.get("name") or "",
        "builder_type": build.get("builder_type") or "",
    }
    if build.get("build_time"):
        out["build_time"] = build["build_time"]
    files = build.get("files")
    if files is not None:
        files = [{"name": f.get("name") or "", "size": f.get("size") or 0} for f in files]
    out["files"] = files
    out["artifact_id"] = build.get("artifact_id") or ""
    out["packer_run_uuid"] = build.get("packer_run_uuid") or ""
    out["custom_data"] = build.get("custom_data")
    return out


def _write(path: str, manifest: dict[str, Any]) -> None:
    """Write like Go's json.MarshalIndent: 2 spaces, HTML-safe escapes, no final newline."""
    text = _encode(manifest)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o664)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        raise PostProcessorError(f"Unable to write {path}: {exc}") from exc


def _encode(manifest: dict[str, Any]) -> str:
    """The manifest as Go's json.MarshalIndent writes it: 2 spaces, HTML-safe escapes."""
    text = json.dumps(manifest, indent=2, ensure_ascii=False)
    for char, escaped in _GO_ESCAPES.items():
        text = text.replace(char, escaped)
    return text


# --------------------------------------------------------------------------- merge
class ManifestError(PybuildError):
    """`pybuild manifest merge` failed: an input is not a readable manifest, or OUT not writable."""


# Go's types for a builds[] record; null is accepted for each (Go keeps the zero value)
_ENTRY_TYPES: dict[str, tuple[type, str]] = {
    "name": (str, "a string"),
    "builder_type": (str, "a string"),
    "build_time": (int, "an integer"),
    "files": (list, "an array"),
    "artifact_id": (str, "a string"),
    "packer_run_uuid": (str, "a string"),
    "custom_data": (dict, "an object"),
}


def merge_manifests(out: str, inputs: Sequence[str], run_id: str | None = None) -> int:
    """Merge the manifests of a CI fan-out into `out`; return the number of builds written.

    Each job of the fan-out ran some of a template's builds and wrote its own manifest; the
    merged file reads as if one run had written them all, in the manifest post-processor's
    exact format. Its builds are those of every input, in argument order, each record read
    as Packer re-reads a manifest (unknown keys dropped, missing ones given zero values). A
    record equal to one already taken (the same file given twice, a cached manifest shared
    by several jobs) is taken once; the comparison is on the record as read, before any id
    is rewritten.

    Without `run_id`, `last_run_uuid` is the last input's, as when the jobs had appended to
    one file in turn. With `run_id`, each input's records of its own run (`packer_run_uuid`
    equal to that input's non-empty `last_run_uuid`) get `run_id`, and so does
    `last_run_uuid`: one run of many jobs. Records of earlier runs keep their ids.

    `out` may be one of the inputs: the inputs are read under `out`'s manifest lock and
    `out` is replaced atomically (a temporary file in its directory, then `os.replace`).
    An input that is missing, not JSON or not a manifest raises ManifestError naming it
    (with line:column for bad JSON, the record and key for a bad record); `out` is then
    left untouched.
    """
    if not inputs:
        raise ManifestError("manifest merge needs at least one input manifest")
    parent = os.path.dirname(out)
    if parent:
        try:
            os.makedirs(parent, exist_ok=True)
        except OSError as exc:
            raise ManifestError(f"{out}: cannot create directory {parent}: {exc}") from None
    with _locked(out, threading.Event().wait):
        manifests = [_read_input(path) for path in inputs]
        merged = _merge(manifests, run_id or None)
        _replace(out, merged)
    return len(merged["builds"])


def _merge(
    manifests: Sequence[tuple[list[dict[str, Any]], str]], run_id: str | None
) -> dict[str, Any]:
    """The merged manifest of (builds, last_run_uuid) pairs, as `merge_manifests` describes."""
    builds: list[dict[str, Any]] = []
    seen: set[str] = set()
    for entries, last_run in manifests:
        for entry in entries:
            key = json.dumps(entry)  # records are normalised: same keys in the same order
            if key in seen:
                continue
            seen.add(key)
            if run_id and last_run and entry["packer_run_uuid"] == last_run:
                entry = {**entry, "packer_run_uuid": run_id}
            builds.append(entry)
    return {"builds": builds, "last_run_uuid": run_id or manifests[-1][1]}


def _read_input(path: str) -> tuple[list[dict[str, Any]], str]:
    """An input manifest's normalised builds and its last_run_uuid."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise ManifestError(f"{path}: no such manifest file") from None
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        start = raw.rfind(b"\n", 0, exc.start) + 1
        column = len(raw[start : exc.start].decode("utf-8", "replace")) + 1  # characters
        raise ManifestError(f"{path}:{line}:{column}: not JSON: invalid UTF-8") from None
    if not text.strip():
        raise ManifestError(f"{path}: empty file, not a manifest")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{path}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}") from None
    builds = data.get("builds") if isinstance(data, dict) else None
    if not isinstance(builds, list):
        raise ManifestError(f'{path}: not a manifest: expected an object with a "builds" list')
    for i, build in enumerate(builds):
        problem = _entry_problem(build)
        if problem:
            raise ManifestError(f"{path}: not a manifest: builds[{i}]{problem}")
    last_run = data.get("last_run_uuid")
    if last_run is not None and not isinstance(last_run, str):
        raise ManifestError(
            f"{path}: not a manifest: last_run_uuid: expected a string, found {_kind(last_run)}"
        )
    return [_normalise(b) for b in builds], last_run or ""


def _entry_problem(build: Any) -> str | None:
    """What is wrong with one builds[] record (`.key: expected …`), None when it is fine."""
    if not isinstance(build, dict):
        return f": expected an object, found {_kind(build)}"
    for key, (kind, wanted) in _ENTRY_TYPES.items():
        value = build.get(key)
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            return f".{key}: expected {wanted}, found {_kind(value)}"
    for j, item in enumerate(build.get("files") or []):
        if not isinstance(item, dict):
            return f".files[{j}]: expected an object, found {_kind(item)}"
        for key, kind, wanted in (("name", str, "a string"), ("size", int, "an integer")):
            value = item.get(key)
            if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
                return f".files[{j}].{key}: expected {wanted}, found {_kind(value)}"
    for key, value in (build.get("custom_data") or {}).items():
        if value is not None and not isinstance(value, str):
            return f".custom_data.{key}: expected a string, found {_kind(value)}"
    return None


_JSON_KINDS = (
    (bool, "a boolean"),
    ((int, float), "a number"),
    (str, "a string"),
    (list, "an array"),
    (dict, "an object"),
)  # bool first: it is an int too


def _kind(value: Any) -> str:
    """The JSON type of a decoded value, for messages."""
    return next((name for kind, name in _JSON_KINDS if isinstance(value, kind)), "null")


def _replace(path: str, manifest: dict[str, Any]) -> None:
    """Write `path` as `_write` does, atomically: a temp file beside it, then os.replace."""
    directory, name = os.path.split(path)
    tmp = os.path.join(directory, f".{name}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o664)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(_encode(manifest))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with suppress(OSError):
            os.remove(tmp)
        raise ManifestError(f"{path}: cannot write: {exc.strerror or exc}") from None
