"""`StepTypeBootCommand`: wait for the machine to boot, then type `boot_command` into it.

The keys go through a `KeySender` the platform provides (qemu: VNC; vSphere: USB scan
codes). The step owns the key language's timing: Shift around characters that need it,
the pause after every key event (`typing_interval()`), `<waitXX>`, and cancellation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Protocol

from builder.common.boot.config import BootConfig
from builder.common.boot.keys import (
    SHIFT,
    Action,
    BootCommandError,
    KeyDown,
    KeyPress,
    KeyUp,
    Wait,
    format_duration,
    parse,
)
from builder.errors import BuildCancelled, BuildError, PybuildError
from builder.logs import logger

if TYPE_CHECKING:
    from builder.components import PluginOptions
    from builder.multistep import CancelToken
    from builder.ui import Ui

log = logger("pybuild.boot")


class KeySender(Protocol):
    """Presses and releases abstract keys (`enter`, `leftshift`, `a`) on the machine."""

    def key_down(self, key: str) -> None: ...

    def key_up(self, key: str) -> None: ...

    def close(self) -> None: ...


class BootCommandRun(Protocol):
    """What the step reads from a platform's run: the boot options and the HTTP server."""

    @property
    def ui(self) -> Ui: ...
    @property
    def cancel(self) -> CancelToken: ...
    @property
    def options(self) -> PluginOptions: ...
    @property
    def config(self) -> BootConfig: ...
    @property
    def http_ip(self) -> str: ...
    @property
    def http_port(self) -> int: ...


@dataclass(frozen=True)
class BootCommandTemplateData:
    """The dot of a boot command's template: `{{ .HTTPIP }}`, `{{ .HTTPPort }}`, `{{ .Name }}`."""

    HTTPIP: str
    HTTPPort: int
    Name: str


# Sleeps up to the given seconds; True when the run was cancelled meanwhile.
Pause = Callable[[float], bool]


@dataclass
class StepTypeBootCommand:
    """Packer's stepTypeBootCommand: boot_wait, connect, render, parse, type.

    `connect(ctx)` opens the platform's KeySender (it says what it connects to);
    `vm_name` is `{{ .Name }}`; `pause` replaces `ctx.cancel.wait` in tests.
    """

    name: ClassVar[str] = "StepTypeBootCommand"
    connect: Callable[[BootCommandRun], KeySender]
    vm_name: str = ""
    typing_message: str = "Typing the boot command over VNC..."
    pause: Pause | None = None
    _sender: KeySender | None = field(default=None, init=False, repr=False)

    def run(self, ctx: BootCommandRun) -> None:
        pause = self.pause or ctx.cancel.wait
        cfg = ctx.config
        if cfg.boot_wait > 0:
            ctx.ui.say(f"Waiting {format_duration(cfg.boot_wait)} for boot...")
            if pause(cfg.boot_wait):
                raise BuildCancelled()
        ctx.cancel.check()
        self._sender = self.connect(ctx)
        try:
            ctx.ui.say(self.typing_message)
            actions = self._actions(ctx)
            log.debug("boot command: %d key actions", len(actions))
            type_keys(actions, self._sender, cfg.typing_interval(), pause, ctx.cancel)
        finally:
            self._close()

    def cleanup(self, ctx: BootCommandRun) -> None:
        self._close()

    def _actions(self, ctx: BootCommandRun) -> tuple[Action, ...]:
        data = BootCommandTemplateData(ctx.http_ip, ctx.http_port, self.vm_name)
        try:
            command = ctx.options.render_text(ctx.config.flat_boot_command(), data=data)
        except PybuildError as exc:
            raise BuildError(f"Error preparing boot command: {exc}") from exc
        try:
            return parse(command)
        except BootCommandError as exc:
            raise BuildError(f"Error generating boot command: {exc}") from exc

    def _close(self) -> None:
        sender, self._sender = self._sender, None
        if sender is not None:
            try:
                sender.close()
            except OSError as exc:
                log.debug("closing the key sender: %s", exc)


def key_events(actions: Sequence[Action]) -> list[tuple[str, bool] | Wait]:
    """The actions as (key, down) events in Packer's order, Shift around shifted keys."""
    events: list[tuple[str, bool] | Wait] = []
    for action in actions:
        if isinstance(action, Wait):
            events.append(action)
        elif isinstance(action, KeyPress):
            shift = [(SHIFT, True)] if action.shift else []
            events += [*shift, (action.key, True), (action.key, False)]
            events += [(SHIFT, False)] if action.shift else []
        elif isinstance(action, KeyDown):
            events += [(SHIFT, True)] if action.shift else []
            events.append((action.key, True))
        elif isinstance(action, KeyUp):
            events += [(SHIFT, False)] if action.shift else []
            events.append((action.key, False))
    return events


def type_keys(
    actions: Sequence[Action],
    sender: KeySender,
    interval: float,
    pause: Pause,
    cancel: CancelToken,
) -> None:
    """Send every key event, pausing `interval` after each one and for each Wait."""
    for event in key_events(actions):
        cancel.check()
        if isinstance(event, Wait):
            log.debug("waiting %s", format_duration(event.seconds))
            if pause(event.seconds):
                raise BuildCancelled()
            continue
        key, down = event
        try:
            if down:
                sender.key_down(key)
            else:
                sender.key_up(key)
        except (OSError, PybuildError) as exc:
            raise BuildError(f"Error running boot command: {exc}") from exc
        if interval > 0 and pause(interval):
            raise BuildCancelled()
