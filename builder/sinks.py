"""Sinks that pass events on: to the debug log, to several sinks, through a redactor."""

from __future__ import annotations

import logging

from builder.events import Event, Sink
from builder.logs import logger
from builder.redact import Redactor


class LoggingSink:
    """Writes every event to the `pybuild.ui` debug logger."""

    log = logger("pybuild.ui")

    def emit(self, event: Event) -> None:
        if self.log.isEnabledFor(logging.DEBUG):
            self.log.debug("%s", event)


class TeeSink:
    """Sends each event to several sinks; asks the first that can ask."""

    def __init__(self, *sinks: Sink):
        self.sinks = sinks

    def emit(self, event: Event) -> None:
        for s in self.sinks:
            s.emit(event)

    def ask(self, prompt: str) -> str | None:
        for s in self.sinks:
            asker = getattr(s, "ask", None)
            if asker is not None:
                return asker(prompt)
        return None


class RedactingSink:
    """Wraps a sink so nothing it receives carries a secret."""

    def __init__(self, inner: Sink, redactor: Redactor):
        self.inner, self.redactor = inner, redactor

    def emit(self, event: Event) -> None:
        self.inner.emit(self.redactor.event(event))

    def ask(self, prompt: str) -> str | None:
        asker = getattr(self.inner, "ask", None)
        return asker(self.redactor(prompt)) if asker else None
