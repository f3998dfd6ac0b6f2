"""Fault injection for tests: `PYBUILD_FAULT=kill@POINT` kills the process with SIGKILL there.

Points are named `step:<StepName>` (before a step runs) and `created:<platform>.<kind>`
(after a create call returned, before the ledger records its id). Several points may be
given, separated by commas. Unset, a point costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

_ENV = "PYBUILD_FAULT"


def _armed() -> frozenset[str]:
    spec = os.environ.get(_ENV, "")
    return frozenset(p.removeprefix("kill@") for p in spec.split(",") if p.startswith("kill@"))


def point(name: str) -> None:
    """Die here, as `kill -9` would, when a test armed this point."""
    if name in _armed():
        os.kill(os.getpid(), signal.SIGKILL)
