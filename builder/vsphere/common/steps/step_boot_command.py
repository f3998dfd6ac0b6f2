"""The vSphere boot command: StepTypeBootCommand over USB scan codes (PutUsbScanCodes).

`UsbKeySender` is the KeySender: modifiers (shift, ctrl, alt, super) are held as state;
each other key pressed becomes one key event carrying the modifiers held, sent in one
PutUsbScanCodes call as 1.6.6 does (a key's release sends nothing: the API types whole
keystrokes). `boot_command_step(vm_name)` is the step both builders use (only when
`boot_command` is set: 1.6.6 skips boot_wait too without one).

Batching several keystrokes into one call would need the step to say where a pause
(an interval or `<waitX>`) falls: KeySender has no flush(); see the closing note.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from builder.common.boot.keys import usb_usage
from builder.common.boot.step_boot_command import BootCommandRun, StepTypeBootCommand
from builder.errors import BuildError
from builder.vsphere.common.driver import UsbKeyEvent, VMRef, VSphereDriver
from builder.vsphere.common.run import VSphereRun

MODIFIERS = {
    "leftshift": "left_shift",
    "rightshift": "right_shift",
    "leftctrl": "left_control",
    "rightctrl": "right_control",
    "leftalt": "left_alt",
    "rightalt": "right_alt",
    "leftsuper": "left_gui",
    "rightsuper": "right_gui",
}


@dataclass
class UsbKeySender:
    driver: VSphereDriver
    vm: VMRef
    held: set[str] = field(default_factory=set)
    sent: int = 0

    def key_down(self, key: str) -> None:
        if key in MODIFIERS:
            self.held.add(MODIFIERS[key])
            return
        usage = usb_usage(key)
        if usage is None:
            raise BuildError(f"no USB scan code for key {key!r}")
        flags = {name: True for name in self.held}
        self.sent += self.driver.put_usb_scan_codes(self.vm, [UsbKeyEvent(usage=usage, **flags)])

    def key_up(self, key: str) -> None:
        if key in MODIFIERS:
            self.held.discard(MODIFIERS[key])

    def close(self) -> None:
        self.held.clear()


def _connect(ctx: BootCommandRun) -> UsbKeySender:
    if not isinstance(ctx, VSphereRun):
        raise TypeError("the vSphere boot command runs in a VSphereRun")
    run: VSphereRun[Any] = ctx
    if run.http_port:
        ctx.ui.say(f"HTTP server is working at http://{run.http_ip}:{run.http_port}/")
    return UsbKeySender(run.driver, run.require_vm())


def boot_command_step(vm_name: str) -> StepTypeBootCommand:
    """1.6.6's StepBootCommand: "Waiting 10s for boot...", then "Typing boot command..."."""
    return StepTypeBootCommand(
        connect=_connect, vm_name=vm_name, typing_message="Typing boot command..."
    )
