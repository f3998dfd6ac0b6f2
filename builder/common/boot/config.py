"""Boot command options (Packer 1.6.6's BootConfig and VNCConfig) and their checks.

`boot_command` is rendered at run time, when `{{ .HTTPIP }}`, `{{ .HTTPPort }}` and
`{{ .Name }}` are known, so it is a deferred option; `validate` checks its key language
with every `{{ }}` action standing in for text that cannot be checked yet.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Mapping
from typing import ClassVar

from pydantic import Field, field_validator

from builder.common.boot.keys import BootCommandError, problems
from builder.config import Duration, PluginConfig, StrList, config_check, option_error
from builder.errors import TemplateError

# Packer's environment variable for the pause after each key event, and its default.
KEY_INTERVAL_ENV = "PACKER_KEY_INTERVAL"
DEFAULT_KEY_INTERVAL = 0.1
DEFAULT_BOOT_WAIT = 10.0
# Stands for a `{{ }}` action while the key language is checked (a private-use character).
_ACTION = "\ue000"


class BootConfig(PluginConfig):
    """`boot_command`, `boot_wait` and `boot_keygroup_interval`, for every platform that types.

    Packer's quirks kept: a `boot_wait` of 0 means the 10s default (a negative one, such
    as "-1s", means no wait); the strings of `boot_command` are joined before parsing.
    """

    deferred: ClassVar[frozenset[str]] = frozenset({"boot_command"})

    boot_command: StrList = Field(default_factory=list)
    boot_wait: Duration = DEFAULT_BOOT_WAIT
    boot_keygroup_interval: Duration = 0.0

    @field_validator("boot_wait")
    @classmethod
    def _zero_is_default(cls, value: float) -> float:
        return DEFAULT_BOOT_WAIT if value == 0 else value

    def flat_boot_command(self) -> str:
        """The strings joined, as Packer types them (a key may span two strings)."""
        return "".join(self.boot_command)

    def typing_interval(self, environ: Mapping[str, str] | None = None) -> float:
        """The pause after each key event: `boot_keygroup_interval` (scan-code drivers)."""
        return key_interval(self.boot_keygroup_interval, environ)

    @config_check
    def check_boot_command(self) -> list[TemplateError]:
        """Every string's keys, located at `boot_command[i]`; `{{ }}` is left for run time."""
        starts, offset = [], 0
        for item in self.boot_command:
            starts.append(offset)
            offset += len(item)
        masked, origin = mask_actions(self.flat_boot_command())
        errors: list[TemplateError] = []
        for problem in problems(masked):
            if _ACTION in masked[problem.start : problem.end]:
                continue  # its text is only known once the template is rendered
            index = bisect.bisect_right(starts, origin[problem.start]) - 1
            errors.append(_located(problem, index))
        return errors


class VNCConfig(BootConfig):
    """The boot options of platforms that type over VNC: `disable_vnc`, `boot_key_interval`."""

    disable_vnc: bool = False
    boot_key_interval: Duration = 0.0

    def typing_interval(self, environ: Mapping[str, str] | None = None) -> float:
        """The pause after each VNC key event: `boot_key_interval`, else Packer's default."""
        return key_interval(self.boot_key_interval, environ)

    @config_check
    def check_vnc(self) -> list[TemplateError]:
        if self.boot_command and self.disable_vnc:
            return [
                option_error("A boot command cannot be used when vnc is disabled.", "disable_vnc")
            ]
        return []


def key_interval(configured: float, environ: Mapping[str, str] | None = None) -> float:
    """Packer's rule: a positive option wins, else PACKER_KEY_INTERVAL if it parses, else 100ms."""
    if configured > 0:
        return configured
    value = (os.environ if environ is None else environ).get(KEY_INTERVAL_ENV, "")
    from builder.config import parse_duration

    if value and value == value.strip():
        try:
            return max(0.0, parse_duration(value))
        except ValueError:
            pass
    return DEFAULT_KEY_INTERVAL


def mask_actions(text: str) -> tuple[str, list[int]]:
    """`text` with each `{{ }}` action replaced by one placeholder; each character's origin.

    Strings inside actions ("…", `…`, '…') may hold `}}`; an unterminated action is
    kept as text (the template's own check reports it).
    """
    out: list[str] = []
    origin: list[int] = []
    i, n = 0, len(text)
    while i < n:
        end = _action_end(text, i) if text.startswith("{{", i) else None
        if end is None:
            out.append(text[i])
            origin.append(i)
            i += 1
            continue
        out.append(_ACTION)
        origin.append(i)
        i = end
    origin.append(n)
    return "".join(out), origin


def _action_end(text: str, i: int) -> int | None:
    """The offset after the `}}` closing the action opened at `i`, or None."""
    j, n = i + 2, len(text)
    while j < n:
        c = text[j]
        if text.startswith("}}", j):
            return j + 2
        if c in "\"'`":
            j = _quoted_end(text, j)
            continue
        j += 1
    return None


def _quoted_end(text: str, j: int) -> int:
    quote, k = text[j], j + 1
    while k < len(text) and text[k] != quote:
        k += 2 if quote != "`" and text[k] == "\\" else 1
    return k + 1


def _located(problem: BootCommandError, index: int) -> TemplateError:
    return option_error(problem.message, "boot_command", index, hint=problem.hint)
