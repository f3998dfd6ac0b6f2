"""The boot command as USB scan codes: one PutUsbScanCodes call per key, as Packer 1.6.6 types.

Packer 1.6.6's vSphere driver sends each key as its own PutUsbScanCodes call: the key's HID
usage (keyboard page 7) with the modifiers held as bits; Shift for `A` or `:` is a bit of
that one event, not a key event of its own. `<leftShiftOn>`/`<leftCtrlOff>` send the
modifier's own key with the modifier bits as they are after it. After every call the
step pauses `boot_keygroup_interval` (else PACKER_KEY_INTERVAL, else 100ms), as 1.6.6's
USB driver does; `<waitXX>` pauses as written.

Where pybuild differs from 1.6.6 (which it does by mistake): all eight modifiers are
tracked, not only the left Alt/Ctrl/Shift; `<xOn>` holding a character types it once
and `<xOff>` types nothing (1.6.6 types it on both); `<pageUp>`/`<pageDown>` type (1.6.6
fails with "special pageup not found"); a character with no key on a US keyboard is an
error naming it (1.6.6 sends usage 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, ClassVar

from builder.common.boot import (
    BootCommandRun,
    KeyDown,
    KeyPress,
    KeySender,
    KeyUp,
    StepTypeBootCommand,
    Wait,
    usb_usage,
)
from builder.common.boot.keys import format_duration
from builder.errors import BuildCancelled, BuildError, DriverError
from builder.logs import logger
from builder.vsphere.common.driver import UsbKeyEvent

if TYPE_CHECKING:
    from builder.common.boot import Action
    from builder.common.boot.step_boot_command import Pause
    from builder.multistep import CancelToken
    from builder.vsphere.common.driver import VMRef, VSphereDriver

log = logger("pybuild.boot")

# The modifier keys and the UsbKeyEvent bit each one holds.
MODIFIERS = {
    "leftshift": "left_shift",
    "leftctrl": "left_control",
    "leftalt": "left_alt",
    "leftsuper": "left_gui",
    "rightshift": "right_shift",
    "rightctrl": "right_control",
    "rightalt": "right_alt",
    "rightsuper": "right_gui",
}


def usage_of(key: str) -> int:
    """The HID usage of an abstract key; a BuildError for one a US keyboard lacks."""
    usage = usb_usage(key)
    if usage is None:
        raise BuildError(
            f"{key!r} has no key on a US keyboard (PutUsbScanCodes types keys, not characters)"
        )
    return usage


@dataclass
class UsbKeySender:
    """Types on one VM through PutUsbScanCodes, holding the modifier state between keys."""

    driver: VSphereDriver
    vm: VMRef
    held: set[str] = field(default_factory=set)
    calls: int = 0

    def event(self, key: str, *, shift: bool = False) -> UsbKeyEvent:
        """The event for `key` with the held modifiers (and Shift when the key needs it)."""
        ev = UsbKeyEvent(usage_of(key))
        bits = {MODIFIERS[m]: True for m in self.held}
        if shift:
            bits["left_shift"] = True
        return replace(ev, **bits)

    def press(self, action: KeyPress | KeyDown | KeyUp) -> bool:
        """Send the one event of an action; False when it sends nothing (a character's Off)."""
        key = action.key
        if key in MODIFIERS:
            if isinstance(action, KeyDown):
                self.held.add(key)
            else:  # a press of a modifier leaves it released, as 1.6.6
                self.held.discard(key)
            self.send(self.event(key), isinstance(action, KeyDown))
            return True
        if isinstance(action, KeyUp):
            return False
        self.send(self.event(key, shift=action.shift), action.shift)
        return True

    def send(self, event: UsbKeyEvent, down: bool) -> None:
        """One PutUsbScanCodes call; `down` is only for the error (1.6.6's words)."""
        log.debug("PutUsbScanCodes usage 0x%02x %s", event.usage, sorted(self.held))
        try:
            self.driver.put_usb_scan_codes(self.vm, [event])
        except DriverError as exc:
            raise BuildError(
                f"error typing a boot command (code, down) `{event.usage}, "
                f"{'true' if down else 'false'}`: {exc}"
            ) from exc
        self.calls += 1

    # KeySender: the shared step's event-by-event interface (Shift arrives as its own key)
    def key_down(self, key: str) -> None:
        self.press(KeyDown(key))

    def key_up(self, key: str) -> None:
        self.press(KeyUp(key))

    def close(self) -> None:
        self.held.clear()


def type_usb(
    actions: Sequence[Action],
    sender: UsbKeySender,
    interval: float,
    pause: Pause,
    cancel: CancelToken,
) -> None:
    """Send each action as one call, pausing `interval` after each call and for each Wait."""
    for action in actions:
        cancel.check()
        if isinstance(action, Wait):
            log.debug("waiting %s", format_duration(action.seconds))
            if pause(action.seconds):
                raise BuildCancelled()
            continue
        try:
            sent = sender.press(action)
        except BuildError as exc:
            raise BuildError(f"Error running boot command: {exc}") from exc
        if sent and interval > 0 and pause(interval):
            raise BuildCancelled()


@dataclass
class StepUsbBootCommand(StepTypeBootCommand):
    """Packer's vSphere StepBootCommand over the shared step: its wait, template and parse.

    `connect` is `usb_sender` (it announces the HTTP server as 1.6.6 does there).
    """

    name: ClassVar[str] = "StepBootCommand"
    typing_message: str = "Typing boot command..."

    def run(self, ctx: BootCommandRun) -> None:
        pause = self.pause or ctx.cancel.wait
        cfg = ctx.config
        if cfg.boot_wait > 0:
            ctx.ui.say(f"Waiting {format_duration(cfg.boot_wait)} for boot...")
            if pause(cfg.boot_wait):
                raise BuildCancelled()
        ctx.cancel.check()
        sender = self.connect(ctx)
        self._sender = sender
        try:
            ctx.ui.say(self.typing_message)
            actions = self._actions(ctx)
            if not isinstance(sender, UsbKeySender):
                raise BuildError("the vSphere boot command needs its USB key sender")
            type_usb(actions, sender, cfg.typing_interval(), pause, ctx.cancel)
        finally:
            self._close()


def usb_sender(ctx: BootCommandRun) -> KeySender:
    """The USB sender for the run's VM; says where the HTTP server is, as 1.6.6 does."""
    from builder.vsphere.common.run import VSphereRun

    if not isinstance(ctx, VSphereRun):
        raise BuildError("the vSphere boot command step needs a vSphere build")
    if ctx.http_port > 0:
        ctx.ui.say(f"HTTP server is working at http://{ctx.http_ip}:{ctx.http_port}/")
    return UsbKeySender(ctx.driver, ctx.require_vm())


def boot_command_step(vm_name: str) -> StepUsbBootCommand:
    """The step with `{{ .Name }}` = vm_name."""
    return StepUsbBootCommand(connect=usb_sender, vm_name=vm_name)
