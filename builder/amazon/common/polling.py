"""How amazon waits poll: `aws_polling`, else Packer's AWS_* overrides, else SDK defaults.

`Polling` is the `Schedule` of `builder.common.wait.wait_until` for EC2's waiters.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from builder.amazon.common.access import PollingConfig

# The SDK waiters' own defaults (delay seconds, attempts), as Packer 1.6.6 inherits them.
DEFAULTS: dict[str, tuple[float, int]] = {
    "instance_running": (15, 40),
    "instance_stopped": (15, 40),
    "instance_terminated": (15, 40),
    "image_available": (15, 40),
    "security_group_exists": (5, 40),
    "volume_available": (15, 40),
    "image_imported": (5, 720),  # amazon-import: VM Import takes minutes to hours
}


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
