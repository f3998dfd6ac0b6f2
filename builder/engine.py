"""Build expansion, the parallel runner, the provisioner hook and post-processor chains."""

from __future__ import annotations

import fnmatch
import pathlib
import threading
import time
import uuid as uuidlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from builder import PACKER_VERSION
from builder.artifact import Artifact
from builder.communicator.base import Communicator
from builder.components import Builder, PluginOptions, PostProcessor, Provisioner
from builder.config import PluginConfig, config_errors, format_go_duration
from builder.errors import (
    BuildCancelled,
    BuildError,
    ConfigErrors,
    Location,
    PybuildError,
    TemplateError,
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
from builder.ledger import Ledger, Resource, dead_runs
from builder.multistep import CancelToken, OnError
from builder.plugins import registry
from builder.redact import Redactor
from builder.sinks import LoggingSink, RedactingSink, TeeSink
from builder.template.funcs import RenderContext, render, render_until_stable
from builder.template.parse import Path, format_path
from builder.template.template import PostProcessorSpec, ProvisionerSpec, Template, read_template
from builder.template.variables import resolve_variables
from builder.ui import Ui


# --------------------------------------------------------------------------- loading
@dataclass
class LoadedTemplate:
    """A template with its user variables resolved and its secrets known."""

    template: Template
    variables: dict[str, str]
    redactor: Redactor

    @property
    def path(self) -> str | None:
        return self.template.path


def load_template(
    path: str,
    variables: dict[str, str] | None = None,
    var_files: Sequence[str] = (),
) -> LoadedTemplate:
    """Read a template and resolve its user variables (defaults < var files < variables)."""
    template = read_template(path)
    values = resolve_variables(template, variables, var_files)
    secrets = [values.get(n, "") for n in template.sensitive_variables]
    return LoadedTemplate(template, values, Redactor(s for s in secrets if s))


# --------------------------------------------------------------------------- options
@dataclass
class RunOptions:
    """Engine settings for one run (the CLI's flags, in library form)."""

    only: Sequence[str] = ()
    except_: Sequence[str] = ()
    parallel_builds: int = 0
    on_error: OnError = OnError.CLEANUP
    force: bool = False
    debug: bool = False
    cancel: CancelToken = field(default_factory=CancelToken)
    run_uuid: str = field(default_factory=lambda: str(uuidlib.uuid4()))
    # Where the run's resource ledger goes (default: ledger.state_dir()); None with
    # record_resources=False keeps it in memory only.
    state_dir: str | None = None
    record_resources: bool = True
    ledger: Ledger = field(init=False)

    def __post_init__(self) -> None:
        self.ledger = Ledger.memory(self.run_uuid)


# --------------------------------------------------------------------------- builds
@dataclass
class ProvisionerRun:
    """A prepared provisioner with its generic wrappers."""

    spec: ProvisionerSpec
    plugin: Provisioner
    max_retries: int


@dataclass
class PostProcessorRun:
    spec: PostProcessorSpec
    plugin: PostProcessor


@dataclass
class Build:
    """One builder with its provisioners and post-processor chains, ready to run."""

    name: str
    raw_name: str
    type: str
    builder: Builder
    provisioners: list[ProvisionerRun]
    chains: list[list[PostProcessorRun]]
    error_cleanup: ProvisionerRun | None
    options: PluginOptions
    warnings: list[str] = field(default_factory=list)


@dataclass
class BuildResult:
    """What one build produced: artifacts, or the error that stopped it."""

    name: str
    artifacts: list[Artifact] = field(default_factory=list)
    error: BaseException | None = None
    cancelled: bool = False
    seconds: float = 0.0


@dataclass
class Prepared:
    """The builds of a template; `errors` holds builds that failed to prepare."""

    loaded: LoadedTemplate
    builds: list[Build]
    errors: dict[str, ConfigErrors]
    options: RunOptions

    @property
    def all_errors(self) -> list[TemplateError]:
        out: list[TemplateError] = []
        for errs in self.errors.values():
            out.extend(errs.errors)
        return out


def _matches(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def _base_context(loaded: LoadedTemplate) -> RenderContext:
    import os

    path = loaded.template.path
    return RenderContext(
        user_vars=loaded.variables,
        template_path=os.path.abspath(path) if path else None,
        packer_version=PACKER_VERSION,
    )


def check_min_version(template: Template) -> list[TemplateError]:
    """`min_packer_version` against the Packer format version pybuild implements."""
    want = template.min_packer_version
    if not want:
        return []

    def parts(v: str) -> tuple[int, ...]:
        return tuple(int(p) for p in v.lstrip("v").split("-")[0].split("."))

    try:
        needed = parts(want)
    except ValueError:
        return [
            TemplateError(
                f"min_packer_version is invalid: {want!r}", template.locate(("min_packer_version",))
            )
        ]
    if needed > parts(PACKER_VERSION):
        return [
            TemplateError(
                f"This template requires Packer version {want} or higher; pybuild implements "
                f"Packer {PACKER_VERSION}",
                template.locate(("min_packer_version",)),
            )
        ]
    return []


def prepare(loaded: LoadedTemplate, options: RunOptions | None = None) -> Prepared:
    """Expand and check every build; template-wide errors raise, per-build ones are kept."""
    options = options or RunOptions()
    t = loaded.template
    errors: list[TemplateError] = check_min_version(t)
    if not t.builders:
        errors.append(
            TemplateError("at least one builder must be defined", t.locate(("builders",)))
        )
    base = _base_context(loaded)
    names: dict[str, str] = {}  # raw -> rendered
    for spec in t.builders:
        try:
            names[spec.name] = render_until_stable(spec.name, base)
        except TemplateError as exc:
            errors.append(TemplateError(exc.message, t.locate((*spec.path, "name"))))
    first: dict[str, int] = {}
    for spec in t.builders:
        rendered = names.get(spec.name)
        if rendered is None:
            continue
        if rendered in first:
            errors.append(
                TemplateError(
                    f"builder name renders to '{rendered}', already the name of "
                    f"builders[{first[rendered]}]",
                    t.locate((*spec.path, "name")),
                    "build names must be unique after interpolation",
                )
            )
        first.setdefault(rendered, spec.index)
    errors.extend(_check_references(t, list(names)))

    builds: list[Build] = []
    build_errors: dict[str, ConfigErrors] = {}
    for spec in sorted(t.builders, key=lambda s: names.get(s.name, s.name)):
        if spec.name not in names:
            continue
        name = names[spec.name]
        if options.only and not _matches(name, options.only):
            continue
        if options.except_ and _matches(name, options.except_):
            continue
        try:
            builds.append(_prepare_build(loaded, spec, name, base, options))
        except ConfigErrors as exc:
            build_errors[name] = exc
        except TemplateError as exc:
            build_errors[name] = ConfigErrors([exc])
    if errors:  # template-wide problems: report them with every build's, all at once
        for errs in build_errors.values():
            errors.extend(errs.errors)
        raise ConfigErrors(errors)
    return Prepared(loaded, builds, build_errors, options)


def _check_references(t: Template, raw_names: list[str]) -> list[TemplateError]:
    """only/except/override must name builders that exist."""
    out: list[TemplateError] = []

    def check(kind: str, patterns: list[str], path: Path, label: str) -> None:
        for p in patterns:
            if not any(fnmatch.fnmatchcase(n, p) for n in raw_names):
                out.append(
                    TemplateError(
                        f"'{kind}' specified builder '{p}' not found",
                        t.locate((*path, kind)),
                        f"builders are: {', '.join(raw_names)}",
                    )
                )

    provs = list(t.provisioners) + (
        [t.error_cleanup_provisioner] if t.error_cleanup_provisioner else []
    )
    for p in provs:
        check("only", p.only, p.path, "")
        check("except", p.except_, p.path, "")
        for o in p.override:
            if o not in raw_names:
                out.append(
                    TemplateError(
                        f"override '{o}' doesn't exist",
                        t.locate((*p.path, "override", o)),
                        f"builders are: {', '.join(raw_names)}",
                    )
                )
    for chain in t.post_processors:
        for pp in chain:
            check("only", pp.only, pp.path, pp.label)
            check("except", pp.except_, pp.path, pp.label)
    return out


def _selected(only: list[str], except_: list[str], raw_name: str) -> bool:
    if only and not _matches(raw_name, only):
        return False
    return not (except_ and _matches(raw_name, except_))


def _prepare_build(
    loaded: LoadedTemplate, spec: Any, name: str, base: RenderContext, options: RunOptions
) -> Build:
    t = loaded.template
    errors: list[TemplateError] = []
    ctx = base.with_(build_name=name, build_type=spec.type)

    def popts() -> PluginOptions:
        return PluginOptions(
            build_name=name,
            build_type=spec.type,
            render=ctx,
            cancel=options.cancel,
            run_uuid=options.run_uuid,
            debug=options.debug,
            force=options.force,
            on_error=options.on_error,
            redact=loaded.redactor,
            resources=options.ledger.build(name),
        )

    warnings: list[str] = []
    builder = _make(
        loaded, "builder", spec.type, spec.config, spec.path, ctx, popts(), errors, warnings
    )
    provs: list[ProvisionerRun] = []
    for p in t.provisioners:
        if not _selected(p.only, p.except_, spec.name):
            continue
        run = _make_provisioner(loaded, p, spec.name, ctx, popts(), errors)
        if run is not None:
            provs.append(run)
    cleanup = None
    ecp = t.error_cleanup_provisioner
    if ecp is not None and _selected(ecp.only, ecp.except_, spec.name):
        cleanup = _make_provisioner(loaded, ecp, spec.name, ctx, popts(), errors)
    chains: list[list[PostProcessorRun]] = []
    for chain in t.post_processors:
        runs: list[PostProcessorRun] = []
        for pp in chain:
            if options.except_ and _matches(pp.name, options.except_):
                break  # CLI -except on a post-processor name drops it and the rest of its chain
            if not _selected(pp.only, pp.except_, spec.name):
                continue
            plugin = _make(
                loaded,
                "post-processor",
                pp.type,
                pp.config,
                pp.path,
                ctx,
                popts(),
                errors,
                warnings,
            )
            if plugin is not None:
                runs.append(PostProcessorRun(pp, plugin))
        if runs:
            chains.append(runs)
    if errors:
        raise ConfigErrors(errors)
    assert builder is not None
    return Build(name, spec.name, spec.type, builder, provs, chains, cleanup, popts(), warnings)


def _make_provisioner(
    loaded: LoadedTemplate,
    p: ProvisionerSpec,
    raw_name: str,
    ctx: RenderContext,
    popts: PluginOptions,
    errors: list[TemplateError],
) -> ProvisionerRun | None:
    config = dict(p.config)
    config.update(p.override.get(raw_name, {}))
    plugin = _make(loaded, "provisioner", p.type, config, p.path, ctx, popts, errors)
    retries = 0
    try:
        text = render_until_stable(str(p.max_retries), ctx)
        retries = int(text)
        if retries < 0:
            raise ValueError
    except (ValueError, TemplateError):
        errors.append(
            TemplateError(
                f"max_retries: expected a non-negative integer, got {p.max_retries!r}",
                loaded.template.locate((*p.path, "max_retries")),
            )
        )
    if plugin is None:
        return None
    return ProvisionerRun(p, plugin, retries)  # type: ignore[arg-type]


def _render_config(
    value: Any,
    ctx: RenderContext,
    path: Path,
    deferred: frozenset[str],
    errors: list[tuple[Path, TemplateError]],
    top: bool = True,
) -> Any:
    if isinstance(value, str):
        try:
            return render(value, ctx)
        except TemplateError as exc:
            errors.append((path, exc))
            return value
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            rendered = _render_config(v, ctx, (*path, k), deferred, errors, False)
            # deferred fields are rendered by their plugin at run time; rendering them
            # here too only checks their syntax, so `validate` reports it
            out[k] = v if top and k in deferred else rendered
        return out
    if isinstance(value, list):
        return [
            _render_config(v, ctx, (*path, i), deferred, errors, False) for i, v in enumerate(value)
        ]
    return value


def _make(
    loaded: LoadedTemplate,
    kind: str,
    ptype: str,
    config: dict[str, Any],
    path: Path,
    ctx: RenderContext,
    popts: PluginOptions,
    errors: list[TemplateError],
    warnings: list[str] | None = None,
) -> Any:
    """Load a plugin class, render and validate its config, run its prepare()."""
    t = loaded.template
    try:
        cls = registry.load(kind, ptype, t.locate((*path, "type")))
    except PybuildError as exc:
        errors.append(
            exc if isinstance(exc, TemplateError) else TemplateError(str(exc), t.locate(path))
        )
        return None
    cfg_cls = cls.Config
    render_errors: list[tuple[Path, TemplateError]] = []
    rendered = _render_config(config, ctx, (), cfg_cls.deferred, render_errors)
    for rel, render_error in render_errors:
        errors.append(TemplateError(render_error.message, t.locate((*path, *rel))))
    if render_errors:
        return None
    label = f"{format_path(path)} ({ptype})"

    def locate(rel: tuple[Any, ...]) -> Location:
        loc = t.locate((*path, *rel))
        return Location(
            loc.file, format_path((*path, *rel)) if rel else label, loc.line, loc.column
        )

    try:
        cfg = cfg_cls.model_validate(rendered)
    except ValidationError as exc:
        errors.extend(config_errors(exc, cfg_cls, format_path(path), locate).errors)
        return None
    _register_secrets(cfg, loaded.redactor)
    plugin = cls(cfg, popts)
    try:
        found = plugin.prepare()
    except ConfigErrors as exc:
        errors.extend(_rebase(e, path, t) for e in exc.errors)
        return None
    except TemplateError as exc:
        errors.append(_rebase(exc, path, t))
        return None
    if warnings is not None and found:
        warnings.extend(found)
    return plugin


def _rebase(exc: TemplateError, path: Path, t: Template) -> TemplateError:
    """A plugin's error names its option (`("scripts", 1)`); give it the template path and line."""
    loc = exc.location
    rel: tuple[str | int, ...] = loc.keys or ((loc.path,) if loc.path else ())
    at = t.locate((*path, *rel))
    full = format_path((*path, *rel))
    return TemplateError(exc.message, Location(at.file, full, at.line, at.column), exc.hint)


def _register_secrets(cfg: PluginConfig, redactor: Redactor) -> None:
    redactor.add(*cfg.secrets())


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
