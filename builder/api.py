"""The one-call library entry point: `builder.build(...)`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from builder.artifact import Artifact
from builder.engine import BuildResult, LoadedTemplate, RunOptions, load_template, prepare, run
from builder.errors import ConfigErrors
from builder.events import Sink
from builder.multistep import CancelToken, OnError
from builder.testing import RecordingSink


@dataclass
class BuildReport:
    """Results by build name, with the builds that failed to prepare."""

    results: dict[str, BuildResult]
    prepare_errors: dict[str, ConfigErrors]

    @property
    def artifacts(self) -> dict[str, list[Artifact]]:
        return {n: r.artifacts for n, r in self.results.items() if r.error is None}

    @property
    def errors(self) -> dict[str, BaseException]:
        out: dict[str, BaseException] = {n: r.error for n, r in self.results.items() if r.error}
        out.update(self.prepare_errors)
        return out

    @property
    def ok(self) -> bool:
        return not self.errors


def build(
    template: str | LoadedTemplate,
    *,
    sink: Sink | None = None,
    variables: dict[str, str] | None = None,
    var_files: Sequence[str] = (),
    only: Sequence[str] = (),
    except_: Sequence[str] = (),
    parallel_builds: int = 0,
    on_error: OnError | str = OnError.CLEANUP,
    force: bool = False,
    debug: bool = False,
    cancel: CancelToken | None = None,
) -> BuildReport:
    """Load (if given a path), prepare and run every selected build; never prints.

    Template-wide errors raise ConfigErrors; a build that fails to prepare or to
    run is reported in the result and the other builds still run.
    """
    loaded = (
        template
        if isinstance(template, LoadedTemplate)
        else load_template(template, variables, var_files)
    )
    options = RunOptions(
        only=only,
        except_=except_,
        parallel_builds=parallel_builds,
        on_error=OnError(on_error),
        force=force,
        debug=debug,
        cancel=cancel or CancelToken(),
    )
    prepared = prepare(loaded, options)
    results = run(prepared, sink if sink is not None else RecordingSink())
    return BuildReport(results, prepared.errors)
