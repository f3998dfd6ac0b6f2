"""Waits and retries every platform shares: polls with a schedule, deadlines, cancellation.

A wait never sleeps with `time.sleep`: it waits on the run's cancel token, so a cancelled
build stops within a second.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

from builder.errors import BuildCancelled, BuildError

if TYPE_CHECKING:
    from builder.multistep import CancelToken

T = TypeVar("T")


class Schedule(Protocol):
    """The pauses between the polls of a named wait (a platform's polling settings)."""

    def sleeps(self, waiter: str) -> list[float]: ...


class WaitFailed(BuildError):
    """The resource reached a state it will not come back from, or attempts ran out."""


@dataclass(frozen=True)
class WaitRecord:
    """What one wait did: how many polls, how long it slept, how long in all."""

    waiter: str
    polls: int
    slept: float
    elapsed: float
    ok: bool


# Observers see every finished wait (the benchmark uses this to measure polling overshoot).
OBSERVERS: list[Callable[[WaitRecord], None]] = []


def wait_until(
    waiter: str,
    check: Callable[[], T | None],
    polling: Schedule,
    cancel: CancelToken,
) -> T:
    """Poll `check` until it returns a value; the first poll is immediate, like SDK waiters.

    The pauses come from `polling.sleeps(waiter)`.

    `check` raises WaitFailed for a terminal state. Between polls the wait honours
    `cancel`; when attempts run out: `ResourceNotReady: exceeded wait attempts`.
    """
    pauses = polling.sleeps(waiter)
    started = time.monotonic()
    slept = 0.0
    polls = 0
    ok = False
    try:
        for pause in [*pauses, None]:
            polls += 1
            result = check()
            if result is not None:
                ok = True
                return result
            if pause is None:
                break
            before = time.monotonic()
            if cancel.wait(pause):
                raise BuildCancelled()
            slept += time.monotonic() - before
        raise WaitFailed("ResourceNotReady: exceeded wait attempts")
    finally:
        record = WaitRecord(waiter, polls, slept, time.monotonic() - started, ok)
        for observe in list(OBSERVERS):
            observe(record)


def retry(
    call: Callable[[], T],
    *,
    retry_on: Callable[[Exception], bool],
    cancel: CancelToken,
    tries: int = 11,
    first_delay: float = 0.2,
    max_delay: float = 30.0,
) -> T:
    """Packer's retry.Config with a linear backoff: retry `call` while `retry_on(error)`."""
    for attempt in range(1, tries + 1):
        try:
            return call()
        except Exception as exc:
            if attempt == tries or not retry_on(exc):
                raise
        if cancel.wait(min(max_delay, first_delay * attempt)):
            raise BuildCancelled()
    raise AssertionError("unreachable")
