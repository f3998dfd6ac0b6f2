"""`PlatformBuilder`: the one builder lifecycle every platform shares.

Open the driver (a context manager: closed on success, failure and cancel), record how
cleanup reaches the platform, make the typed run context, run the steps, make the
artifact. A platform declares its config class, `new_run()`, `steps()` and `artifact()`.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from builder.common.drivers import DriverFactory, public_settings
from builder.common.plan import Creates, PlannedStep
from builder.common.run import BuildRun, RunArgs
from builder.components import Builder
from builder.multistep import Step, StepObserver, run_build_steps

if TYPE_CHECKING:
    from builder.artifact import Artifact
    from builder.components import Hook
    from builder.multistep import CancelToken
    from builder.ui import Ui

R = TypeVar("R", bound=BuildRun[Any])


class PlatformBuilder(Builder, Generic[R]):
    """A builder made of steps over a typed run context `R`."""

    # The platform's driver factory; None for platforms without one (null, file).
    drivers: ClassVar[DriverFactory[Any, Any] | None] = None

    def driver_settings(self) -> Any:
        """How to reach the platform (a dataclass; secret fields marked), or None."""
        return None

    def open_driver(self) -> AbstractContextManager[Any]:
        if self.drivers is None:
            return nullcontext(None)
        return self.drivers.open(self.driver_settings())

    @abstractmethod
    def new_run(self, args: RunArgs, driver: Any) -> R:
        """The platform's run context from the engine's handles and the open driver."""

    @abstractmethod
    def steps(self) -> Sequence[Step[R] | None]:
        """The steps, in order; None entries are skipped."""

    @abstractmethod
    def artifact(self, ctx: R) -> Artifact | None:
        """What the finished build produced."""

    def plan_steps(self) -> list[tuple[str, list[Creates]]]:
        """Each step's name and what it will create, as the ledger will record it."""
        out: list[tuple[str, list[Creates]]] = []
        for step in self.steps():
            if step is None:
                continue
            creates = step.plan(self.config, self.options.build_name) if isinstance(
                step, PlannedStep
            ) else []  # fmt: skip
            out.append((step.name, list(creates)))
        return out

    def run(self, ui: Ui, hook: Hook, cancel: CancelToken) -> Artifact | None:
        resources = self.options.resources
        if self.drivers is not None:
            resources.platform(self.drivers.platform, public_settings(self.driver_settings()))
        with self.open_driver() as driver:
            args = RunArgs(ui=ui, cancel=cancel, hook=hook, options=self.options,
                           resources=resources)  # fmt: skip
            ctx = self.new_run(args, driver)
            run_build_steps(self.steps(), ctx, self.options, step_events(ui))
            return self.artifact(ctx)


def step_events(ui: Ui) -> StepObserver:
    """Step starts and ends as events of `ui`'s build (for -json and the timeline)."""
    from builder.events import StepFinished, StepOutcome, StepStarted

    def observe(name: str, phase: str, seconds: float, outcome: str) -> None:
        if outcome == "started":
            ui.sink.emit(StepStarted(ui.target, name))
        else:
            done: StepOutcome = (
                "ok" if outcome == "ok" else "cancelled" if outcome == "cancelled" else "failed"
            )
            ui.sink.emit(StepFinished(ui.target, name, seconds, done, phase == "cleanup"))

    return observe
