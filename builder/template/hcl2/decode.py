"""Packer's HCL2 language: files, variables, locals, data, sources and builds -> Template.

The result is the same Template the JSON front end makes (builders, provisioners and
post-processor chains with plugin configs), so the engine prepares and runs it unchanged.
A build block's provisioners and post-processors become specs restricted (`only`) to that
block's builds, one per source, because their values may differ per source
(`source.name`, `build.name`).
"""

from __future__ import annotations

import glob as globmod
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from builder.errors import ConfigErrors, Location, TemplateError
from builder.template import is_hcl2
from builder.template.hcl2 import syntax as s
from builder.template.hcl2.body import (
    Errors,
    HclPositions,
    attr_value,
    body_config,
    check_names,
    evaluate,
    model_shape,
    no_shape,
)
from builder.template.hcl2.evaluate import EvalError, Evaluator, Scope
from builder.template.hcl2.values import UNKNOWN, Deferred, is_unknown
from builder.template.hcl2.variables import InputVariable, decode_variables, secrets_of
from builder.template.parse import Path, format_path
from builder.template.template import (
    BuilderSpec,
    PostProcessorSpec,
    ProvisionerSpec,
    Template,
    Variable,
)

HCL_EXT, JSON_EXT = ".pkr.hcl", ".pkr.json"
TOP_BLOCKS = {
    "packer": 0,
    "source": 2,
    "variable": 1,
    "variables": 0,
    "locals": 0,
    "local": 1,
    "data": 2,
    "build": 0,
}
PACKER_HCL2_VERSION = "1.7.0"
"""The Packer release whose HCL2 language pybuild reads; `required_version` is checked against it."""


@dataclass
class Hcl2Template(Template):
    """A Template read from HCL2 files, with what only HCL2 has."""

    files: list[str] = field(default_factory=list)
    input_variables: dict[str, InputVariable] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    build_blocks: list[dict[str, Any]] = field(default_factory=list)


def template_files(path: str) -> tuple[list[str], str]:
    """The files of a template (a file, or every *.pkr.hcl in a directory) and its root."""
    if os.path.isdir(path):
        files = sorted(globmod.glob(os.path.join(globmod.escape(path), "*" + HCL_EXT)))
        files += sorted(globmod.glob(os.path.join(globmod.escape(path), "*" + JSON_EXT)))
        if not files:
            raise TemplateError(
                f"Could not find any config file in {path}: a config file must be suffixed "
                "with `.pkr.hcl` or `.pkr.json`"
            )
        return files, path
    if not os.path.exists(path):
        raise TemplateError(f"template file not found: {path}")
    return [path], os.path.dirname(path) or "."


def parse_files(files: Sequence[str]) -> list[tuple[str, s.Body]]:
    bodies: list[tuple[str, s.Body]] = []
    errors: list[TemplateError] = []
    for f in files:
        try:
            with open(f, encoding="utf-8") as fh:
                text = fh.read()
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(TemplateError(f"cannot read template {f}: {exc}", Location(f)))
            continue
        try:
            if f.endswith(JSON_EXT):
                from builder.template.hcl2.jsonsyntax import parse_json_file

                bodies.append((f, parse_json_file(text, f)))
            else:
                bodies.append((f, s.parse_file(text, f)))
        except TemplateError as exc:
            errors.append(exc)
    if errors:
        raise ConfigErrors(errors)
    return bodies


