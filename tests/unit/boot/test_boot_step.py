"""StepTypeBootCommand with a FakeKeySender: boot_wait, rendering, intervals, waits, cancel."""

from __future__ import annotations

import threading

import pytest

from builder.common.boot.config import KEY_INTERVAL_ENV
from builder.common.boot.keys import KeyDown, KeyPress, KeyUp, Wait
from builder.common.boot.step_boot_command import (
    BootCommandRun,
    StepTypeBootCommand,
    key_events,
)
from builder.errors import BuildCancelled, BuildError
from builder.events import Say
from tests.unit.boot.conftest import BootTestRun, FakeKeySender, make_run


@pytest.fixture(autouse=True)
def _no_env_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_INTERVAL_ENV, raising=False)


class Pauses:
    """An injected sleep: records each pause and answers "cancelled" from call `cancel_at` on."""

    def __init__(self, cancel_at: int | None = None):
        self.calls: list[float] = []
        self.cancel_at = cancel_at

    def __call__(self, seconds: float) -> bool:
        self.calls.append(seconds)
        return self.cancel_at is not None and len(self.calls) >= self.cancel_at


def step_for(sender: FakeKeySender, pauses: Pauses, log: list[str]) -> StepTypeBootCommand:
    def connect(ctx: BootCommandRun) -> FakeKeySender:
        log.append("connect")
        return sender

    return StepTypeBootCommand(connect=connect, vm_name="packer-vm", pause=pauses)


def presses(text: str) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for c in text:
        out += [("down", c), ("up", c)]
    return out


def test_waits_connects_says_and_types_in_order() -> None:
    ctx, sink = make_run(
        boot_command=["<esc><wait>", "a:B<leftCtrlOn>c<leftCtrlOff><wait10>", "<enter>"],
        boot_key_interval="10ms",
    )
    sender, pauses, log = FakeKeySender(), Pauses(), list[str]()
    step_for(sender, pauses, log).run(ctx)
    assert sink.texts(Say) == ["Waiting 10s for boot...", "Typing the boot command over VNC..."]
    assert log == ["connect"]
    assert sender.calls == [
        ("down", "esc"),
        ("up", "esc"),
        ("down", "a"),
        ("up", "a"),
        ("down", "leftshift"),
        ("down", ":"),
        ("up", ":"),
        ("up", "leftshift"),
        ("down", "leftshift"),
        ("down", "B"),
        ("up", "B"),
        ("up", "leftshift"),
        ("down", "leftctrl"),
        ("down", "c"),
        ("up", "c"),
        ("up", "leftctrl"),
        ("down", "enter"),
        ("up", "enter"),
        ("close",),
    ]
    # boot_wait, then the interval after every key event and each <wait> in its place
    assert pauses.calls == [10.0, *[0.01] * 2, 1.0, *[0.01] * 14, 10.0, *[0.01] * 2]


def test_boot_command_is_rendered_with_the_run_data() -> None:
    ctx, _ = make_run(
        user_vars={"ks": "ks.cfg"},
        boot_command=["{{ .HTTPIP }}:{{ .HTTPPort }}/{{ user `ks` }} {{ .Name }}"],
        boot_key_interval="1ms",
    )
    sender = FakeKeySender()
    step_for(sender, Pauses(), []).run(ctx)
    downs = [call[1] for call in sender.calls if call[0] == "down"]
    typed = "".join(key for key in downs if key != "leftshift")
    assert typed == "10.0.2.2:8080/ks.cfg packer-vm"


