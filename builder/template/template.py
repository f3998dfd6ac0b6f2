"""The template model: Packer's legacy JSON format, checked section by section.

All errors of a template are collected and raised together as ConfigErrors.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from builder.config import parse_duration
from builder.errors import ConfigErrors, Location, TemplateError
from builder.template.parse import Path, Positions, parse_json

ROOT_KEYS = {
    "description",
    "min_packer_version",
    "variables",
    "sensitive-variables",
    "builders",
    "provisioners",
    "post-processors",
    "error-cleanup-provisioner",
    "push",
}
STDIN = "<stdin>"  # the file name errors give a template read from standard input
PROVISIONER_RESERVED = {
    "type",
    "only",
    "except",
    "override",
    "pause_before",
    "max_retries",
    "timeout",
}
POST_PROCESSOR_RESERVED = {"type", "name", "only", "except", "keep_input_artifact"}


@dataclass
class Variable:
    """A declared user variable; `default is None` means required."""

    name: str
    default: str | None
    location: Location

    @property
    def required(self) -> bool:
        return self.default is None


@dataclass
class BuilderSpec:
    """One entry of `builders`: its raw name (may hold {{ }}), type and plugin config."""

    index: int
    name: str
    type: str
    config: dict[str, Any]
    path: Path


@dataclass
class ProvisionerSpec:
    """One provisioner with the generic keys the engine handles itself."""

    index: int
    type: str
    config: dict[str, Any]
    path: Path
    only: list[str] = field(default_factory=list)
    except_: list[str] = field(default_factory=list)
    override: dict[str, dict[str, Any]] = field(default_factory=dict)
    pause_before: float = 0.0
    timeout: float = 0.0
    max_retries: str | int = 0


@dataclass
class PostProcessorSpec:
    """One element of a post-processor chain."""

    type: str
    name: str
    config: dict[str, Any]
    path: Path
    label: str  # Packer's numbering: "1.1" = first chain, first element
    only: list[str] = field(default_factory=list)
    except_: list[str] = field(default_factory=list)
    keep_input_artifact: bool | None = None


@dataclass
class Template:
    """A parsed template; user variables are not resolved yet."""

    path: str | None
    positions: Positions
    description: str = ""
    min_packer_version: str = ""
    variables: dict[str, Variable] = field(default_factory=dict)
    sensitive_variables: list[str] = field(default_factory=list)
    builders: list[BuilderSpec] = field(default_factory=list)
    provisioners: list[ProvisionerSpec] = field(default_factory=list)
    post_processors: list[list[PostProcessorSpec]] = field(default_factory=list)
    error_cleanup_provisioner: ProvisionerSpec | None = None

    def locate(self, path: Path) -> Location:
        return self.positions.locate(path)

    @property
    def directory(self) -> str:
        return os.path.dirname(os.path.abspath(self.path)) if self.path else os.getcwd()


def read_template(path: str) -> Template:
    """Read and check a template file (`-` reads standard input).

    HCL2 (a *.pkr.hcl file or a directory) gives its structure only, without configs:
    `builder.template.hcl2.load` evaluates it.
    """
    from builder.template import is_hcl2

    if is_hcl2(path):
        from builder.template.hcl2 import read

        return read(path)
    if path == "-":
        import sys

        return parse_template(sys.stdin.read(), STDIN)
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise TemplateError(f"template file not found: {path}") from None
    except IsADirectoryError:
        raise TemplateError(f"{path} is a directory; give the path of a JSON template") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(f"cannot read template {path}: {exc}") from None
    return parse_template(text, path)


class _Checker:
    """Collects errors with locations while the sections are decoded."""

    def __init__(self, positions: Positions):
        self.positions = positions
        self.errors: list[TemplateError] = []

    def err(self, path: Path, message: str, hint: str | None = None) -> None:
        self.errors.append(TemplateError(message, self.positions.locate(path), hint))

    def string_list(self, value: Any, path: Path) -> list[str]:
        if isinstance(value, str):
            return [v for v in value.split(",") if v]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
        self.err(path, "expected a list of strings")
        return []

    def duration(self, value: Any, path: Path) -> float:
        try:
            return parse_duration(value)
        except ValueError as exc:
            self.err(path, f'expected a duration like "1m30s": {exc}')
            return 0.0


def parse_template(text: str, file: str | None = None) -> Template:
    """Decode template text into a Template, reporting every problem at once."""
    data, positions = parse_json(text, file)
    chk = _Checker(positions)
    t = Template(path=file if file != STDIN else None, positions=positions)
    if not isinstance(data, dict):
        raise TemplateError("a template must be a JSON object", positions.locate(()))
    data = _without_nulls(data, ROOT_KEYS)
    for key in sorted(data):
        value = data[key]
        if key.startswith("_"):
            if not isinstance(value, str):
                chk.err((key,), "comment keys (starting with '_') must hold a string")
        elif key not in ROOT_KEYS:
            import difflib

            close = difflib.get_close_matches(key, sorted(ROOT_KEYS), n=1)
            chk.err(
                (key,),
                f"unknown root level key '{key}'",
                f"did you mean '{close[0]}'?" if close else None,
            )
    for key in ("description", "min_packer_version"):
        if key in data:
            if isinstance(data[key], str):
                setattr(t, key, data[key])
            else:
                chk.err((key,), "expected a string")
    _variables(data, t, chk)
    _builders(data, t, chk)
    provs = data.get("provisioners", [])
    if isinstance(provs, list):
        for i, p in enumerate(provs):
            spec = _provisioner(p, ("provisioners", i), i, chk)
            if spec is not None:
                t.provisioners.append(spec)
    else:
        chk.err(("provisioners",), "expected a list of provisioner objects")
    if "error-cleanup-provisioner" in data:
        t.error_cleanup_provisioner = _provisioner(
            data["error-cleanup-provisioner"], ("error-cleanup-provisioner",), 0, chk
        )
    _post_processors(data, t, chk)
    if chk.errors:
        raise ConfigErrors(chk.errors)
    return t


def _without_nulls(obj: dict[str, Any], keys: set[str]) -> dict[str, Any]:
    """Packer decodes a null section or generic key as not given: drop those keys."""
    return {k: v for k, v in obj.items() if v is not None or k not in keys}


def _variables(data: dict[str, Any], t: Template, chk: _Checker) -> None:
    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        chk.err(("variables",), "expected an object of variable name -> default")
        variables = {}
    for name, default in variables.items():
        path = ("variables", name)
        if default is not None and not isinstance(default, str):
            chk.err(
                path,
                f"variable '{name}': expected a string or null, "
                f"got {type(default).__name__} {json_repr(default)}",
                "quote the value: JSON templates only hold string variables",
            )
            continue
        t.variables[name] = Variable(name, default, chk.positions.locate(path))
    if "sensitive-variables" in data:
        t.sensitive_variables = chk.string_list(
            data["sensitive-variables"], ("sensitive-variables",)
        )


def json_repr(value: Any) -> str:
    import json

    return json.dumps(value)


def _builders(data: dict[str, Any], t: Template, chk: _Checker) -> None:
    builders = data.get("builders")
    if builders is None:
        builders = []
    if not isinstance(builders, list):
        chk.err(("builders",), "expected a list of builder objects")
        return
    seen: dict[str, int] = {}
    for i, b in enumerate(builders):
        path: Path = ("builders", i)
        if not isinstance(b, dict):
            chk.err(path, "expected a builder object")
            continue
        b = _without_nulls(b, {"name"})
        btype = b.get("type")
        if not isinstance(btype, str) or not btype:
            chk.err(path, "missing 'type'")
            continue
        name = b.get("name", btype)
        if not isinstance(name, str) or not name:
            chk.err((*path, "name"), "expected a non-empty string")
            continue
        if name in seen:
            chk.err(
                (*path, "name"),
                f"builder with name '{name}' already exists",
                f"builders[{seen[name]}] has the same name; give each a unique 'name'",
            )
            continue
        seen[name] = i
        config = {k: v for k, v in b.items() if k not in ("type", "name")}
        t.builders.append(BuilderSpec(i, name, btype, config, path))


def _provisioner(p: Any, path: Path, index: int, chk: _Checker) -> ProvisionerSpec | None:
    if not isinstance(p, dict):
        chk.err(path, "expected a provisioner object")
        return None
    p = _without_nulls(p, PROVISIONER_RESERVED)
    ptype = p.get("type")
    if not isinstance(ptype, str) or not ptype:
        chk.err(path, "missing 'type'")
        return None
    spec = ProvisionerSpec(
        index, ptype, {k: v for k, v in p.items() if k not in PROVISIONER_RESERVED}, path
    )
    if "only" in p:
        spec.only = chk.string_list(p["only"], (*path, "only"))
    if "except" in p:
        spec.except_ = chk.string_list(p["except"], (*path, "except"))
    if spec.only and spec.except_:
        chk.err(path, "only one of 'only' or 'except' may be specified")
    override = p.get("override", {})
    if isinstance(override, dict) and all(
        isinstance(v, (dict, type(None))) for v in override.values()
    ):
        spec.override = {k: v or {} for k, v in override.items()}
    else:
        chk.err((*path, "override"), "expected an object of build name -> settings")
    if "pause_before" in p:
        spec.pause_before = chk.duration(p["pause_before"], (*path, "pause_before"))
    if "timeout" in p:
        spec.timeout = chk.duration(p["timeout"], (*path, "timeout"))
    if "max_retries" in p:
        mr = p["max_retries"]
        if isinstance(mr, bool) or not isinstance(mr, (int, str)):
            chk.err((*path, "max_retries"), "expected an integer")
        else:
            spec.max_retries = mr
    return spec


def _post_processors(data: dict[str, Any], t: Template, chk: _Checker) -> None:
    pps = data.get("post-processors", [])
    if not isinstance(pps, list):
        chk.err(("post-processors",), "expected a list")
        return
    for i, entry in enumerate(pps):
        path: Path = ("post-processors", i)
        if isinstance(entry, list):
            chain = [(e, (*path, j)) for j, e in enumerate(entry)]
            if not chain:
                continue
        elif isinstance(entry, (str, dict)):
            chain = [(entry, path)]
        else:
            chk.err(path, "bad format: expected a string, an object or a list")
            continue
        specs = []
        for j, (e, epath) in enumerate(chain):
            spec = _post_processor(e, epath, f"{i + 1}.{j + 1}", chk)
            if spec is not None:
                specs.append(spec)
        if len(specs) == len(chain):
            t.post_processors.append(specs)


def _post_processor(e: Any, path: Path, label: str, chk: _Checker) -> PostProcessorSpec | None:
    if isinstance(e, list):
        chk.err(path, "a chain may not be nested in a chain")
        return None
    if isinstance(e, str):
        return PostProcessorSpec(e, e, {}, path, label)
    if not isinstance(e, dict):
        chk.err(path, "unknown format: expected a string or an object")
        return None
    e = _without_nulls(e, POST_PROCESSOR_RESERVED)
    ptype = e.get("type")
    if not isinstance(ptype, str) or not ptype:
        chk.err(path, "missing 'type'")
        return None
    name = e.get("name", ptype)
    if not isinstance(name, str):
        chk.err((*path, "name"), "expected a string")
        name = ptype
    spec = PostProcessorSpec(
        ptype, name, {k: v for k, v in e.items() if k not in POST_PROCESSOR_RESERVED}, path, label
    )
    if "only" in e:
        spec.only = chk.string_list(e["only"], (*path, "only"))
    if "except" in e:
        spec.except_ = chk.string_list(e["except"], (*path, "except"))
    if spec.only and spec.except_:
        chk.err(path, "only one of 'only' or 'except' may be specified")
    if "keep_input_artifact" in e:
        k = e["keep_input_artifact"]
        if isinstance(k, bool):
            spec.keep_input_artifact = k
        elif isinstance(k, str) and k.lower() in ("true", "false", "1", "0"):
            spec.keep_input_artifact = k.lower() in ("true", "1")
        else:
            chk.err((*path, "keep_input_artifact"), "expected a boolean (true or false)")
    return spec