def load(
    path: str,
    cli_vars: Mapping[str, str] | None = None,
    var_files: Sequence[str] = (),
    *,
    environ: Mapping[str, str] | None = None,
    shallow: bool = False,
) -> Hcl2Template:
    """Read and evaluate an HCL2 template; every error of it together as ConfigErrors.

    `shallow` (inspect, -syntax-only) decodes the structure and the variables' defaults only.
    """
    from builder.template.funcs import PACKER_VERSION, START_TIME

    files, root = template_files(path)
    bodies = parse_files(files)
    errors = Errors()
    positions = HclPositions()
    t = Hcl2Template(path=files[0], positions=positions, files=files)
    blocks: dict[str, list[s.Block]] = {k: [] for k in TOP_BLOCKS}
    for _, body in bodies:
        check_names(body, "", errors, set(), TOP_BLOCKS)
        for b in body.blocks:
            if b.type in TOP_BLOCKS and len(b.labels) == TOP_BLOCKS[b.type]:
                blocks[b.type].append(b)
    _check_packer_block(blocks["packer"], errors, PACKER_HCL2_VERSION)
    from builder.template.hcl2.functions import SPECIAL, make_functions, templatefile_function

    absroot = os.path.abspath(root)

    functions = make_functions(absroot, START_TIME)
    special = {**SPECIAL, "templatefile": templatefile_function(absroot)}
    base = {
        # absolute, so `"${path.root}/x"` names the same file from any working directory
        "path": {"root": absroot.replace("\\", "/"), "cwd": os.getcwd().replace("\\", "/")},
        "packer": {"version": PACKER_VERSION},
    }
    ev = Evaluator(_describe_root)
    env = os.environ if environ is None else environ
    t.input_variables = decode_variables(
        ev,
        blocks["variable"],
        blocks["variables"],
        root,
        cli_vars or {},
        var_files,
        env,
        errors,
        Scope(dict(base), functions, special),
        required=not shallow,
    )
    var_values = {n: v.value for n, v in t.input_variables.items()}
    for name, v in sorted(t.input_variables.items()):
        t.variables[name] = Variable(name, v.shown_default, _loc(v.pos, f"var.{name}"))
        if v.sensitive:
            t.sensitive_variables.append(name)
    t.secrets = secrets_of(t.input_variables)
    scope = Scope({**base, "var": var_values}, functions, special)
    if not shallow:
        t.locals = _locals_and_data(ev, blocks, scope, errors, t)
    scope.variables["local"] = t.locals
    scope.variables.setdefault("data", {})
    sources = _sources(blocks["source"], errors)
    _builds(ev, blocks["build"], sources, scope, errors, t, shallow)
    t.warnings.extend(errors.warnings)
    if errors.items:
        raise ConfigErrors(errors.items)
    return t


def _positions(t: Template) -> HclPositions:
    assert isinstance(t.positions, HclPositions)
    return t.positions


def _loc(pos: s.Pos, where: str) -> Location:
    return Location(pos.file, where, pos.line, pos.column)


def _describe_root(name: str) -> str:
    if name == "build":
        return "build.* is only available in provisioner and post-processor blocks."
    if name == "source":
        return "source.* is only available in source and build blocks."
    if name in ("local", "data"):
        return f"{name}.* cannot be used here."
    return ""


# --------------------------------------------------------------------------- packer {}
def _check_packer_block(blocks: list[s.Block], errors: Errors, version: str) -> None:
    from builder.template.hcl2.versions import satisfies

    for b in blocks:
        check_names(b.body, "packer", errors, {"required_version"}, {"required_plugins": 0})
        attr = b.body.attributes.get("required_version")
        if attr is not None:
            want = _literal_string(attr.expr)
            if want is None:
                errors.add("packer.required_version", "expected a string constant", attr.pos)
            else:
                try:
                    ok = satisfies(version, want)
                except ValueError as exc:
                    errors.add(
                        "packer.required_version", f"invalid version constraint: {exc}", attr.pos
                    )
                else:
                    if not ok:
                        errors.add(
                            "packer.required_version",
                            f"Unsupported Packer Core version: this template requires Packer "
                            f"{want}; pybuild reads the HCL2 language of Packer {version}",
                            attr.pos,
                        )
        for rp in b.body.blocks:
            if rp.type == "required_plugins":
                _check_required_plugins(rp, errors)


def _literal_string(node: s.Node) -> str | None:
    if isinstance(node, s.Template) and all(isinstance(p, s.LitPart) for p in node.parts):
        return "".join(p.text for p in node.parts if isinstance(p, s.LitPart))
    return None