def test_negative_boot_wait_does_not_wait_and_no_interval_with_zero_env(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(KEY_INTERVAL_ENV, "0s")
    ctx, sink = make_run(boot_command=["ab"], boot_wait="-1s")
    sender, pauses = FakeKeySender(), Pauses()
    step_for(sender, pauses, []).run(ctx)
    assert sink.texts(Say) == ["Typing the boot command over VNC..."]
    assert pauses.calls == []
    assert sender.calls == [*presses("ab"), ("close",)]


def test_default_interval_is_100ms_and_an_empty_command_still_waits_and_connects() -> None:
    ctx, sink = make_run(boot_wait="2s")
    sender, pauses, log = FakeKeySender(), Pauses(), list[str]()
    step_for(sender, pauses, log).run(ctx)
    assert pauses.calls == [2.0] and log == ["connect"] and sender.calls == [("close",)]
    ctx, _ = make_run(boot_command=["x"], boot_wait="-1s")
    pauses = Pauses()
    step_for(FakeKeySender(), pauses, []).run(ctx)
    assert pauses.calls == [0.1, 0.1]


def test_cancel_during_boot_wait_never_connects() -> None:
    ctx, sink = make_run(boot_command=["<enter>"])
    log: list[str] = []
    with pytest.raises(BuildCancelled):
        step_for(FakeKeySender(), Pauses(cancel_at=1), log).run(ctx)
    assert log == [] and sink.texts(Say) == ["Waiting 10s for boot..."]


def test_ctrl_c_during_a_real_boot_wait_ends_the_step() -> None:
    """The default pause is the run's cancel token: cancelling wakes the hour-long wait."""
    ctx, _ = make_run(boot_command=["<enter>"], boot_wait="1h")
    log: list[str] = []

    def connect(run: BootCommandRun) -> FakeKeySender:
        log.append("connect")
        return FakeKeySender()

    step = StepTypeBootCommand(connect=connect)
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            step.run(ctx)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    ctx.cancel.cancel()
    worker.join(timeout=30)
    assert not worker.is_alive()
    assert [type(e) for e in outcome] == [BuildCancelled] and log == []


def test_cancel_while_typing_stops_and_closes() -> None:
    ctx, _ = make_run(boot_command=["abc<wait5m>def"], boot_wait="-1s")
    sender = FakeKeySender()
    step = step_for(sender, Pauses(cancel_at=7), [])  # the 7th pause is the <wait5m>
    with pytest.raises(BuildCancelled):
        step.run(ctx)
    assert sender.calls == [*presses("abc"), ("close",)]
    step.cleanup(ctx)
    step.cleanup(ctx)
    assert sender.calls.count(("close",)) == 1


def test_a_cancelled_run_types_nothing_more() -> None:
    ctx, _ = make_run(boot_command=["abc"], boot_wait="-1s", boot_key_interval="1ms")
    sender = FakeKeySender()

    def pause(seconds: float) -> bool:
        ctx.cancel.cancel()  # cancelled elsewhere, the pause itself did not notice
        return False

    step = StepTypeBootCommand(connect=lambda c: sender, pause=pause)
    with pytest.raises(BuildCancelled):
        step.run(ctx)
    assert sender.calls == [("down", "a"), ("close",)]


def test_sender_failure_is_a_build_error_and_closes() -> None:
    ctx, _ = make_run(boot_command=["abc"], boot_wait="-1s")
    sender = FakeKeySender(fail_after=3)
    with pytest.raises(BuildError, match="^Error running boot command: .*Connection reset"):
        step_for(sender, Pauses(), []).run(ctx)
    assert sender.calls[-1] == ("close",)


def test_render_and_parse_errors_are_packers() -> None:
    ctx, _ = make_run(boot_command=["{{ .Nope }}"], boot_wait="-1s")
    sender = FakeKeySender()
    with pytest.raises(BuildError, match="^Error preparing boot command: .*Nope"):
        step_for(sender, Pauses(), []).run(ctx)
    assert sender.calls == [("close",)]
    ctx, _ = make_run(boot_command=["<wait{{ user `w` }}>"], user_vars={"w": "-5s"})
    with pytest.raises(BuildError, match="^Error generating boot command: .*Got -5s"):
        step_for(FakeKeySender(), Pauses(), []).run(ctx)


def test_key_events_hold_shift_as_packer_does() -> None:
    assert key_events([KeyDown("A", True), KeyUp("A", True), KeyPress("x"), Wait(2.0)]) == [
        ("leftshift", True),
        ("A", True),
        ("leftshift", False),
        ("A", False),
        ("x", True),
        ("x", False),
        Wait(2.0),
    ]


def test_the_run_protocol_is_met_by_a_platform_run() -> None:
    ctx: BootCommandRun = make_run()[0]
    assert isinstance(ctx, BootTestRun) and ctx.http_ip == "10.0.2.2"
