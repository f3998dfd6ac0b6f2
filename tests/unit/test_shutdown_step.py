"""StepShutdown with builder.testing's FakeCommunicator (a fake of our own boundary) and a
fake power state: graceful command, halt, communicator none, timeout, cancel.

No timing is asserted: timeouts are made small and only outcomes are checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from builder.common.run import BuildRun
from builder.common.steps.shutdown import ShutdownConfig, StepShutdown
from builder.communicator.none import NoneCommunicator
from builder.components import PluginOptions
from builder.errors import BuildCancelled, BuildError
from builder.events import Message, Say
from builder.ledger import Ledger
from builder.multistep import CancelToken, Step
from builder.template.funcs import RenderContext
from builder.testing import FakeCommunicator, RecordingSink
from builder.ui import Ui


class NoHook:
    def provision(self, ui: Any, communicator: Any, data: dict[str, str]) -> None:
        raise AssertionError("not expected")

    def error_cleanup(self, ui: Any, communicator: Any, data: dict[str, str], error: Any) -> None:
        raise AssertionError("not expected")


@dataclass(kw_only=True)
class ShutdownTestRun(BuildRun[ShutdownConfig]):
    """A platform run; `powered_off_after` polls, the fake machine is off."""

    powered_off_after: int | None = 0
    polls: int = 0
    halted: int = 0
    halt_error: Exception | None = None


def make_run(comm: Any = None, **options: Any) -> tuple[ShutdownTestRun, RecordingSink]:
    sink = RecordingSink()
    render = RenderContext(user_vars={}, template_path=None, build_name="b", build_type="t")
    ctx = ShutdownTestRun(
        ui=Ui(sink, "b"),
        cancel=CancelToken(),
        hook=NoHook(),
        options=PluginOptions(build_name="b", build_type="t", render=render),
        resources=Ledger.memory("run").build("b"),
        config=ShutdownConfig.model_validate(options),
        communicator=comm,
    )
    return ctx, sink


def is_off(ctx: ShutdownTestRun) -> bool:
    ctx.polls += 1
    return ctx.powered_off_after is not None and ctx.polls > ctx.powered_off_after


def halt(ctx: ShutdownTestRun) -> None:
    ctx.halted += 1
    if ctx.halt_error is not None:
        raise ctx.halt_error


def step() -> StepShutdown[ShutdownTestRun]:
    return StepShutdown(is_off=is_off, halt=halt, poll_interval=0.001)


# ---------------------------------------------------------------------- config
def test_config_defaults_and_durations() -> None:
    assert ShutdownConfig().shutdown_timeout == 300.0
    assert ShutdownConfig.model_validate({"shutdown_timeout": "0s"}).shutdown_timeout == 300.0
    assert ShutdownConfig.model_validate({"shutdown_timeout": "1m30s"}).shutdown_timeout == 90.0
    assert ShutdownConfig().shutdown_command == ""


# ---------------------------------------------------------------------- graceful
def test_shutdown_command_runs_then_waits_for_power_off() -> None:
    comm = FakeCommunicator()
    comm.on(r"^sudo shutdown", output=["Shutdown scheduled", "bye"])
    ctx, sink = make_run(comm, shutdown_command="sudo shutdown -P now", shutdown_timeout="1m")
    ctx.powered_off_after = 3
    steps: list[Step[ShutdownTestRun]] = [step()]  # fits a platform's step list (mypy)
    steps[0].run(ctx)
    assert comm.commands == ["sudo shutdown -P now"]
    assert comm.ran[0].timeout == 60.0
    assert sink.texts(Say) == ["Gracefully halting virtual machine..."]
    assert sink.texts(Message) == ["Shutdown scheduled", "bye"]
    assert ctx.polls == 4 and ctx.halted == 0


def test_a_dropped_connection_or_exit_status_is_not_a_failure() -> None:
    comm = FakeCommunicator()
    comm.on(r"poweroff", disconnect=True, times=1)
    comm.on(r"halt -p", exit_status=255)
    for command in ("poweroff", "halt -p"):
        ctx, _ = make_run(comm, shutdown_command=command)
        step().run(ctx)
        assert ctx.polls == 1


def test_machine_still_on_after_shutdown_timeout() -> None:
    ctx, _ = make_run(FakeCommunicator(), shutdown_command="poweroff", shutdown_timeout="20ms")
    ctx.powered_off_after = None
    with pytest.raises(BuildError) as err:
        step().run(ctx)
    assert str(err.value) == "Timeout while waiting for machine to shut down."
    assert ctx.polls >= 1


def test_a_command_that_cannot_be_sent() -> None:
    comm = FakeCommunicator()
    comm.fail_next(error=BuildError("ssh: handshake failed"))
    ctx, _ = make_run(comm, shutdown_command="poweroff")
    with pytest.raises(BuildError, match="^Failed to send shutdown command: ssh: handshake failed"):
        step().run(ctx)
    ctx, _ = make_run(None, shutdown_command="poweroff")
    with pytest.raises(BuildError, match="^Failed to send shutdown command: no communicator"):
        step().run(ctx)


# ---------------------------------------------------------------------- halt
def test_without_a_command_the_platform_halts_the_machine() -> None:
    ctx, sink = make_run(FakeCommunicator())
    step().run(ctx)
    assert ctx.halted == 1 and ctx.polls == 0
    assert sink.texts(Say) == ["Halting the virtual machine..."]


def test_a_failed_halt() -> None:
    ctx, _ = make_run(FakeCommunicator())
    ctx.halt_error = RuntimeError("qemu monitor not answering")
    with pytest.raises(BuildError, match="^Error stopping VM: qemu monitor not answering$"):
        step().run(ctx)


# ---------------------------------------------------------------------- communicator none
def test_communicator_none_waits_for_the_machine_to_power_itself_off() -> None:
    ctx, sink = make_run(NoneCommunicator(), shutdown_command="ignored")
    ctx.powered_off_after = 2
    step().run(ctx)
    assert sink.texts(Say) == ["Waiting for shutdown..."]
    assert ctx.polls == 3 and ctx.halted == 0


def test_communicator_none_timeout() -> None:
    ctx, _ = make_run(NoneCommunicator(), shutdown_timeout="10ms")
    ctx.powered_off_after = None
    with pytest.raises(BuildError, match="^Failed to shutdown$"):
        step().run(ctx)


# ---------------------------------------------------------------------- cancel
def test_cancel_while_waiting_for_power_off() -> None:
    ctx, _ = make_run(FakeCommunicator(), shutdown_command="poweroff", shutdown_timeout="1h")

    def cancelling_is_off(run: ShutdownTestRun) -> bool:
        run.cancel.cancel()
        return False

    with pytest.raises(BuildCancelled):
        StepShutdown(is_off=cancelling_is_off, halt=halt, poll_interval=30).run(ctx)


def test_cancel_while_the_command_runs() -> None:
    comm = FakeCommunicator(hang_limit=60)
    ctx, _ = make_run(comm, shutdown_command="poweroff", shutdown_timeout="1h")
    comm.on("poweroff", hang=True, effect=lambda command: ctx.cancel.cancel())
    with pytest.raises(BuildCancelled):
        step().run(ctx)
    assert ctx.polls == 0


def test_cleanup_does_nothing() -> None:
    ctx, sink = make_run(FakeCommunicator())
    step().cleanup(ctx)
    assert sink.events == [] and ctx.halted == 0