def _check_required_plugins(block: s.Block, errors: Errors) -> None:
    from builder.plugins import registry

    provided = set()
    for kind in ("builder", "provisioner", "post-processor"):
        try:
            provided.update(registry.names(kind))
        except KeyError:
            continue
    for name, attr in block.body.attributes.items():
        source = ""
        if isinstance(attr.expr, s.ObjectCons):
            for k, v in attr.expr.items:
                if isinstance(k, s.Literal) and k.value == "source":
                    source = _literal_string(v) or ""
        if not any(p == name or p.startswith(name + "-") for p in provided):
            errors.add(
                f"packer.required_plugins.{name}",
                f"required plugin '{name}'{f' ({source})' if source else ''} is not installed: "
                f"no builder, provisioner or post-processor named '{name}' or '{name}-*' is "
                "registered",
                attr.pos,
                "install a Python distribution that registers one in the pybuild.builders, "
                "pybuild.provisioners or pybuild.post_processors entry points",
            )


# --------------------------------------------------------------------------- locals, data
def _refs(node: Any, out: set[str]) -> set[str]:
    """`local.x` and `data.T.N` references in an expression (for the evaluation order)."""
    todo = [node]
    while todo:
        n = todo.pop()
        if isinstance(n, s.GetAttr):
            if isinstance(n.obj, s.Variable) and n.obj.name == "local":
                out.add(f"local.{n.name}")
            inner = n.obj
            if (
                isinstance(inner, s.GetAttr)
                and isinstance(inner.obj, s.Variable)
                and inner.obj.name == "data"
            ):
                out.add(f"data.{inner.name}.{n.name}")
        if isinstance(n, (s.Node, s.TemplatePart)):
            todo.extend(getattr(n, f) for f in n.__dataclass_fields__)
        elif isinstance(n, (list, tuple)):
            todo.extend(n)
    return out


@dataclass
class _Pending:
    key: str  # local.x | data.T.N
    pos: s.Pos
    expr: s.Node | None = None  # a local
    block: s.Block | None = None  # a data source
    sensitive: bool = False


def _locals_and_data(
    ev: Evaluator, blocks: dict[str, list[s.Block]], scope: Scope, errors: Errors, t: Hcl2Template
) -> dict[str, Any]:
    """Locals and data sources in dependency order; a cycle is reported with its chain."""
    pending: dict[str, _Pending] = {}

    def add(p: _Pending) -> None:
        if p.key in pending:
            first = pending[p.key].pos
            errors.add(
                p.key,
                f"Duplicate {p.key} definition; first defined at {first.file}:{first.line}",
                p.pos,
            )
            return
        pending[p.key] = p

    for b in blocks["locals"]:
        check_names(b.body, "locals", errors, set(b.body.attributes), {})
        for name, one in b.body.attributes.items():
            add(_Pending(f"local.{name}", one.pos, expr=one.expr))
    for b in blocks["local"]:
        name = b.labels[0]
        check_names(b.body, f"local.{name}", errors, {"expression", "sensitive"}, {})
        attr = b.body.attributes.get("expression")
        if attr is None:
            errors.add(f"local.{name}", 'missing required argument "expression"', b.pos)
            continue
        sens = attr_value(ev, b.body, "sensitive", scope, f"local.{name}", errors) is True
        add(_Pending(f"local.{name}", attr.pos, expr=attr.expr, sensitive=sens))
    for b in blocks["data"]:
        add(_Pending(f"data.{b.labels[0]}.{b.labels[1]}", b.pos, block=b))
    deps = {
        k: sorted(
            _refs(p.expr if p.expr is not None else p.block.body if p.block else None, set())
            & pending.keys()
        )
        for k, p in pending.items()
    }
    local_values: dict[str, Any] = {}
    data_values: dict[str, dict[str, Any]] = {}
    scope.variables["local"] = local_values
    scope.variables["data"] = data_values
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    for first in pending:
        if state.get(first):
            continue
        stack: list[tuple[str, int]] = [(first, 0)]
        state[first] = 1
        while stack:
            key, i = stack[-1]
            if i < len(deps[key]):
                stack[-1] = (key, i + 1)
                dep = deps[key][i]
                if state.get(dep) == 1:
                    chain = [k for k, _ in stack]
                    cycle = chain[chain.index(dep) :] + [dep]
                    errors.add(
                        key,
                        "Cycle in local values and data sources: " + " -> ".join(cycle),
                        pending[key].pos,
                    )
                    continue
                if not state.get(dep):
                    state[dep] = 1
                    stack.append((dep, 0))
                continue
            stack.pop()
            state[key] = 2
            _evaluate_one(ev, pending[key], scope, errors, local_values, data_values, t)
    return local_values


