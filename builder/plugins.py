"""Plugin registry: names from entry points, classes imported only when a template names them.

Built-ins are registered in pybuild's own pyproject under the same groups a
third-party package uses: `pybuild.builders`, `pybuild.provisioners`,
`pybuild.post_processors`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from builder.errors import Location, PluginLoadError, UnknownPlugin

GROUPS = {
    "builder": "pybuild.builders",
    "provisioner": "pybuild.provisioners",
    "post-processor": "pybuild.post_processors",
}


@dataclass(frozen=True)
class PluginEntry:
    """One name in one group, and where it comes from."""

    kind: str
    name: str
    entry_point: EntryPoint

    @property
    def distribution(self) -> str:
        dist = getattr(self.entry_point, "dist", None)
        return dist.name if dist is not None else "?"


class Registry:
    """Lists plugin names without importing them; loads one class on demand."""

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, list[PluginEntry]]] | None = None
        self._loaded: dict[tuple[str, str], type[Any]] = {}
        self._lock = threading.Lock()
        self._extra: dict[tuple[str, str], type[Any]] = {}

    def _scan(self) -> dict[str, dict[str, list[PluginEntry]]]:
        if self._entries is None:
            found: dict[str, dict[str, list[PluginEntry]]] = {k: {} for k in GROUPS}
            # One pass over the installed distributions, then the three groups picked from it
            # (`entry_points(group=...)` per group read every distribution's entry points
            # three times).
            every = entry_points()
            for kind, group in GROUPS.items():
                for ep in every.select(group=group):
                    found[kind].setdefault(ep.name, []).append(PluginEntry(kind, ep.name, ep))
            self._entries = found
        return self._entries

    def register(self, kind: str, name: str, cls: type[Any]) -> None:
        """Add a class directly (library users); wins over entry points."""
        self._extra[(kind, name)] = cls

    @contextmanager
    def override(self, kind: str, name: str, cls: type[Any]) -> Iterator[None]:
        """Use `cls` for `name` inside the block, then restore what was there (tests)."""
        key = (kind, name)
        previous = self._extra.get(key)
        self._extra[key] = cls
        try:
            yield
        finally:
            if previous is None:
                self._extra.pop(key, None)
            else:
                self._extra[key] = previous

    def names(self, kind: str) -> list[str]:
        extra = [n for (k, n) in self._extra if k == kind]
        return sorted(set(self._scan()[kind]) | set(extra))

    def has(self, kind: str, name: str) -> bool:
        return (kind, name) in self._extra or name in self._scan()[kind]

    def check(self, kind: str, name: str, location: Location | None = None) -> None:
        """Raise UnknownPlugin (with the known names and a suggestion) if nobody provides it."""
        if not self.has(kind, name):
            raise UnknownPlugin(kind, name, self.names(kind), location)

    def load(self, kind: str, name: str, location: Location | None = None) -> type[Any]:
        """Import and return the plugin class, checking it is of the right base class."""
        if (kind, name) in self._extra:
            return self._extra[(kind, name)]
        with self._lock:
            if (kind, name) in self._loaded:
                return self._loaded[(kind, name)]
            entries = self._scan()[kind].get(name)
            if not entries:
                raise UnknownPlugin(kind, name, self.names(kind), location)
            dists = sorted({e.distribution for e in entries})
            if len(dists) > 1:
                raise PluginLoadError(
                    f"{kind} '{name}' is provided by more than one distribution: "
                    f"{' and '.join(dists)}; uninstall one of them"
                )
            entry = entries[0]
            try:
                cls = entry.entry_point.load()
            except Exception as exc:
                raise PluginLoadError(
                    f"cannot load {kind} '{name}' from distribution '{entry.distribution}' "
                    f"({entry.entry_point.value}): {type(exc).__name__}: {exc}"
                ) from exc
            _check_base(kind, name, cls, entry)
            self._loaded[(kind, name)] = cls
            return cls


def _check_base(kind: str, name: str, cls: Any, entry: PluginEntry) -> None:
    from builder.components import Builder, PostProcessor, Provisioner

    base = {"builder": Builder, "provisioner": Provisioner, "post-processor": PostProcessor}[kind]
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise PluginLoadError(
            f"{kind} '{name}' from distribution '{entry.distribution}' "
            f"({entry.entry_point.value}) is not a subclass of builder.{base.__name__}"
        )


registry = Registry()
