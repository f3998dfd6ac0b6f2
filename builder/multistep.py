"""Steps with reverse-order cleanup, the cancel token and the -on-error policy."""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from typing import ClassVar, Protocol, TypeVar

from builder import faults
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


class StepUi(Protocol):
    """The part of the Ui the runner uses."""

    def say(self, text: str) -> None: ...
    def error(self, text: str) -> None: ...
    def ask(self, prompt: str) -> str | None: ...


class RunState:
    """What the runner learned; cleanups read it. `failed` is the one answer to "did it fail"."""

    def __init__(self) -> None:
        self.error: BaseException | None = None
        self.cancelled = False

    @property
    def failed(self) -> bool:
        """True once a step raised (or the run was cancelled) and no retry succeeded."""
        return self.error is not None

    def fail(self, exc: BaseException, cancelled: bool) -> None:
        self.error, self.cancelled = exc, cancelled or isinstance(exc, BuildCancelled)

    def recover(self) -> None:
        self.error, self.cancelled = None, False


class StepContext(Protocol):
    """What the runner needs from a builder's typed run context."""

    @property
    def ui(self) -> StepUi: ...
    @property
    def cancel(self) -> CancelToken: ...
    @property
    def state(self) -> RunState: ...


Ctx = TypeVar("Ctx", contravariant=True)
C = TypeVar("C", bound=StepContext)


class Step(Protocol[Ctx]):
    """One thing a builder does; cleanup undoes only what run created.

    `keep_on_abort`: with -on-error=run-cleanup-provisioner, this step's cleanup still
    runs (the provisioning step, whose cleanup runs the error-cleanup provisioner).
    """

    name: ClassVar[str]

    def run(self, ctx: Ctx) -> None: ...

    def cleanup(self, ctx: Ctx) -> None: ...


Asker = Callable[[str], str | None]
# (step name, phase, seconds, outcome): phase "run" or "cleanup"; "started" has no seconds
StepObserver = Callable[[str, str, float, str], None]


def run_steps(
    steps: Sequence[Step[C] | None],
    ctx: C,
    *,
    on_error: OnError = OnError.CLEANUP,
    debug_pause: Callable[[str], None] | None = None,
    ask: Asker | None = None,
    observe: StepObserver | None = None,
) -> None:
    """Run steps in order; run every started step's cleanup in reverse order.

    `ctx.state` tells cleanups whether the run failed. With OnError.ABORT the cleanups
    are skipped after a failure (resources stay for inspection); RUN_CLEANUP_PROVISIONER
    skips all but the steps marked `keep_on_abort`. ASK asks `ask` what to do: c, a or r;
    a retried step is cleaned up before it runs again. `observe` hears each step start,
    finish (ok, failed or cancelled) and clean up, with its duration.
    """
    state, ui = ctx.state, ctx.ui
    seen: StepObserver = observe or _unobserved
    with ExitStack() as stack:
        started: list[Step[C]] = []
        for step in [s for s in steps if s is not None]:
            if ctx.cancel.cancelled:  # between steps: cleanups see a cancelled, failed run
                state.fail(BuildCancelled(), True)
                raise BuildCancelled()
            faults.point(f"step:{step.name}")
            stack.callback(_cleanup_quietly, step, ctx, debug_pause, seen)
            started.append(step)
            while True:
                seen(step.name, "run", 0.0, "started")
                began = time.monotonic()
                try:
                    step.run(ctx)
                    seen(step.name, "run", time.monotonic() - began, "ok")
                    break
                except BaseException as exc:
                    state.fail(exc, ctx.cancel.cancelled)
                    outcome = "cancelled" if state.cancelled else "failed"
                    seen(step.name, "run", time.monotonic() - began, outcome)
                    policy = on_error
                    if policy is OnError.ASK and not state.cancelled:
                        answer = _ask(ask, step.name, exc)
                        if answer == "r":
                            _cleanup_quietly(step, ctx, None, seen)
                            state.recover()
                            continue
                        policy = OnError.ABORT if answer == "a" else OnError.CLEANUP
                    if not state.cancelled and policy in (
                        OnError.ABORT,
                        OnError.RUN_CLEANUP_PROVISIONER,
                    ):
                        stack.pop_all()
                        ui.error(f"Step {step.name!r} failed, aborting...")
                        for s in reversed(started):
                            keep = policy is not OnError.ABORT and getattr(
                                s, "keep_on_abort", False
                            )
                            if keep:
                                _cleanup_quietly(s, ctx, None, seen)
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


def _unobserved(name: str, phase: str, seconds: float, outcome: str) -> None:
    pass


def _cleanup_quietly(
    step: Step[C],
    ctx: C,
    debug_pause: Callable[[str], None] | None,
    seen: StepObserver = _unobserved,
) -> None:
    """Run one cleanup; a failure is reported and the other cleanups still run."""
    if debug_pause is not None:
        debug_pause(f"Pausing before cleanup of step '{step.name}'. Press enter to continue.")
    began, outcome = time.monotonic(), "ok"
    try:
        step.cleanup(ctx)
    except Exception as exc:  # noqa: BLE001 - reported, never raised past the runner
        outcome = "failed"
        ctx.ui.error(f"Error cleaning up {step.name}: {exc}")
    finally:
        seen(step.name, "cleanup", time.monotonic() - began, outcome)


class EngineOptions(Protocol):
    """The engine settings `run_build_steps` reads (a plugin's PluginOptions)."""

    @property
    def on_error(self) -> OnError: ...
    @property
    def debug(self) -> bool: ...


def run_build_steps(
    steps: Sequence[Step[C] | None],
    ctx: C,
    options: EngineOptions,
    observe: StepObserver | None = None,
) -> None:
    """`run_steps` with the engine's settings: -on-error, -debug pauses, ask prompts."""
    ui = ctx.ui

    def pause(message: str) -> None:
        ui.ask(message)

    run_steps(
        steps,
        ctx,
        on_error=options.on_error,
        debug_pause=pause if options.debug else None,
        ask=ui.ask,
        observe=observe,
    )
