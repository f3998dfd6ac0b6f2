"""Running prepared builds: the parallel runner, the provisioner hook, post-processor chains.

`builder.engine.run` calls in here; `pybuild validate` and `plan` never import it (nor the
events, sinks and Ui it emits through).
"""

from __future__ import annotations

import pathlib
import threading
import time
from collections.abc import Callable

from builder.artifact import Artifact
from builder.communicator.base import Communicator
from builder.config import format_go_duration
from builder.engine import Build, BuildResult, Prepared, ProvisionerRun
from builder.errors import (
    BuildCancelled,
    BuildError,
    PybuildError,
)
from builder.events import (
    ArtifactMade,
    BuildFinished,
    BuildStarted,
    Notice,
    PostProcessorFinished,
    PostProcessorStarted,
    ProvisionerFinished,
    ProvisionerStarted,
    ResourceAction,
    ResourceEvent,
    RunFinished,
    RunStarted,
    Sink,
)
from builder.ledger import Resource, dead_runs
from builder.multistep import CancelToken
from builder.redact import Redactor
from builder.sinks import LoggingSink, RedactingSink, TeeSink
from builder.ui import Ui


# --------------------------------------------------------------------------- running
class ProvisionHook:
    """Runs a build's provisioners in order, with pause_before, timeout and max_retries."""

    def __init__(self, build: Build, redactor: Redactor, ask: Callable[[str], str | None] | None):
        self.build, self.redactor, self.ask = build, redactor, ask
        self.cleanup_error: BaseException | None = None
        self.attempts = 0  # of the provisioner running now

    def _data(self, data: dict[str, str]) -> dict[str, str]:
        full = default_build_data(self.build.options.run_uuid)
        full.update({k: v for k, v in data.items() if v is not None})
        for key in ("Password", "SSHPrivateKey", "WinRMPassword"):
            if full.get(key):
                self.redactor.add(full[key])
        return full

    def provision(self, ui: Ui, communicator: Communicator | None, data: dict[str, str]) -> None:
        full = self._data(data)
        for index, run in enumerate(self.build.provisioners):
            self._observed(ui, index, run, communicator, full)

    def _observed(
        self,
        ui: Ui,
        index: int,
        run: ProvisionerRun,
        comm: Communicator | None,
        data: dict[str, str],
    ) -> None:
        """One provisioner, announced as started and finished (with attempts) events."""
        spec, began = run.spec, time.monotonic()
        name = spec.type
        ui.sink.emit(ProvisionerStarted(ui.target, index, spec.type, name))
        self.attempts = 0
        try:
            self._run_one(ui, run, comm, data)
        except BaseException as exc:
            cancelled = isinstance(exc, BuildCancelled) or self.build.options.cancel.cancelled
            ui.sink.emit(
                ProvisionerFinished(
                    ui.target,
                    index,
                    spec.type,
                    name,
                    time.monotonic() - began,
                    "cancelled" if cancelled else "failed",
                    self.attempts,
                    describe_error(exc),
                )  # fmt: skip
            )
            raise
        ui.sink.emit(
            ProvisionerFinished(
                ui.target, index, spec.type, name, time.monotonic() - began, "ok", self.attempts
            )
        )

    def error_cleanup(
        self,
        ui: Ui,
        communicator: Communicator | None,
        data: dict[str, str],
        original: BaseException,
    ) -> None:
        if self.build.error_cleanup is None:
            return
        index = len(self.build.provisioners)
        try:
            self._observed(ui, index, self.build.error_cleanup, communicator, self._data(data))
        except Exception as exc:  # noqa: BLE001 - becomes part of the build error
            self.cleanup_error = exc

    def _run_one(
        self, ui: Ui, run: ProvisionerRun, comm: Communicator | None, data: dict[str, str]
    ) -> None:
        parent = self.build.options.cancel
        attempts = run.max_retries + 1
        for attempt in range(attempts):
            parent.check()
            self.attempts = attempt + 1
            try:
                self._attempt(ui, run, comm, data, parent)
                return
            except BuildCancelled:
                raise
            except Exception as exc:
                left = attempts - attempt - 1
                if left == 0:
                    if run.max_retries:
                        ui.error("retry limit reached.")
                    raise
                ui.error(f'Provisioner failed with "{exc}", retrying with {left} trie(s) left')

    def _attempt(
        self,
        ui: Ui,
        run: ProvisionerRun,
        comm: Communicator | None,
        data: dict[str, str],
        parent: CancelToken,
    ) -> None:
        spec = run.spec
        if self.build.options.debug and self.ask is not None:
            self.ask(f"Pausing before the next provisioner ({spec.type}). Press enter to continue.")
        if spec.pause_before > 0:
            ui.say(
                f"Pausing {format_go_duration(spec.pause_before)} before the next provisioner..."
            )
            if parent.wait(spec.pause_before):
                raise BuildCancelled()
        token = parent.child()
        timer = None
        timed_out = threading.Event()
        if spec.timeout > 0:
            ui.say(
                f"Setting a {format_go_duration(spec.timeout)} timeout for the next provisioner..."
            )

            def expire() -> None:
                timed_out.set()
                ui.error("Cancelling provisioner after a timeout...")
                token.cancel()

            timer = threading.Timer(spec.timeout, expire)
            timer.daemon = True
            timer.start()
        run.plugin.options.cancel = token
        try:
            run.plugin.provision(ui, comm, data)
        except BaseException as exc:
            if timed_out.is_set() and not parent.cancelled:
                raise BuildError(
                    f"provisioner {spec.type!r} timed out after {format_go_duration(spec.timeout)}"
                ) from exc
            raise
        finally:
            if timer is not None:
                timer.cancel()
            parent.release(token)
            run.plugin.options.cancel = parent


