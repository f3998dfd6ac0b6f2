"""`pybuild console` and `pybuild inspect` of HCL2: expressions evaluated with a template's
names, values printed as Packer prints them (its repl's FormatResult)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from builder.template.hcl2 import syntax as s
from builder.template.hcl2.evaluate import EvalError, Evaluator, Scope
from builder.template.hcl2.values import Deferred, format_number, is_unknown

if TYPE_CHECKING:
    from builder.template.hcl2.decode import Hcl2Template

HELP = """\
The Packer console allows you to experiment with Packer interpolations.
You may access variables in the Packer config you called the console with.

Type in the interpolation to test and hit <enter> to see the result.

"variables" will dump all available variables and their values.

To exit the console, type "exit" and hit <enter>, or use Control-C.

/!\\ It is not possible to use go templating interpolation like {{timestamp}}
with in HCL2 mode."""
SENSITIVE = "<sensitive>"


def evaluate_text(
    text: str, names: Mapping[str, Any] | None = None, basedir: str | None = None
) -> Any:
    """The value of an HCL expression; EvalError or SyntaxErr when it has none."""
    from builder.template.funcs import START_TIME
    from builder.template.hcl2.functions import SPECIAL, make_functions, templatefile_function

    root = os.path.abspath(basedir or os.getcwd())
    scope = Scope(
        dict(names or {}),
        make_functions(root, START_TIME),
        {**SPECIAL, "templatefile": templatefile_function(root)},
    )
    return Evaluator().eval(s.parse_expression(text, "<console-input>"), scope)


def template_names(t: Hcl2Template | None, basedir: str | None = None) -> dict[str, Any]:
    """The names an expression sees at the top level of a template: var, local, path, packer."""
    from builder.template.funcs import PACKER_VERSION

    root = os.path.abspath(basedir or (os.path.dirname(t.files[0]) if t and t.files else "."))
    names: dict[str, Any] = {
        "path": {"root": root.replace("\\", "/"), "cwd": os.getcwd().replace("\\", "/")},
        "packer": {"version": PACKER_VERSION},
    }
    if t is not None:
        names["var"] = {n: v.value for n, v in t.input_variables.items()}
        names["local"] = dict(t.locals)
    return names


def format_result(value: Any, nested: bool = False) -> str:
    """A value as Packer's console prints it (repl.FormatResult)."""
    if is_unknown(value):
        return "<unknown>"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return format_number(value)
    if isinstance(value, (str, Deferred)):
        return _go_quote(str(value)) if nested else str(value)
    if isinstance(value, dict):
        if not value:
            return "{}"
        lines = [
            _indent(f"{_go_quote(str(k))} = {format_result(v, True)}")
            for k, v in sorted(value.items())
        ]
        return "{\n" + "\n".join(lines) + "\n}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        return "[\n" + "".join(_indent(format_result(v, True)) + ",\n" for v in value) + "]"
    return "<unknown-type>"


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def _go_quote(text: str) -> str:
    """Go's %q for the strings Packer prints (printable Unicode kept as is)."""
    return json.dumps(text, ensure_ascii=False)


def _shown(value: Any, sensitive: bool) -> str:
    return _go_quote(SENSITIVE if sensitive else format_result(value))


def variables_text(t: Hcl2Template | None) -> str:
    """Packer's `> input-variables:` / `> local-variables:` listing; sensitive ones masked."""
    out = ["> input-variables:\n\n"]
    if t is None:
        return out[0] + "\n> local-variables:\n\n"
    for name in sorted(t.input_variables):
        v = t.input_variables[name]
        out.append(f"var.{name}: {_shown(v.value, v.sensitive)}\n")
    out.append("\n> local-variables:\n\n")
    secret = set(t.secrets)
    for name in sorted(t.locals):
        value = t.locals[name]
        hidden = isinstance(value, str) and value in secret and value != ""
        out.append(f"local.{name}: {_shown(value, hidden)}\n")
    return "".join(out)


def builds_text(t: Hcl2Template) -> str:
    """Packer's `> builds:` listing of `inspect`: each build block's sources, provisioners
    and post-processor chains."""
    out = ["> builds:\n"]
    for bi, block in enumerate(t.build_blocks):
        name = block["name"] or f"<unnamed build {bi}>"
        out.append(f"\n  > {name}:\n")
        if block["description"]:
            out.append(f"\n  > Description: {block['description']}\n")
        out.append("\n    sources:\n")
        prefix = block["name"] + "." if block["name"] else ""
        if not block["builds"]:
            out.append("\n      <no source>\n")
        for full in block["builds"]:
            out.append(f"\n      {full.removeprefix(prefix)}\n")
        out.append("\n    provisioners:\n\n")
        where = f"build[{bi}]"
        seen: set[Any] = set()
        provs = []
        for p in t.provisioners:
            if p.path[0] == where and p.path not in seen:
                seen.add(p.path)
                provs.append(p.type)
        if not provs:
            out.append("      <no provisioner>\n")
        out.extend(f"      {p}\n" for p in provs)
        out.append("\n    post-processors:\n")
        chains: dict[Any, list[str]] = {}
        for chain in t.post_processors:
            for pp in chain:
                if pp.path[0] != where:
                    continue
                key = pp.path[:3]
                members = chains.setdefault(key, [])
                shown = pp.type if pp.name == pp.type else f"{pp.type}.{pp.name}"
                index = int(pp.path[3]) if len(pp.path) > 3 else 0
                if len(members) <= index:
                    members.append(shown)
        if not chains:
            out.append("\n      <no post-processor>\n")
        for i, members in enumerate(chains.values()):
            out.append(f"\n      {i}:\n")
            out.extend(f"        {m}\n" for m in members)
    return "".join(out)


__all__ = [
    "HELP",
    "EvalError",
    "builds_text",
    "evaluate_text",
    "format_result",
    "template_names",
    "variables_text",
]
