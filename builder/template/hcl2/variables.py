"""Input variables: declarations, Packer's precedence, type constraints, validation rules.

Precedence, lowest first: the default < PKR_VAR_name in the environment < *.auto.pkrvars.hcl
beside the template < each -var-file in order < -var.
"""

from __future__ import annotations

import glob as globmod
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from builder.template.hcl2 import syntax as s
from builder.template.hcl2.body import Errors, check_names, evaluate
from builder.template.hcl2.evaluate import EvalError, Evaluator, Scope
from builder.template.hcl2.values import (
    NUMBER,
    STRING,
    UNKNOWN,
    ConversionError,
    Type,
    format_number,
)

ENV_PREFIX = "PKR_VAR_"
_MISSING: Any = object()


@dataclass
class Validation:
    condition: s.Node
    error_message: str
    pos: s.Pos


@dataclass
class InputVariable:
    """A `variable` block and the value it ends up with."""

    name: str
    pos: s.Pos
    type: Type | None = None
    default: Any = _MISSING
    description: str = ""
    sensitive: bool = False
    validations: list[Validation] = field(default_factory=list)
    value: Any = UNKNOWN
    set_from: str = "default"

    @property
    def required(self) -> bool:
        return self.default is _MISSING

    @property
    def shown_default(self) -> str | None:
        """The default as `inspect` shows it (None: required)."""
        if self.default is _MISSING:
            return None
        return show(self.default)


