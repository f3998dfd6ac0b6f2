"""Loading and preparing templates into builds; `run` hands them to builder.running."""

from __future__ import annotations

import fnmatch
import uuid as uuidlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from builder import PACKER_VERSION
from builder.artifact import Artifact
from builder.components import Builder, PluginOptions, PostProcessor, Provisioner
from builder.config import PluginConfig, config_errors
from builder.errors import (
    ConfigErrors,
    Location,
    PybuildError,
    TemplateError,
)
from builder.ledger import Ledger
from builder.multistep import CancelToken, OnError
from builder.plugins import registry
from builder.redact import Redactor
from builder.template.funcs import RenderContext, render, render_until_stable
from builder.template.parse import Path, format_path
from builder.template.template import PostProcessorSpec, ProvisionerSpec, Template, read_template
from builder.template.variables import resolve_variables

if TYPE_CHECKING:
    from builder.events import Sink


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
    from builder.template import is_hcl2

    if is_hcl2(path):  # HCL2 evaluates its own variables; {{user}} sees none, as in Packer
        from builder.template.hcl2 import load

        hcl = load(path, variables, var_files)
        return LoadedTemplate(hcl, {}, Redactor(s for s in hcl.secrets if s))
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
def run(prepared: Prepared, sink: Sink) -> dict[str, BuildResult]:
    """Run the prepared builds in parallel threads; returns results by build name.

    The runner is `builder.running`, imported here: validating imports none of it.
    """
    from builder.running import run as run_prepared

    return run_prepared(prepared, sink)


def interrupt_notice(sink: Sink) -> None:
    """Say that Ctrl-C was received and the builds are cleaning up (Packer's words)."""
    from builder.running import interrupt_notice as notice

    notice(sink)
