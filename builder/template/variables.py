"""User variables: defaults < -var-file < -var, {{env}} only here, variables that use variables."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from builder.errors import ConfigErrors, Location, TemplateError, VariableError
from builder.template.template import Template

if TYPE_CHECKING:
    from builder.template.interpolate import Template as GoTemplate


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

    def where(name: str) -> Location:
        return given.get(name) or template.variables[name].location

    values = {k: v for k, v in raw.items() if v is not None}
    return _resolve(values, where, template.path)


def _resolve(
    values: Mapping[str, str], where: Callable[[str], Location], template_path: str | None
) -> dict[str, str]:
    """Render every value after the variables it refers to, in linear time.

    A depth-first walk with an explicit stack (no recursion, so chains of any length):
    rendering a value names the first variable it still lacks, which is rendered first.
    Each stack entry waits for the one above it, so a name already on the stack is a cycle.
    """
    from builder.template.funcs import UnknownUserVariable

    done: dict[str, str] = {}
    render = _renderer(values, done, template_path)
    failed: set[str] = set()
    errors: list[TemplateError] = []
    for first in sorted(values):
        if first in done or first in failed:
            continue
        stack, on_stack = [first], {first: 0}
        while stack:
            name = stack[-1]
            try:
                done[name] = render(name)
            except UnknownUserVariable as exc:
                ref = exc.name
                if ref in values and ref not in failed and ref not in on_stack:
                    on_stack[ref] = len(stack)
                    stack.append(ref)
                    continue
                if ref not in values:
                    errors.append(_undefined_error(name, ref, where))
                elif ref in on_stack:
                    errors.append(_cycle_error(stack[on_stack[ref] :], where))
                failed.update(stack)  # each waits for the one above; a failed ref is reported
                break
            except TemplateError as exc:
                raise VariableError(
                    f"error interpolating default value for '{name}': {exc.message}", where(name)
                ) from None
            stack.pop()
            del on_stack[name]
    if errors:
        raise ConfigErrors(errors)
    return dict(sorted(done.items()))


def _renderer(
    values: Mapping[str, str], done: Mapping[str, str], template_path: str | None
) -> Callable[[str], str]:
    """funcs.render of a variable's value, seeing the variables in `done` as it fills.

    Each value is parsed once: it is rendered again after each variable it lacked.
    """
    from builder.template.funcs import RenderContext
    from builder.template.interpolate import parse

    ctx = RenderContext(
        user_vars=done, template_path=_abs(template_path), env_allowed=True, strict_user=True
    )
    parsed: dict[str, GoTemplate] = {}

    def render(name: str) -> str:
        text = values[name]
        if "{{" not in text:
            return text
        if name not in parsed:
            parsed[name] = parse(text)
        return parsed[name].execute(ctx.funcs(), None, defer_fields=True)

    return render


def _undefined_error(name: str, ref: str, where: Callable[[str], Location]) -> VariableError:
    return VariableError(
        f"cannot resolve variable '{name}': it refers to variable '{ref}', which is not defined",
        where(name),
    )


def _cycle_error(cycle: list[str], where: Callable[[str], Location]) -> VariableError:
    """`a -> b -> c -> a`, starting at the first name in sorted order, located there."""
    i = cycle.index(min(cycle))
    cycle = cycle[i:] + cycle[:i]
    if len(cycle) == 1:
        return VariableError(f"variable '{cycle[0]}' refers to itself", where(cycle[0]))
    loop = " -> ".join([*cycle, cycle[0]])
    return VariableError(f"variables {loop} form a cycle", where(cycle[0]))


def _abs(path: str | None) -> str | None:
    import os

    return os.path.abspath(path) if path else None
