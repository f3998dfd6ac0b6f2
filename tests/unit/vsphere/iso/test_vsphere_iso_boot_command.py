"""The boot command as PutUsbScanCodes calls: one per key, HID usages and modifier bits."""

from __future__ import annotations

import pytest

from builder.errors import BuildCancelled, BuildError
from builder.events import Say
from builder.vsphere.common.driver import UsbKeyEvent
from builder.vsphere.common.steps.step_boot_command import StepUsbBootCommand, usb_sender
from builder.vsphere.iso.steps.step_create_vm import StepCreateVM
from tests.unit.vsphere.iso.conftest import MakeRun
from tests.unit.vsphere.iso.fakes import FakeISODriver

K = UsbKeyEvent


class Pauses:
    """Stands for `cancel.wait`: records each pause; `cancel_at` cancels at that pause."""

    def __init__(self, cancel_at: int | None = None):
        self.seconds: list[float] = []
        self.cancel_at = cancel_at

    def __call__(self, seconds: float) -> bool:
        self.seconds.append(seconds)
        return self.cancel_at is not None and len(self.seconds) >= self.cancel_at


def typed(driver: FakeISODriver) -> list[UsbKeyEvent]:
    """Every event, checking each call carried exactly one (as 1.6.6 sends them)."""
    assert all(len(call) == 1 for call in driver.typed)
    return [call[0] for call in driver.typed]


def boot(make_run: MakeRun, pauses: Pauses, **options: object):  # type: ignore[no-untyped-def]
    run, sink = make_run(**options)
    StepCreateVM().run(run)
    run.http_ip, run.http_port = "127.0.0.1", 8123
    step = StepUsbBootCommand(connect=usb_sender, vm_name="isovm", pause=pauses)
    return run, sink, step


def test_the_preseed_command_types_exact_hid_codes_one_call_per_key(
    make_run: MakeRun, driver: FakeISODriver
) -> None:
    pauses = Pauses()
    run, sink, step = boot(
        make_run,
        pauses,
        boot_wait="2s",
        boot_command=["<esc><wait>", "ls {{ .Name }} A:/{{ .HTTPPort }}<enter>"],
    )
    step.run(run)
    shift = {"left_shift": True}
    assert typed(driver) == [
        K(0x29),  # esc
        K(0x0F), K(0x16), K(0x2C),  # "ls "
        K(0x0C), K(0x16), K(0x12), K(0x19), K(0x10),  # "isovm"
        K(0x2C), K(0x04, **shift), K(0x33, **shift), K(0x38),  # " A:/"
        K(0x25), K(0x1E), K(0x1F), K(0x20),  # "8123"
        K(0x28),  # enter
    ]  # fmt: skip
    # boot_wait, then 100ms after each of the 18 calls and 1s for <wait>
    assert pauses.seconds == [2.0, 0.1, 1.0] + [0.1] * 17
    assert sink.texts(Say)[-3:] == [
        "Waiting 2s for boot...",
        "HTTP server is working at http://127.0.0.1:8123/",
        "Typing boot command...",
    ]


def test_modifiers_are_held_as_bits_and_their_own_keys_are_sent(
    make_run: MakeRun, driver: FakeISODriver
) -> None:
    pauses = Pauses()
    run, _, step = boot(
        make_run,
        pauses,
        boot_wait="-1s",
        boot_keygroup_interval="20ms",
        boot_command=["<leftCtrlOn><leftAltOn><del><leftAltOff><leftCtrlOff>",
                      "<rightShiftOn>x<rightShiftOff><aOn><aOff><pageUp>\n"],
    )  # fmt: skip
    step.run(run)
    assert typed(driver) == [
        K(0xE0, left_control=True),
        K(0xE2, left_control=True, left_alt=True),
        K(0x4C, left_control=True, left_alt=True),  # ctrl-alt-del
        K(0xE2, left_control=True),
        K(0xE0),
        K(0xE5, right_shift=True),
        K(0x1B, right_shift=True),
        K(0xE5),
        K(0x04),  # <aOn> types it once, <aOff> nothing
        K(0x4B),  # pageUp
        K(0x28),  # a newline is Enter
    ]
    assert pauses.seconds == [0.02] * 11  # no boot wait, boot_keygroup_interval after each


def test_a_character_with_no_us_key_is_an_error_naming_it(
    make_run: MakeRun, driver: FakeISODriver
) -> None:
    run, _, step = boot(make_run, Pauses(), boot_wait="-1s", boot_command=["ab\u00e9"])
    with pytest.raises(BuildError, match="'\u00e9' has no key on a US keyboard"):
        step.run(run)
    assert len(typed(driver)) == 2


def test_cancel_during_typing_stops_at_once(make_run: MakeRun, driver: FakeISODriver) -> None:
    run, _, step = boot(make_run, Pauses(cancel_at=3), boot_wait="-1s", boot_command=["abcdef"])
    with pytest.raises(BuildCancelled):
        step.run(run)
    assert len(typed(driver)) == 3


def test_a_refused_call_fails_the_step_with_packers_words(
    make_run: MakeRun, driver: FakeISODriver
) -> None:
    run, _, step = boot(make_run, Pauses(), boot_wait="-1s", boot_command=["a"])
    driver.fail["put_usb_scan_codes"] = "NotSupported: PutUsbScanCodes"
    with pytest.raises(BuildError, match=r"error typing a boot command \(code, down\) `4, false`"):
        step.run(run)


def test_no_http_server_no_http_message(make_run: MakeRun, driver: FakeISODriver) -> None:
    run, sink, step = boot(make_run, Pauses(), boot_wait="-1s", boot_command=["<enter>"])
    run.http_port = 0
    step.run(run)
    assert sink.texts(Say)[-1] == "Typing boot command..."
    assert not any("HTTP server" in t for t in sink.texts(Say))
