"""The step runner: reverse-order cleanup, retry after cleanup, -on-error policies, one `failed`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import pytest

from builder.errors import BuildCancelled, BuildError
from builder.multistep import CancelToken, OnError, RunState, run_steps


@dataclass
class FakeUi:
    answers: list[str] = field(default_factory=list)
    said: list[str] = field(default_factory=list)

    def say(self, text: str) -> None:
        self.said.append(text)

    def error(self, text: str) -> None:
        self.said.append("error: " + text)

    def ask(self, prompt: str) -> str | None:
        return self.answers.pop(0) if self.answers else None


@dataclass
class Ctx:
    ui: FakeUi = field(default_factory=FakeUi)
    cancel: CancelToken = field(default_factory=CancelToken)
    state: RunState = field(default_factory=RunState)
    log: list[str] = field(default_factory=list)
    live: set[str] = field(default_factory=set)


@dataclass
class Make:
    """Creates `what`; fails its first `fail` runs after creating it (a half-done step)."""

    what: str
    fail: int = 0
    name: ClassVar[str] = "Make"
    runs: int = 0
    _made: bool = False

    def run(self, ctx: Ctx) -> None:
        self.runs += 1
        ctx.log.append(f"run {self.what}")
        assert self.what not in ctx.live, "ran again without its cleanup"
        ctx.live.add(self.what)
        self._made = True
        if self.runs <= self.fail:
            raise BuildError(f"{self.what} failed")

    def cleanup(self, ctx: Ctx) -> None:
        ctx.log.append(f"cleanup {self.what} failed={ctx.state.failed}")
        if self._made:
            ctx.live.discard(self.what)
            self._made = False


@dataclass
class Provision(Make):
    keep_on_abort: ClassVar[bool] = True


def test_cleanups_run_in_reverse_order_on_success() -> None:
    ctx = Ctx()
    run_steps([Make("a"), None, Make("b")], ctx)
    assert ctx.log == ["run a", "run b", "cleanup b failed=False", "cleanup a failed=False"]
    assert not ctx.state.failed and ctx.live == set()


def test_the_failed_step_is_cleaned_up_too() -> None:
    ctx = Ctx()
    with pytest.raises(BuildError):
        run_steps([Make("a"), Make("b", fail=1), Make("c")], ctx)
    assert ctx.log == ["run a", "run b", "cleanup b failed=True", "cleanup a failed=True"]
    assert ctx.state.failed and not ctx.state.cancelled and ctx.live == set()


def test_retry_cleans_the_step_up_before_running_it_again() -> None:
    ctx = Ctx(ui=FakeUi(answers=["r"]))
    step = Make("container", fail=1)
    run_steps([step], ctx, on_error=OnError.ASK, ask=ctx.ui.ask)
    assert ctx.log == [
        "run container",
        "cleanup container failed=True",
        "run container",
        "cleanup container failed=False",
    ]
    assert step.runs == 2 and not ctx.state.failed and ctx.live == set()


def test_abort_keeps_everything_and_cleanup_provisioner_keeps_only_marked_steps() -> None:
    ctx = Ctx()
    with pytest.raises(BuildError):
        run_steps([Make("a"), Make("b", fail=1)], ctx, on_error=OnError.ABORT)
    assert ctx.live == {"a", "b"}
    ctx = Ctx()
    with pytest.raises(BuildError):
        run_steps(
            [Make("a"), Provision("p"), Make("b", fail=1)],
            ctx,
            on_error=OnError.RUN_CLEANUP_PROVISIONER,
        )
    assert ctx.live == {"a", "b"} and "cleanup p failed=True" in ctx.log


def test_cancel_between_steps_is_a_cancelled_failure() -> None:
    ctx = Ctx()

    @dataclass
    class CancelNow(Make):
        def run(self, ctx: Ctx) -> None:
            super().run(ctx)
            ctx.cancel.cancel()

    with pytest.raises(BuildCancelled):
        run_steps([CancelNow("a"), Make("b")], ctx)
    assert ctx.state.failed and ctx.state.cancelled
    assert ctx.log == ["run a", "cleanup a failed=True"]
