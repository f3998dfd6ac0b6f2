"""Polling waits honouring `aws_polling`, the AWS_* overrides and cancellation."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from builder.errors import BuildCancelled, BuildError

if TYPE_CHECKING:
    from builder.amazon.common.access import PollingConfig
    from builder.multistep import CancelToken

T = TypeVar("T")

# The SDK waiters' own defaults (delay seconds, attempts), as Packer 1.6.6 inherits them.
DEFAULTS: dict[str, tuple[float, int]] = {
    "instance_running": (15, 40),
    "instance_stopped": (15, 40),
    "instance_terminated": (15, 40),
    "image_available": (15, 40),
    "security_group_exists": (5, 40),
}


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


@dataclass(frozen=True)
class Polling:
    """Resolved polling settings: the template's `aws_polling`, else the environment."""

    delay: float | None = None
    max_attempts: int | None = None

    @classmethod
    def from_config(cls, config: PollingConfig | None) -> Polling:
        """Config wins; AWS_POLL_DELAY_SECONDS / AWS_MAX_ATTEMPTS / AWS_TIMEOUT_SECONDS otherwise."""
        if config is not None and (config.delay_seconds or config.max_attempts):
            return cls(config.delay_seconds or None, config.max_attempts or None)
        delay = _env_number("AWS_POLL_DELAY_SECONDS")
        attempts = _env_number("AWS_MAX_ATTEMPTS")
        timeout = _env_number("AWS_TIMEOUT_SECONDS")
        if attempts is None and timeout is not None:
            delay = delay or 2
            attempts = max(1, int(timeout // delay))
        return cls(delay, int(attempts) if attempts is not None else None)

    def settings(self, waiter: str) -> tuple[float, int]:
        """(delay seconds, max attempts) for one waiter."""
        delay, attempts = DEFAULTS[waiter]
        return (
            self.delay if self.delay is not None else delay,
            self.max_attempts if self.max_attempts is not None else attempts,
        )

    def sleeps(self, waiter: str) -> list[float]:
        """The pauses between polls: one fewer than the polls a wait may make.

        A delay from the template or the environment is used as is (Packer). Without
        one, pauses start at 1 s and double up to the waiter's default delay, within
        the same overall budget as the SDK waiter (delay x attempts): a quick state
        change is seen within a second or two instead of a whole 15 s delay.
        """
        delay, attempts = self.settings(waiter)
        if self.delay is not None:
            return [delay] * max(0, attempts - 1)
        budget = delay * attempts if self.max_attempts is None else float("inf")
        out: list[float] = []
        pause, total = 1.0, 0.0
        while total < budget and len(out) < attempts * 4:
            pause = min(pause, delay)
            out.append(pause)
            total += pause
            pause *= 2
            if self.max_attempts is not None and len(out) >= attempts - 1:
                break
        return out


def _env_number(name: str) -> float | None:
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value >= 0 else None


def wait_until(
    waiter: str,
    check: Callable[[], T | None],
    polling: Polling,
    cancel: CancelToken,
) -> T:
    """Poll `check` until it returns a value; the first poll is immediate, like SDK waiters.

    The pauses come from `Polling.sleeps`.

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