def _evaluate_one(
    ev: Evaluator,
    p: _Pending,
    scope: Scope,
    errors: Errors,
    local_values: dict[str, Any],
    data_values: dict[str, dict[str, Any]],
    t: Hcl2Template,
) -> None:
    if p.expr is not None:
        value = evaluate(ev, p.expr, scope, p.key, errors)
        local_values[p.key.split(".", 1)[1]] = value
        if p.sensitive:
            from builder.template.hcl2.variables import string_leaves

            t.secrets.extend(string_leaves(value))
        return
    assert p.block is not None
    dtype, dname = p.block.labels
    data_values.setdefault(dtype, {})[dname] = _data_source(ev, p.block, scope, errors, p.key, t)


def _data_source(
    ev: Evaluator, b: s.Block, scope: Scope, errors: Errors, where: str, t: Hcl2Template
) -> Any:
    dtype = b.labels[0]
    if dtype == "null":
        check_names(b.body, where, errors, {"input"}, {})
        value = attr_value(ev, b.body, "input", scope, where, errors)
        return {"input": value, "output": value}
    if dtype == "amazon-ami":
        return _amazon_ami(ev, b, scope, errors, where, t)
    errors.add(
        where,
        f'data source "{dtype}" is not supported by pybuild yet (only "null" and "amazon-ami" are)',
        b.label_pos[0] if b.label_pos else b.pos,
    )
    return UNKNOWN


def _amazon_ami(
    ev: Evaluator, b: s.Block, scope: Scope, errors: Errors, where: str, t: Hcl2Template
) -> Any:
    """Validate the data source's options as a config model, then ask the endpoint."""
    from pydantic import ValidationError

    from builder.amazon.datasource import AmiDataConfig, AmiNotFound, lookup
    from builder.config import config_errors

    positions = _positions(t)
    path: Path = (where,)
    positions.add(path, b.pos)
    before = len(errors.items)
    config = body_config(
        ev, b.body, scope, path, where, errors, positions, model_shape(AmiDataConfig)
    )
    if len(errors.items) > before:
        return UNKNOWN

    def locate(rel: tuple[Any, ...]) -> Location:
        loc = positions.locate((*path, *rel))
        return Location(loc.file, format_path((*path, *rel)), loc.line, loc.column)

    try:
        cfg = AmiDataConfig.model_validate(config)
    except ValidationError as exc:
        errors.items.extend(config_errors(exc, AmiDataConfig, where, locate).errors)
        return UNKNOWN
    problems = cfg.check()
    for e in problems:
        rel = e.location.keys or ((e.location.path,) if e.location.path else ())
        errors.items.append(TemplateError(e.message, locate(tuple(rel)), e.hint))
    if problems:
        return UNKNOWN
    t.secrets.extend(cfg.secrets())
    try:
        return lookup(cfg)
    except AmiNotFound as exc:
        errors.add(where, str(exc), b.pos)
        return UNKNOWN


# --------------------------------------------------------------------------- sources
@dataclass
class _Source:
    type: str
    name: str
    block: s.Block


