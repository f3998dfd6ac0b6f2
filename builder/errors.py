"""The error tree: every expected failure is a PybuildError and is shown without a traceback.

PybuildError                     expected failure
├── TemplateError                location + message + hint; ConfigErrors holds many
│   ├── ConfigErrors             several TemplateErrors reported together
│   ├── UnknownPlugin            lists the known names, suggests the closest
│   ├── VariableError            user variables that cannot be resolved
│   └── InterpolationError       a {{ }} expression that cannot be parsed or executed
├── PluginLoadError              names the distribution that provides the plugin
├── BuildError (build, step)     __cause__ is the real error
│   ├── RemoteCommandFailed      command, exit status, allowed codes, last lines of output
│   ├── CommunicatorTimeout      host, port, how long, the last reason
│   └── DriverError              wraps SDK exceptions at the driver boundary
├── PostProcessorError
└── BuildCancelled
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

HCL2_FILES = (".pkr.hcl", ".pkr.json", ".pkrvars.hcl")
"""Files whose locations carry a column in messages (JSON templates' show the line only)."""


class PybuildError(Exception):
    """An expected failure: the CLI prints its message, never a traceback."""


@dataclass(frozen=True)
class Location:
    """Where something stands in a template: file, JSON path, line and column (1-based)."""

    file: str | None = None
    path: str = ""
    line: int | None = None
    column: int | None = None
    keys: tuple[str | int, ...] = ()  # the path as keys, relative to a plugin's block

    def suffix(self) -> str:
        """`(t.json:14)` style position (`(t.pkr.hcl:14:9)` in HCL2), or '' when nothing is known."""
        if self.file and self.line:
            if self.column and self.file.endswith(HCL2_FILES):
                return f" ({self.file}:{self.line}:{self.column})"
            return f" ({self.file}:{self.line})"
        if self.file:
            return f" ({self.file})"
        return ""


class TemplateError(PybuildError):
    """A problem in a template, at a known place."""

    def __init__(self, message: str, location: Location | None = None, hint: str | None = None):
        self.message = message
        self.location = location or Location()
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        loc = self.location
        text = f"{loc.path}: {self.message}" if loc.path else self.message
        if self.hint:
            text += f"; {self.hint}"
        return text + loc.suffix()


class ConfigErrors(TemplateError):
    """Several template errors found together; all are reported at once."""

    def __init__(self, errors: Iterable[TemplateError]):
        self.errors: list[TemplateError] = _flatten(errors)
        PybuildError.__init__(self, self.render())
        self.message = self.render()
        self.location = Location()
        self.hint = None

    def render(self) -> str:
        n = len(self.errors)
        head = f"{n} error occurred:" if n == 1 else f"{n} errors occurred:"
        return head + "".join(f"\n  * {e.render()}" for e in self.errors)


def _flatten(errors: Iterable[TemplateError]) -> list[TemplateError]:
    out: list[TemplateError] = []
    for e in errors:
        if isinstance(e, ConfigErrors):
            out.extend(e.errors)
        else:
            out.append(e)
    return out


class UnknownPlugin(TemplateError):
    """A builder, provisioner or post-processor type nobody provides."""

    def __init__(
        self, kind: str, name: str, known: Sequence[str], location: Location | None = None
    ):
        import difflib

        self.kind, self.name, self.known = kind, name, sorted(known)
        close = difflib.get_close_matches(name, self.known, n=1)
        hint = f"did you mean '{close[0]}'?" if close else None
        super().__init__(
            f"unknown {kind} type '{name}'; known types: {', '.join(self.known)}", location, hint
        )


class VariableError(TemplateError):
    """A user variable that is missing, malformed or cannot be resolved."""


class InterpolationError(TemplateError):
    """A {{ }} expression that cannot be parsed or executed."""


class PluginLoadError(PybuildError):
    """A plugin entry point that cannot be imported or is not a plugin class."""


class BuildError(PybuildError):
    """A build failed; `build` and `step` say where, `__cause__` holds the real error."""

    def __init__(self, message: str, *, build: str | None = None, step: str | None = None):
        self.build, self.step = build, step
        super().__init__(message)


class RemoteCommandFailed(BuildError):
    """A command exited with a status outside the allowed codes."""

    def __init__(
        self,
        command: str,
        exit_status: int,
        allowed: Sequence[int] = (0,),
        tail: Sequence[str] = (),
    ):
        self.command, self.exit_status, self.allowed, self.tail = (
            command,
            exit_status,
            list(allowed),
            list(tail),
        )
        msg = (
            f"Script exited with non-zero exit status: {exit_status}. "
            f"Allowed exit codes are: {list(allowed)}"
        )
        if tail:
            msg += "\nLast output lines:\n" + "\n".join(f"  {line}" for line in tail)
        super().__init__(msg)


class CommunicatorTimeout(BuildError):
    """The machine never became reachable in time."""


class DriverError(BuildError):
    """A platform SDK call failed; the operation is named."""


class PostProcessorError(PybuildError):
    """A post-processor failed."""


class BuildCancelled(PybuildError):
    """The run was interrupted (Ctrl-C, SIGTERM, or the library caller cancelled)."""

    def __init__(self, message: str = "Build was cancelled."):
        super().__init__(message)