def show(value: Any) -> str:
    """A value as text: strings as they are, others as HCL/JSON would write them."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return format_number(value)
    if value is None:
        return "null"
    return json.dumps(value, separators=(", ", ": "))


def string_leaves(value: Any) -> list[str]:
    """Every string (and number, bool) inside a value, as text: what must be masked."""
    out: list[str] = []
    todo = [value]
    while todo:
        v = todo.pop()
        if isinstance(v, dict):
            todo.extend(v.values())
        elif isinstance(v, list):
            todo.extend(v)
        elif v is not None and v is not UNKNOWN:
            text = show(v)
            if text:
                out.append(text)
    return out


def secrets_of(variables: Mapping[str, InputVariable]) -> list[str]:
    out: list[str] = []
    for v in variables.values():
        if v.sensitive:
            out.extend(string_leaves(v.value))
    return out


def decode_variables(
    ev: Evaluator,
    blocks: list[s.Block],
    plural: list[s.Block],
    root: str,
    cli_vars: Mapping[str, str],
    var_files: Sequence[str],
    env: Mapping[str, str],
    errors: Errors,
    scope: Scope,
    required: bool = True,
) -> dict[str, InputVariable]:
    from builder.template.hcl2.functions import env_function

    default_scope = Scope(
        {k: v for k, v in scope.variables.items() if k in ("path", "packer")},
        {**scope.functions, "env": env_function(env)},
        scope.special,
    )
    out: dict[str, InputVariable] = {}
    for b in blocks:
        v = _declaration(ev, b, default_scope, errors, out)
        if v is not None:
            out[v.name] = v
    for b in plural:
        for name, attr in b.body.attributes.items():
            if name in out:
                errors.add(
                    f"var.{name}", f"Duplicate variable: {name} is already declared", attr.pos
                )
                continue
            v = InputVariable(name, attr.pos)
            v.default = evaluate(ev, attr.expr, default_scope, f"var.{name}", errors)
            out[name] = v
    for v in out.values():
        v.value = v.default
    _from_env(ev, out, env, errors)
    files = sorted(globmod.glob(os.path.join(globmod.escape(root), "*.auto.pkrvars.hcl")))
    files += sorted(globmod.glob(os.path.join(globmod.escape(root), "*.auto.pkrvars.json")))
    for path in [*files, *var_files]:
        _from_file(ev, path, out, errors)
    for name, text in cli_vars.items():
        v = out.get(name)
        if v is None:
            errors.add(
                "-var",
                f'Undefined -var variable: a "{name}" variable was passed in the command line '
                f'but was not found in known variables; to declare variable "{name}", place '
                "this block in one of your .pkr files, such as variables.pkr.hcl",
                None,
            )
            continue
        value = _from_text(ev, text, v, f"<value for var.{name} from arguments>", errors)
        if value is not UNKNOWN:
            _assign(v, value, "cmd", None, errors, "Invalid argument value for -var variable")
    for v in out.values():
        if v.value is _MISSING:
            v.value = UNKNOWN
            if required:
                errors.add(
                    f"var.{v.name}",
                    f'Unset variable "{v.name}": a used variable must be set or have a default '
                    "value",
                    v.pos,
                    f"pass it with -var '{v.name}=...', a var file or PKR_VAR_{v.name}",
                )
            continue
        if required:
            _validate(ev, v, scope, errors)
    return out


def _declaration(
    ev: Evaluator, b: s.Block, scope: Scope, errors: Errors, seen: Mapping[str, InputVariable]
) -> InputVariable | None:
    from builder.template.hcl2.functions import type_expr

    name = b.labels[0]
    where = f"var.{name}"
    if name in seen:
        first = seen[name].pos
        errors.add(
            where,
            f"Duplicate variable: {name} is already declared at {first.file}:{first.line}",
            b.pos,
        )
        return None
    check_names(
        b.body,
        where,
        errors,
        {"type", "default", "description", "sensitive"},
        {"validation": 0},
    )
    v = InputVariable(name, b.pos)
    attrs = b.body.attributes
    if "type" in attrs:
        try:
            v.type = type_expr(attrs["type"].expr)
        except EvalError as exc:
            errors.eval_error(f"{where}.type", exc)
    if "description" in attrs:
        d = evaluate(ev, attrs["description"].expr, Scope({}, {}), f"{where}.description", errors)
        v.description = d if isinstance(d, str) else ""
    if "sensitive" in attrs:
        sens = evaluate(ev, attrs["sensitive"].expr, Scope({}, {}), f"{where}.sensitive", errors)
        v.sensitive = sens is True
    if "default" in attrs:
        default = evaluate(ev, attrs["default"].expr, scope, f"{where}.default", errors)
        if default is not UNKNOWN and v.type is not None and default is not None:
            try:
                default = v.type.convert(default)
            except ConversionError as exc:
                errors.add(
                    f"{where}.default",
                    "Invalid default value for variable: this default value is not compatible "
                    f"with the variable's type constraint: {exc}",
                    attrs["default"].pos,
                )
        v.default = default
    for vb in b.body.blocks:
        if vb.type != "validation":
            continue
        check_names(vb.body, f"{where}.validation", errors, {"condition", "error_message"}, {})
        cond = vb.body.attributes.get("condition")
        msg = vb.body.attributes.get("error_message")
        if cond is None or msg is None:
            errors.add(
                f"{where}.validation",
                'a validation block needs "condition" and "error_message"',
                vb.pos,
            )
            continue
        text = evaluate(ev, msg.expr, Scope({}, {}), f"{where}.validation", errors)
        v.validations.append(Validation(cond.expr, text if isinstance(text, str) else "", vb.pos))
    return v


def _from_env(
    ev: Evaluator, out: dict[str, InputVariable], env: Mapping[str, str], errors: Errors
) -> None:
    for key in sorted(env):
        if not key.startswith(ENV_PREFIX):
            continue
        v = out.get(key[len(ENV_PREFIX) :])
        if v is None:
            continue  # Packer ignores PKR_VAR_ names no variable declares
        value = _from_text(ev, env[key], v, f"<value for var.{v.name} from env>", errors)
        if value is not UNKNOWN:
            _assign(v, value, "env", None, errors)


def _from_text(ev: Evaluator, text: str, v: InputVariable, origin: str, errors: Errors) -> Any:
    """A -var or PKR_VAR_ value: a string for string, number and untyped variables, else HCL."""
    if v.type is None or v.type in (STRING, NUMBER):
        return text
    try:
        node = s.parse_expression(text, origin)
    except Exception as exc:  # noqa: BLE001 - a SyntaxErr, reported as the value's problem
        errors.add(f"var.{v.name}", f"Invalid value for variable {v.name}: {exc}", None)
        return UNKNOWN
    return evaluate(ev, node, Scope({}, {}), f"var.{v.name}", errors)


def _from_file(ev: Evaluator, path: str, out: dict[str, InputVariable], errors: Errors) -> None:
    if path.endswith(".json"):
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
        except FileNotFoundError:
            errors.add("-var-file", f"variable file not found: {path}", None)
            return
        except (OSError, ValueError) as exc:
            errors.add("-var-file", f"cannot read variable file {path}: {exc}", None)
            return
        if not isinstance(data, dict):
            errors.add("-var-file", f"{path}: a JSON var file must hold an object", None)
            return
        for name, value in data.items():
            _file_value(name, value, s.Pos(path, 1, 1), out, errors)
        return
    if not path.endswith(".hcl"):
        errors.add(
            "-var-file",
            f"Could not guess format of {path}: a var file must be suffixed with `.hcl` or `.json`",
            None,
        )
        return
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        errors.add("-var-file", f"variable file not found: {path}", None)
        return
    except OSError as exc:
        errors.add("-var-file", f"cannot read variable file {path}: {exc.strerror}", None)
        return
    try:
        body = s.parse_file(text, path)
    except Exception as exc:  # noqa: BLE001 - a SyntaxErr with its location
        from builder.errors import TemplateError

        if isinstance(exc, TemplateError):
            errors.items.append(exc)
        return
    for b in body.blocks:
        where = f"var.{b.labels[0]}" if b.labels else path
        if b.type == "variable":
            errors.add(
                where,
                "Variable declaration in a .pkrvar file: a .pkrvar file assigns values to "
                "variables declared in .pkr files; write `name = value` here instead",
                b.pos,
            )
        else:
            errors.add(
                where, f'Unexpected "{b.type}" block: a var file holds only `name = value`', b.pos
            )
    for name, attr in body.attributes.items():
        value = evaluate(ev, attr.expr, Scope({}, {}), f"var.{name}", errors)
        if value is not UNKNOWN:
            _file_value(name, value, attr.pos, out, errors)


def _file_value(
    name: str, value: Any, pos: s.Pos, out: dict[str, InputVariable], errors: Errors
) -> None:
    v = out.get(name)
    if v is None:
        errors.warnings.append(
            f'Undefined variable: a "{name}" variable was set in {pos.file} but was not found '
            f'in known variables; to declare variable "{name}", place this block in one of '
            "your .pkr files, such as variables.pkr.hcl"
        )
        return
    _assign(v, value, "varfile", pos, errors)


def _assign(
    v: InputVariable,
    value: Any,
    origin: str,
    pos: s.Pos | None,
    errors: Errors,
    summary: str = "Invalid value for variable",
) -> None:
    if v.type is not None and value is not None:
        try:
            value = v.type.convert(value)
        except ConversionError as exc:
            errors.add(
                f"var.{v.name}",
                f"{summary}: the value for {v.name} is not compatible with the variable's type "
                f"constraint: {exc}",
                pos or v.pos,
            )
            return
    v.value, v.set_from = value, origin


def _validate(ev: Evaluator, v: InputVariable, scope: Scope, errors: Errors) -> None:
    if v.value is UNKNOWN:
        return
    inner = Scope({"var": {v.name: v.value}}, scope.functions, scope.special)
    for rule in v.validations:
        where = f"var.{v.name}"
        try:
            ok = ev.eval(rule.condition, inner)
        except EvalError as exc:
            errors.eval_error(where, exc)
            continue
        if ok is None or not isinstance(ok, bool):
            errors.add(
                where,
                "Invalid variable validation result: validation condition expression must "
                "return either true or false",
                rule.condition.pos,
            )
            continue
        if not ok:
            origin = {"default": "default", "env": "env", "varfile": "varfile", "cmd": "cmd"}
            errors.add(
                where,
                f"Invalid value for {origin.get(v.set_from, v.set_from)} variable: "
                f"{rule.error_message} (checked by the validation rule at "
                f"{rule.pos.file}:{rule.pos.line},{rule.pos.column})",
                v.pos,
            )
