"""The library's loggers (`pybuild` and its children), created on first use.

A NullHandler on `pybuild` keeps a library user who configured no logging from seeing
pybuild's records on stderr (logging's last resort). It is added here, by the first module
that asks for a logger, not by `import builder`: `pybuild version` never imports logging.
"""

from __future__ import annotations

import logging

from builder.redact import redact_everywhere

_ROOT = logging.getLogger("pybuild")
if not any(isinstance(h, logging.NullHandler) for h in _ROOT.handlers):
    _ROOT.addHandler(logging.NullHandler())


def logger(name: str) -> logging.Logger:
    """`logging.getLogger(name)`, after the library's NullHandler is in place."""
    return logging.getLogger(name)


class RedactionFilter(logging.Filter):
    """A logging filter that masks secrets in every record of the debug log."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact_everywhere(record.getMessage())
        record.args = ()
        if record.exc_info:  # a traceback's text can carry secrets too: format it here
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact_everywhere(text)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact_everywhere(record.exc_text)
        return True