def default_build_data(run_uuid: str) -> dict[str, str]:
    """`{{build `X`}}` keys every build has, before the builder fills them."""
    return {
        "ID": "ERR_ID_NOT_IMPLEMENTED_BY_BUILDER",
        "Host": "",
        "Port": "",
        "User": "",
        "Password": "",
        "ConnType": "",
        "PackerRunUUID": run_uuid,
        "PackerHTTPIP": "ERR_HTTP_IP_NOT_IMPLEMENTED_BY_BUILDER",
        "PackerHTTPPort": "ERR_HTTP_PORT_NOT_IMPLEMENTED_BY_BUILDER",
        "PackerHTTPAddr": "ERR_HTTP_ADDR_NOT_IMPLEMENTED_BY_BUILDER",
        "SSHPublicKey": "",
        "SSHPrivateKey": "",
        "WinRMPassword": "",
    }


def run_post_processors(
    build: Build, ui: Ui, artifact: Artifact, cancel: CancelToken
) -> tuple[list[Artifact], list[str]]:
    """Packer's artifact flow through the chains (keep_input_artifact decides deletion)."""
    results: list[Artifact] = []
    errors: list[str] = []
    keep_original = not build.chains
    for ci, chain in enumerate(build.chains):
        prior = artifact
        abandoned = False
        for i, run in enumerate(chain):
            cancel.check()
            spec = run.spec
            if spec.name != spec.type:
                ui.say(f"Running post-processor: {spec.name} (type {spec.type})")
            else:
                ui.say(f"Running post-processor: {spec.type}")
            pp_ui = ui.child(f"{build.name} ({spec.type})")
            name, began = spec.name or spec.type, time.monotonic()
            where = (build.name, ci, i, spec.type, name)
            ui.sink.emit(PostProcessorStarted(*where, prior.id))
            try:
                out, keep, force = run.plugin.post_process(pp_ui, prior)
            except BuildCancelled:
                ui.sink.emit(PostProcessorFinished(*where, time.monotonic() - began, "cancelled"))
                raise
            except Exception as exc:  # noqa: BLE001 - recorded as the build's error
                errors.append(f"Post-processor failed: {exc}")
                seconds = time.monotonic() - began
                ui.sink.emit(
                    PostProcessorFinished(*where, seconds, "failed", error=describe_error(exc))
                )
                abandoned = True
                break
            if spec.keep_input_artifact is not None and not (
                keep and force and not spec.keep_input_artifact
            ):
                keep = spec.keep_input_artifact
            seconds = time.monotonic() - began
            output = out.id if out is not None else ""
            ui.sink.emit(PostProcessorFinished(*where, seconds, "ok", output, bool(keep)))
            if out is None:
                abandoned = True
                break
            ui.sink.emit(artifact_event(build.name, out, spec.type))
            if i == 0:
                keep_original = keep_original or keep
            elif keep:
                results.append(prior)
            else:
                _destroy(prior, ui, errors)
            prior = out
        if not abandoned:
            results.append(prior)
    if keep_original:
        results.insert(0, artifact)
    else:
        _destroy(artifact, ui, errors)
    return results, errors


def artifact_event(build: str, artifact: Artifact, post_processor: str = "") -> ArtifactMade:
    files = tuple(str(f) for f in artifact.files or ())
    text = artifact.string()
    return ArtifactMade(build, artifact.id, text, artifact.builder_id, files, post_processor)


def _destroy(artifact: Artifact, ui: Ui, errors: list[str]) -> None:
    try:
        artifact.destroy()
    except Exception as exc:  # noqa: BLE001
        errors.append(f"Error destroying artifact {artifact.id}: {exc}")


