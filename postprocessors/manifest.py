"""The `manifest` post-processor: appends one JSON record per build to a manifest file."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from pydantic import field_validator

from builder.artifact import Artifact
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
    text = json.dumps(manifest, indent=2, ensure_ascii=False)
    for char, escaped in _GO_ESCAPES.items():
        text = text.replace(char, escaped)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o664)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        raise PostProcessorError(f"Unable to write {path}: {exc}") from exc
