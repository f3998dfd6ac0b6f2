"""User variables: defaults < -var-file < -var, {{env}} only here, variables that use variables."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from builder.errors import ConfigErrors, Location, TemplateError, VariableError
from builder.template.template import Template


def parse_var_flag(arg: str) -> tuple[str, str]:
    """`k=v` from `-var`; split at the first '='."""
    if "=" not in arg:
        raise VariableError(
            f"invalid value {arg!r} for flag -var: expected NAME=VALUE (no '=' in it)"
        )
    key, value = arg.split("=", 1)
    if not key:
        raise VariableError(f"invalid value {arg!r} for flag -var: the variable name is empty")
    return key, value


def read_var_file(path: str) -> dict[str, str]:
    """A -var-file: a JSON object of string -> string; errors name the file."""
    from builder.template.parse import parse_json

    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise VariableError(f"variable file not found: {path}") from None
    except OSError as exc:
        raise VariableError(f"cannot read variable file {path}: {exc.strerror}") from None
    data, positions = parse_json(text, path)
    if not isinstance(data, dict):
        raise VariableError(
            "a variable file must be a JSON object of name -> string value", positions.locate(())
        )
    errors = []
    for k, v in data.items():
        if not isinstance(v, str):
            errors.append(
                VariableError(
                    f"expected a string, got {json.dumps(v)}",
                    positions.locate((k,)),
                    "quote the value",
                )
            )
    if errors:
        raise ConfigErrors(errors)
    return dict(data)


def resolve_variables(
    template: Template,
    cli_vars: Mapping[str, str] | None = None,
    var_files: Sequence[str] = (),
) -> dict[str, str]:
    """Resolve every user variable; variables may refer to others in any order."""
    from builder.template.funcs import RenderContext, UnknownUserVariable, render

    raw: dict[str, str | None] = {n: v.default for n, v in template.variables.items()}
    given: dict[str, Location] = {}
    for path in var_files:
        for k, v in read_var_file(path).items():
            raw[k] = v
            given[k] = Location(path)
    for k, v in (cli_vars or {}).items():
        raw[k] = v
        given[k] = Location(None, "-var")
    missing = [n for n, v in raw.items() if v is None]
    if missing:
        raise ConfigErrors(
            VariableError(
                f"required variable not set: {n}",
                template.variables[n].location,
                f"pass it with -var '{n}=...' or a -var-file",
            )
            for n in sorted(missing)
        )
    done: dict[str, str] = {}
    pending = dict(sorted((k, v) for k, v in raw.items() if v is not None))
    base = RenderContext(template_path=_abs(template.path), env_allowed=True, strict_user=True)
    last_missing: dict[str, str] = {}
    for _ in range(100):
        progressed = False
        last_missing = {}
        for name, value in list(pending.items()):
            try:
                out = render(value, base.with_(user_vars=done))
            except UnknownUserVariable as exc:
                last_missing[name] = exc.name
                continue
            except TemplateError as exc:
                loc = given.get(name) or template.variables[name].location
                raise VariableError(
                    f"error interpolating default value for '{name}': {exc.message}", loc
                ) from None
            done[name] = out
            del pending[name]
            progressed = True
        if not pending or not progressed:
            break
    if pending:
        errors = []
        for name in sorted(pending):
            ref = last_missing.get(name, "?")
            loc = given.get(name) or template.variables[name].location
            why = (
                f"it refers to variable '{ref}', which is not defined"
                if ref not in raw
                else f"it refers to '{ref}' in a cycle"
            )
            errors.append(VariableError(f"cannot resolve variable '{name}': {why}", loc))
        raise ConfigErrors(errors)
    return done


def _abs(path: str | None) -> str | None:
    import os

    return os.path.abspath(path) if path else None
