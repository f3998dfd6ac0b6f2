"""How a platform's driver is made, opened as a context manager, and replaced in tests.

Each platform declares one `DriverFactory` in its `driver.py`, naming the `sdk.py`
callable that builds the real driver from settings; the SDK is imported only when the
first driver is made. A build opens the driver around its steps (closed on success,
failure and cancel); an artifact that can be destroyed later keeps the settings and
reopens a driver, instead of holding a live session.
"""

from __future__ import annotations

import dataclasses
import importlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Generic, Protocol, TypeVar


class Closeable(Protocol):
    def close(self) -> None: ...


S = TypeVar("S")
D = TypeVar("D", bound=Closeable)


def secret(default: Any = "") -> Any:
    """A settings field that never goes into the ledger (a password, key or token)."""
    return dataclasses.field(default=default, repr=False, metadata={"secret": True})


def public_settings(settings: Any) -> dict[str, Any]:
    """A settings dataclass as a record for the ledger: every field but the secret ones."""
    if settings is None:
        return {}
    out: dict[str, Any] = {}
    for f in dataclasses.fields(settings):
        if f.metadata.get("secret"):
            continue
        value = getattr(settings, f.name)
        out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


class DriverFactory(Generic[S, D]):
    """Makes a platform's driver from its settings; `override` swaps it for a test's."""

    def __init__(self, platform: str, target: str):
        self.platform, self.target = platform, target
        self._override: Callable[[S], D] | None = None
        self._lock = threading.Lock()

    def make(self, settings: S) -> D:
        """A new driver (the test's fake while an override is active)."""
        factory = self._override
        if factory is None:
            module, _, name = self.target.partition(":")
            factory = getattr(importlib.import_module(module), name)
        return factory(settings)

    @contextmanager
    def open(self, settings: S) -> Iterator[D]:
        """A driver for the duration of a `with` block, closed whatever happens."""
        driver = self.make(settings)
        try:
            yield driver
        finally:
            driver.close()

    @contextmanager
    def override(self, factory: Callable[[S], D]) -> Iterator[None]:
        """Make every driver of this platform with `factory` inside the block (tests)."""
        with self._lock:
            previous, self._override = self._override, factory
        try:
            yield
        finally:
            with self._lock:
                self._override = previous