def run_build(build: Build, sink: Sink, redactor: Redactor) -> BuildResult:
    """Run one build and its post-processors; never raises."""
    ui = Ui(sink, build.name)
    cancel = build.options.cancel
    ask = getattr(sink, "ask", None)
    hook = ProvisionHook(build, redactor, ask)
    started = time.monotonic()
    result = BuildResult(build.name)
    sink.emit(BuildStarted(build.name, type=build.type))
    try:
        cancel.check()
        artifact = build.builder.run(ui, hook, cancel)
        if artifact is not None:
            sink.emit(artifact_event(build.name, artifact))
            arts, errors = run_post_processors(build, ui, artifact, cancel)
            if errors:
                result.error = BuildError("\n".join(errors), build=build.name)
            else:
                result.artifacts = arts
    except BuildCancelled as exc:
        result.error, result.cancelled = exc, True
    except PybuildError as exc:
        if cancel.cancelled:
            result.error, result.cancelled = BuildCancelled(), True
        else:
            result.error = exc
            if hook.cleanup_error is not None:
                result.error = BuildError(
                    f"Cleanup failed: {hook.cleanup_error}. Original Provisioning error: {exc}"
                )
    except Exception as exc:  # noqa: BLE001 - an unexpected bug in a plugin fails its build only
        from builder.logs import logger

        logger("pybuild").exception("unexpected error in build %s", build.name)
        result.error = exc if not cancel.cancelled else BuildCancelled()
        result.cancelled = cancel.cancelled
    result.seconds = time.monotonic() - started
    err = None if result.error is None else describe_error(result.error)
    kept = tuple(a.id for a in result.artifacts)
    sink.emit(BuildFinished(build.name, result.seconds, err, result.cancelled, kept))
    return result


def describe_error(exc: BaseException) -> str:
    """An error's text for users: our errors as they are, others with their type."""
    if isinstance(exc, PybuildError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def run(prepared: Prepared, sink: Sink) -> dict[str, BuildResult]:
    """Run the prepared builds in parallel threads; returns results by build name."""
    options = prepared.options
    redactor = prepared.loaded.redactor
    sink = RedactingSink(TeeSink(sink, LoggingSink()), redactor)
    ledger = options.ledger
    if options.record_resources and not ledger.durable and prepared.builds:
        directory = pathlib.Path(options.state_dir) if options.state_dir else None
        _report_leftovers(sink, directory)
        ledger.start(directory=directory, template=prepared.loaded.path)
    observer = _resource_events(sink)
    ledger.observers.append(observer)
    sink.emit(RunStarted("", options.run_uuid, tuple(b.name for b in prepared.builds)))
    try:
        return _run_builds(prepared, sink, redactor)
    finally:
        ledger.observers.remove(observer)
        ledger.close()


def _resource_events(sink: Sink) -> Callable[[str, str, Resource], None]:
    actions: dict[str, ResourceAction] = {
        "create": "creating",
        "created": "created",
        "released": "released",
        "kept": "kept",
    }

    def observe(rec: str, build: str, res: Resource) -> None:
        action = actions.get(rec)
        if action is not None:
            sink.emit(ResourceEvent(build, action, res.ref, res.id, res.name))

    return observe


def _report_leftovers(sink: Sink, directory: pathlib.Path | None) -> None:
    """Say when runs that died (killed, crashed) left resources behind, and what to do."""
    runs = list(dead_runs(directory))
    if not runs:
        return
    count = sum(len(r.outstanding()) for r in runs)
    sink.emit(
        Notice(
            "",
            f"{count} resource(s) left behind by {len(runs)} earlier run(s) that did not "
            "finish; `pybuild cleanup -dry-run` lists them and `pybuild cleanup` removes them",
        )
    )


def _run_builds(prepared: Prepared, sink: Sink, redactor: Redactor) -> dict[str, BuildResult]:
    options = prepared.options
    limit = 1 if options.debug else options.parallel_builds
    gate = threading.Semaphore(limit if limit and limit > 0 else len(prepared.builds) or 1)
    results: dict[str, BuildResult] = {}
    started = time.monotonic()

    def worker(build: Build) -> None:
        with gate:
            if options.cancel.cancelled:
                results[build.name] = BuildResult(
                    build.name, error=BuildCancelled(), cancelled=True
                )
                return
            results[build.name] = run_build(build, sink, redactor)

    threads = [
        threading.Thread(target=worker, args=(b,), name=f"build-{b.name}", daemon=True)
        for b in prepared.builds
    ]
    for th in threads:
        th.start()
        if limit == 1:
            th.join()
    for th in threads:
        th.join()
    elapsed = time.monotonic() - started
    errors = tuple(
        (n, describe_error(r.error))
        for n, r in sorted(results.items())
        if r.error is not None and not r.cancelled
    )
    errors += tuple((n, str(e)) for n, e in sorted(prepared.errors.items()))
    arts = tuple((n, tuple(r.artifacts)) for n, r in sorted(results.items()) if r.error is None)
    cancelled = options.cancel.cancelled
    sink.emit(RunFinished("", elapsed, arts, tuple(sorted(errors)), cancelled))
    return results


def interrupt_notice(sink: Sink) -> None:
    sink.emit(Notice("", "Cancelling build after receiving interrupt. Cleaning up..."))
