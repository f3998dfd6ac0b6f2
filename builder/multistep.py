"""Steps with reverse-order cleanup, the cancel token and the -on-error policy."""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from typing import Any, ClassVar, Protocol

from builder.errors import BuildCancelled


class CancelToken:
    """One per run: set by Ctrl-C/SIGTERM or by the library caller; waits honour it."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._children: list[CancelToken] = []
        self._lock = threading.Lock()

    def cancel(self) -> None:
        with self._lock:
            self._event.set()
            children = list(self._children)
        for child in children:
            child.cancel()

    def child(self) -> CancelToken:
        """A token cancelled with this one, that can also be cancelled alone (timeouts)."""
        token = CancelToken()
        with self._lock:
            self._children.append(token)
            cancelled = self._event.is_set()
        if cancelled:
            token.cancel()
        return token

    def release(self, child: CancelToken) -> None:
        """Forget a child token made by `child()`."""
        with self._lock:
            if child in self._children:
                self._children.remove(child)

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        """Raise BuildCancelled if the run was cancelled."""
        if self._event.is_set():
            raise BuildCancelled()

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True when cancelled meanwhile."""
        return self._event.wait(max(0.0, seconds))


class OnError(enum.Enum):
    """What a build does when a step fails (-on-error)."""

    CLEANUP = "cleanup"
    ABORT = "abort"
    ASK = "ask"
    RUN_CLEANUP_PROVISIONER = "run-cleanup-provisioner"


class StepContext(Protocol):
    """What the runner needs from a builder's typed run context."""

    ui: Any
    cancel: CancelToken


class Step(Protocol):
    """One thing a builder does; cleanup undoes only what run created."""

    name: ClassVar[str]

    def run(self, ctx: Any) -> None: ...

    def cleanup(self, ctx: Any) -> None: ...


class RunState:
    """What the runner learned; cleanups read it (halted, error)."""

    def __init__(self) -> None:
        self.halted = False
        self.cancelled = False
        self.error: BaseException | None = None


Asker = Callable[[str], str | None]


def run_steps(
    steps: Sequence[Step | None],
    ctx: Any,
    *,
    on_error: OnError = OnError.CLEANUP,
    debug_pause: Callable[[str], None] | None = None,
    ask: Asker | None = None,
    keep_cleanup: Callable[[Step], bool] | None = None,
) -> None:
    """Run steps in order; run every started step's cleanup in reverse order.

    `ctx.state` (a RunState, if the context has one) tells cleanups whether the
    run halted. With OnError.ABORT the cleanups are skipped after a failure
    (resources stay for inspection); RUN_CLEANUP_PROVISIONER skips all but the
    steps `keep_cleanup` accepts. ASK asks `ask` what to do: c, a or r.
    """
    state: RunState = getattr(ctx, "state", None) or RunState()
    if getattr(ctx, "state", None) is None:
        try:
            ctx.state = state
        except AttributeError:
            pass
    ui = ctx.ui
    with ExitStack() as stack:
        started: list[Step] = []
        for step in [s for s in steps if s is not None]:
            if ctx.cancel.cancelled:  # between steps: cleanups see a cancelled, halted run
                state.halted = state.cancelled = True
                state.error = BuildCancelled()
                raise state.error
            stack.callback(_cleanup_quietly, step, ctx, debug_pause)
            started.append(step)
            while True:
                try:
                    step.run(ctx)
                    break
                except BaseException as exc:
                    state.halted = True
                    state.cancelled = isinstance(exc, BuildCancelled) or ctx.cancel.cancelled
                    state.error = exc
                    policy = on_error
                    if policy is OnError.ASK and not state.cancelled:
                        answer = _ask(ask, step.name, exc)
                        if answer == "r":
                            state.halted, state.error = False, None
                            continue
                        policy = OnError.ABORT if answer == "a" else OnError.CLEANUP
                    if not state.cancelled and policy in (
                        OnError.ABORT,
                        OnError.RUN_CLEANUP_PROVISIONER,
                    ):
                        kept = [
                            s
                            for s in started
                            if keep_cleanup and policy is not OnError.ABORT and keep_cleanup(s)
                        ]
                        stack.pop_all()
                        ui.error(f"Step {step.name!r} failed, aborting...")
                        for s in reversed(started):
                            if s in kept:
                                _cleanup_quietly(s, ctx, None)
                            else:
                                ui.say(f"aborted: skipping cleanup of step {s.name!r}")
                    raise
            if debug_pause is not None:
                debug_pause(f"Pausing after run of step '{step.name}'. Press enter to continue.")


def _ask(ask: Asker | None, name: str, exc: BaseException) -> str:
    if ask is None:
        return "c"
    answer = ask(
        f"Step {name!r} failed: {exc}\n"
        "[c] Clean up and exit, [a] abort without cleanup, or [r] retry step "
        "(build may fail even if retry succeeds)?"
    )
    answer = (answer or "c").strip().lower()[:1] or "c"
    return answer if answer in ("c", "a", "r") else "c"


def _cleanup_quietly(step: Step, ctx: Any, debug_pause: Callable[[str], None] | None) -> None:
    """Run one cleanup; a failure is reported and the other cleanups still run."""
    if debug_pause is not None:
        debug_pause(f"Pausing before cleanup of step '{step.name}'. Press enter to continue.")
    try:
        step.cleanup(ctx)
    except Exception as exc:  # noqa: BLE001 - reported, never raised past the runner
        ctx.ui.error(f"Error cleaning up {step.name}: {exc}")


def run_build_steps(steps: Sequence[Step | None], ctx: Any, options: Any) -> None:
    """`run_steps` with the engine's settings from a plugin's PluginOptions.

    -on-error policy, -debug pauses and ask prompts go through `ctx.ui`; with
    run-cleanup-provisioner the StepProvision cleanup still runs.
    """
    from builder.commonsteps import StepProvision

    ui = ctx.ui

    def pause(message: str) -> None:
        ui.ask(message)

    run_steps(
        steps,
        ctx,
        on_error=options.on_error,
        debug_pause=pause if options.debug else None,
        ask=ui.ask,
        keep_cleanup=lambda step: isinstance(step, StepProvision),
    )