def _sources(blocks: list[s.Block], errors: Errors) -> dict[str, _Source]:
    from builder.plugins import registry

    out: dict[str, _Source] = {}
    for b in blocks:
        stype, name = b.labels
        key = f"{stype}.{name}"
        if key in out:
            first = out[key].block.pos
            errors.add(
                f"source.{key}",
                f"Duplicate source block: source.{key} is already defined at {first.file}:{first.line}",
                b.pos,
            )
            continue
        if not registry.has("builder", stype):
            import difflib

            known = registry.names("builder")
            close = difflib.get_close_matches(stype, known, n=1)
            errors.add(
                f"source.{key}",
                f"Unknown source type {stype}; known builders: {', '.join(known)}",
                b.label_pos[0] if b.label_pos else b.pos,
                f"did you mean '{close[0]}'?" if close else None,
            )
            continue
        out[key] = _Source(stype, name, b)
    return out


# --------------------------------------------------------------------------- builds
class BuildObject(dict):  # type: ignore[type-arg]
    """`build.*` in a provisioner: `name` is known; every other key is deferred to run time."""

    def missing(self, key: str, pos: s.Pos) -> Any:
        if key[:1].isupper():
            return Deferred(f"{{{{ build `{key}` }}}}")
        raise EvalError(
            f'This object does not have an attribute named "{key}".', pos, "Unsupported attribute"
        )


PROVISIONER_META = {"name", "pause_before", "max_retries", "timeout", "only", "except", "override"}
POST_PROCESSOR_META = {"name", "only", "except", "keep_input_artifact"}


@dataclass
class _Use:
    """One source used by one build block: a build."""

    name: str  # the build's name: [BUILD.]TYPE.NAME
    ref: str  # TYPE.NAME as only/except match it (the local name, if given)
    source: _Source
    local_name: str
    override: s.Body | None
    pos: s.Pos


def _builds(
    ev: Evaluator,
    blocks: list[s.Block],
    sources: dict[str, _Source],
    scope: Scope,
    errors: Errors,
    t: Hcl2Template,
    shallow: bool,
) -> None:
    seen: dict[str, s.Pos] = {}
    for bi, b in enumerate(blocks):
        where = f"build[{bi}]"
        check_names(
            b.body,
            where,
            errors,
            {"name", "description", "sources"},
            {
                "source": 1,
                "provisioner": 1,
                "post-processor": 1,
                "post-processors": 0,
                "error-cleanup-provisioner": 1,
            },
        )
        bname = attr_value(ev, b.body, "name", Scope({}, {}), where, errors) or ""
        if not isinstance(bname, str):
            errors.add(f"{where}.name", "expected a string", b.body.attributes["name"].pos)
            bname = ""
        description = attr_value(ev, b.body, "description", scope, where, errors) or ""
        uses = _uses(ev, b, bi, bname, sources, errors)
        for u in uses:
            if u.name in seen:
                errors.add(
                    where,
                    f"build name {u.name} is used twice (also at {seen[u.name].file}:{seen[u.name].line})",
                    u.pos,
                    "give one of the build blocks a `name`, or the source a local `name`",
                )
                continue
            seen[u.name] = u.pos
            _add_builder(ev, u, bi, bname, scope, errors, t, shallow)
        live = [u for u in uses if seen.get(u.name) is u.pos]
        t.build_blocks.append(
            {"name": bname, "description": description, "builds": [u.name for u in live]}
        )
        _add_provisioners(ev, b, bi, bname, live, scope, errors, t, shallow)
        _add_post_processors(ev, b, bi, bname, live, scope, errors, t, shallow)


