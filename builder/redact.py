"""Secret masking: the Redactor, the debug log's filter, and every live redactor at once."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable
from dataclasses import fields, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from builder.events import Event


class Redactor:
    """Replaces every registered secret with `<sensitive>`."""

    def __init__(self, secrets: Iterable[str] = ()):
        self._secrets: list[str] = []
        self._lock = threading.Lock()
        self.add(*secrets)
        _ALL_REDACTORS.add(self)

    def add(self, *secrets: str) -> None:
        """Register secrets; a multi-line one (a private key) also line by line, because
        remote output arrives a line at a time."""
        lines = [
            line.strip()
            for s in secrets
            if s and "\n" in s.strip()
            for line in s.splitlines()
            if len(line.strip()) >= 8 and not line.strip().startswith("-----")
        ]
        with self._lock:  # copy on write: readers in other threads see a whole list
            new = list(self._secrets)
            for s in (*secrets, *lines):
                if s and s not in new:
                    new.append(s)
            self._secrets = sorted(new, key=len, reverse=True)

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(self._secrets)

    def __call__(self, text: str) -> str:
        for s in self._secrets:
            if s in text:
                text = text.replace(s, "<sensitive>")
        return text

    def event(self, event: Event) -> Event:
        """The event with every string field (and strings in tuples) redacted."""
        if not self._secrets:
            return event
        changes: dict[str, Any] = {}
        for f in fields(event):
            value = getattr(event, f.name)
            if isinstance(value, str):
                red = self(value)
                if red != value:
                    changes[f.name] = red
            elif isinstance(value, tuple):
                changes[f.name] = _redact_tuple(value, self)
        return replace(event, **changes) if changes else event


def _redact_tuple(value: tuple[Any, ...], redact: Redactor) -> tuple[Any, ...]:
    return tuple(
        redact(v) if isinstance(v, str) else _redact_tuple(v, redact) if isinstance(v, tuple) else v
        for v in value
    )


_ALL_REDACTORS: weakref.WeakSet[Redactor] = weakref.WeakSet()


def redact_everywhere(text: str) -> str:
    """Apply every live redactor (for the debug log, which outlives any one run)."""
    for r in list(_ALL_REDACTORS):
        text = r(text)
    return text