def _uses(
    ev: Evaluator, b: s.Block, bi: int, bname: str, sources: dict[str, _Source], errors: Errors
) -> list[_Use]:
    where = f"build[{bi}]"
    refs: list[tuple[str, s.Pos, s.Body | None, str]] = []
    attr = b.body.attributes.get("sources")
    if attr is not None:
        value = evaluate(ev, attr.expr, Scope({}, {}), f"{where}.sources", errors)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            items = attr.expr.items if isinstance(attr.expr, s.TupleCons) else []
            for i, v in enumerate(value):
                pos = items[i].pos if i < len(items) else attr.pos
                refs.append((v, pos, None, ""))
        elif value is not UNKNOWN:
            errors.add(
                f"{where}.sources",
                'expected a list of source references like "source.docker.app"',
                attr.pos,
            )
    for sb in b.body.blocks:
        if sb.type != "source" or len(sb.labels) != 1:
            continue
        local = ""
        name_attr = sb.body.attributes.get("name")
        if name_attr is not None:
            local = _literal_string(name_attr.expr) or ""
            if not local:
                errors.add(f"{where}.source", "name must be a string constant", name_attr.pos)
        override = s.Body(
            {k: a for k, a in sb.body.attributes.items() if k != "name"},
            sb.body.blocks,
            sb.body.pos,
        )
        refs.append((sb.labels[0], sb.pos, override, local))
    out: list[_Use] = []
    for ref, pos, extra, local in refs:
        key = ref.removeprefix("source.")
        parts = key.split(".")
        if len(parts) != 2 or not all(parts):
            errors.add(
                f"{where}.sources",
                f"Invalid source reference {ref!r}: a valid source reference looks like "
                "`source.type.name`",
                pos,
            )
            continue
        src = sources.get(key)
        if src is None:
            known = ", ".join(f"source.{k}" for k in sorted(sources)) or "none"
            errors.add(
                f"{where}.sources", f"Unknown source source.{key}; known sources: {known}", pos
            )
            continue
        local_name = local or src.name
        refname = f"{src.type}.{local_name}"
        full = f"{bname}.{refname}" if bname else refname
        out.append(_Use(full, refname, src, local_name, extra, pos))
    return out


def _source_scope(scope: Scope, u: _Use) -> Scope:
    return scope.child(source={"type": u.source.type, "name": u.local_name})


def _add_builder(
    ev: Evaluator,
    u: _Use,
    bi: int,
    bname: str,
    scope: Scope,
    errors: Errors,
    t: Hcl2Template,
    shallow: bool,
) -> None:
    from builder.plugins import registry

    path: Path = (f"source.{u.source.type}.{u.source.name}",)
    _positions(t).add(path, u.source.block.pos)
    _positions(t).add(
        (*path, "type"),
        u.source.block.label_pos[0] if u.source.block.label_pos else u.source.block.pos,
    )
    config: dict[str, Any] = {}
    if not shallow:
        try:
            shape = model_shape(registry.load("builder", u.source.type).Config)
        except Exception:  # noqa: BLE001 - the engine reports a plugin that does not load
            shape = no_shape
        body = u.source.block.body
        if u.override is not None:
            body = s.Body(
                {**body.attributes, **u.override.attributes},
                [
                    *[x for x in body.blocks if x.type not in {o.type for o in u.override.blocks}],
                    *u.override.blocks,
                ],
                body.pos,
            )
            for name, attr in u.override.attributes.items():
                _positions(t).add((*path, name), attr.pos)
        config = body_config(
            ev, body, _source_scope(scope, u), path, str(path[0]), errors, _positions(t), shape
        )
    t.builders.append(BuilderSpec(len(t.builders), u.name, u.source.type, config, path))


def _glob_name(name: str) -> str:
    """A build name as an exact fnmatch pattern (the engine matches only/except as globs)."""
    return globmod.escape(name)


def _selected_uses(
    ev: Evaluator, body: s.Body, live: list[_Use], scope: Scope, where: str, errors: Errors
) -> list[_Use]:
    only = _names_list(ev, body, "only", scope, where, errors)
    except_ = _names_list(ev, body, "except", scope, where, errors)
    if only and except_:
        errors.add(where, "only one of 'only' or 'except' may be specified", body.pos)
    import fnmatch

    def hit(u: _Use, patterns: list[str]) -> bool:
        return any(fnmatch.fnmatchcase(u.ref, p.removeprefix("source.")) for p in patterns)

    for p in only + except_:
        if not any(fnmatch.fnmatchcase(u.ref, p.removeprefix("source.")) for u in live):
            errors.add(
                where,
                f"'{'only' if p in only else 'except'}' names '{p}', which is not a source of this build",
                body.attributes["only" if p in only else "except"].pos,
                "sources are: " + ", ".join(u.ref for u in live),
            )
    if only:
        return [u for u in live if hit(u, only)]
    return [u for u in live if not hit(u, except_)]


def _names_list(
    ev: Evaluator, body: s.Body, key: str, scope: Scope, where: str, errors: Errors
) -> list[str]:
    value = attr_value(ev, body, key, scope, where, errors)
    if value is None or value is UNKNOWN:
        return []
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [str(v) for v in value]
    errors.add(
        f"{where}.{key}",
        'expected a list of source names like "docker.app"',
        body.attributes[key].pos,
    )
    return []


def _build_scope(scope: Scope, u: _Use, bname: str) -> Scope:
    return _source_scope(scope, u).child(build=BuildObject(name=bname))


def _plugin_shape(kind: str, ptype: str) -> Any:
    from builder.plugins import registry

    try:
        return model_shape(registry.load(kind, ptype).Config)
    except Exception:  # noqa: BLE001 - the engine reports a plugin that does not load
        return no_shape


def _add_provisioners(
    ev: Evaluator,
    b: s.Block,
    bi: int,
    bname: str,
    live: list[_Use],
    scope: Scope,
    errors: Errors,
    t: Hcl2Template,
    shallow: bool,
) -> None:
    pi = 0
    for pb in b.body.blocks:
        if pb.type not in ("provisioner", "error-cleanup-provisioner") or len(pb.labels) != 1:
            continue
        ptype = pb.labels[0]
        if pb.type == "provisioner":
            path: Path = (f"build[{bi}]", "provisioner", pi)
            pi += 1
        else:
            path = (f"build[{bi}]", "error-cleanup-provisioner")
        where = format_path(path)
        _positions(t).add(path, pb.pos)
        _positions(t).add((*path, "type"), pb.label_pos[0] if pb.label_pos else pb.pos)
        uses = _selected_uses(ev, pb.body, live, scope, where, errors)
        specs: list[ProvisionerSpec] = []
        shape = no_shape if shallow else _plugin_shape("provisioner", ptype)
        for u in uses:
            inner = _build_scope(scope, u, bname)
            spec = ProvisionerSpec(len(t.provisioners), ptype, {}, path, only=[_glob_name(u.name)])
            if not shallow:
                spec.config = body_config(
                    ev,
                    pb.body,
                    inner,
                    path,
                    where,
                    errors,
                    _positions(t),
                    shape,
                    frozenset(PROVISIONER_META),
                )
                _provisioner_meta(ev, pb.body, inner, spec, u, where, errors)
            specs.append(spec)
        if pb.type == "provisioner":
            t.provisioners.extend(specs)
        elif specs:
            _set_error_cleanup(specs, t, errors, where, pb.pos)


def _set_error_cleanup(
    specs: list[ProvisionerSpec], t: Hcl2Template, errors: Errors, where: str, pos: s.Pos
) -> None:
    """The engine holds one error-cleanup-provisioner; several build blocks may share it."""
    current = t.error_cleanup_provisioner
    all_specs = specs + ([current] if current is not None else [])
    first = all_specs[0]
    if any(x.type != first.type or x.config != first.config for x in all_specs):
        errors.add(
            where,
            "pybuild runs one error-cleanup-provisioner per template for now: every build "
            "that has one must have the same",
            pos,
        )
        return
    names = [n for x in all_specs for n in x.only]
    first.only = sorted(set(names))
    t.error_cleanup_provisioner = first


def _provisioner_meta(
    ev: Evaluator,
    body: s.Body,
    scope: Scope,
    spec: ProvisionerSpec,
    u: _Use,
    where: str,
    errors: Errors,
) -> None:
    from builder.config import parse_duration

    for key in ("pause_before", "timeout"):
        value = attr_value(ev, body, key, scope, where, errors)
        if value is None or value is UNKNOWN:
            continue
        try:
            setattr(spec, key, parse_duration(value))
        except ValueError as exc:
            errors.add(
                f"{where}.{key}", f"Failed to parse {key} duration: {exc}", body.attributes[key].pos
            )
    retries = attr_value(ev, body, "max_retries", scope, where, errors)
    if retries is not None and retries is not UNKNOWN:
        if isinstance(retries, bool) or not isinstance(retries, (int, str)):
            errors.add(
                f"{where}.max_retries",
                "expected a whole number",
                body.attributes["max_retries"].pos,
            )
        else:
            spec.max_retries = retries
    override = attr_value(ev, body, "override", scope, where, errors)
    if isinstance(override, dict):
        mine = override.get(u.ref) or override.get(u.source.name)
        if isinstance(mine, dict):
            spec.config.update(mine)


def _add_post_processors(
    ev: Evaluator,
    b: s.Block,
    bi: int,
    bname: str,
    live: list[_Use],
    scope: Scope,
    errors: Errors,
    t: Hcl2Template,
    shallow: bool,
) -> None:
    chains: list[tuple[Path, list[tuple[Path, s.Block]]]] = []
    path: Path
    ci = 0
    for pb in b.body.blocks:
        if pb.type == "post-processor" and len(pb.labels) == 1:
            path = (f"build[{bi}]", "post-processor", ci)
            chains.append((path, [(path, pb)]))
            ci += 1
        elif pb.type == "post-processors" and not pb.labels:
            path = (f"build[{bi}]", "post-processors", ci)
            check_names(pb.body, format_path(path), errors, set(), {"post-processor": 1})
            members: list[tuple[Path, s.Block]] = [
                ((*path, j), x)
                for j, x in enumerate(
                    y for y in pb.body.blocks if y.type == "post-processor" and len(y.labels) == 1
                )
            ]
            if members:
                chains.append((path, members))
            ci += 1
    for u in live:
        for _, members in chains:
            specs: list[PostProcessorSpec] = []
            for j, (path, pb) in enumerate(members):
                where = format_path(path)
                _positions(t).add(path, pb.pos)
                _positions(t).add((*path, "type"), pb.label_pos[0] if pb.label_pos else pb.pos)
                if u not in _selected_uses(
                    ev, pb.body, live, scope, where, errors if u is live[0] else Errors()
                ):
                    continue
                spec = _post_processor(
                    ev,
                    pb,
                    path,
                    u,
                    bname,
                    scope,
                    errors,
                    t,
                    shallow,
                    f"{len(t.post_processors) + 1}.{j + 1}",
                )
                specs.append(spec)
            if specs:
                t.post_processors.append(specs)


def _post_processor(
    ev: Evaluator,
    pb: s.Block,
    path: Path,
    u: _Use,
    bname: str,
    scope: Scope,
    errors: Errors,
    t: Hcl2Template,
    shallow: bool,
    label: str,
) -> PostProcessorSpec:
    ptype = pb.labels[0]
    where = format_path(path)
    inner = _build_scope(scope, u, bname)
    name = attr_value(ev, pb.body, "name", inner, where, errors)
    spec = PostProcessorSpec(
        ptype,
        name if isinstance(name, str) and name else ptype,
        {},
        path,
        label,
        only=[_glob_name(u.name)],
    )
    if shallow:
        return spec
    shape = _plugin_shape("post-processor", ptype)
    spec.config = body_config(
        ev,
        pb.body,
        inner,
        path,
        where,
        errors,
        _positions(t),
        shape,
        frozenset(POST_PROCESSOR_META),
    )
    keep = attr_value(ev, pb.body, "keep_input_artifact", inner, where, errors)
    if isinstance(keep, bool):
        spec.keep_input_artifact = keep
    elif keep is not None and keep is not UNKNOWN:
        errors.add(
            f"{where}.keep_input_artifact",
            "expected a bool",
            pb.body.attributes["keep_input_artifact"].pos,
        )
    return spec


__all__ = ["Hcl2Template", "is_hcl2", "is_unknown", "load", "template_files"]
