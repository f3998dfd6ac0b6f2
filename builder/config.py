"""Config base (pydantic v2) with Packer's decoding rules, and the shared value types.

Values arrive as strings after interpolation, so coercion is lax ("22" -> 22,
"true" -> True); a string where a list is expected splits on commas; durations
are Go syntax ("1h5m", "500ms").
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator
from typing import Annotated, Any, ClassVar, TypeVar, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic.fields import FieldInfo

from builder.errors import ConfigErrors, Location, TemplateError

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: Any) -> float:
    """Go duration syntax to seconds: `1h5m2s`, `500ms`, `0`; bare numbers are rejected."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value == 0:
            return 0.0
        raise ValueError(f'time: missing unit in duration "{value}"')
    if not isinstance(value, str):
        raise ValueError(f'expected a duration like "5m30s", got {type(value).__name__}')
    text = value.strip()
    if text in ("", "0"):
        return 0.0
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    pos, total = 0, 0.0
    while pos < len(body):
        m = _DURATION_PART.match(body, pos)
        if not m:
            if re.fullmatch(r"[\d.]+", body[pos:]):
                raise ValueError(f'time: missing unit in duration "{value}"')
            raise ValueError(f'time: invalid duration "{value}"')
        total += float(m.group(1)) * _UNIT[m.group(2)]
        pos = m.end()
    return sign * total


def format_go_duration(seconds: float) -> str:
    """Seconds to Go's Duration.String(): `1m30s`, `500ms`, `0s`."""
    if seconds == 0:
        return "0s"
    if seconds < 1:
        ms = seconds * 1000
        return f"{ms:g}ms" if ms >= 1 else f"{seconds * 1e6:g}µs"
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    out = ""
    if h:
        out += f"{int(h)}h"
    if h or m:
        out += f"{int(m)}m"
    return out + f"{s:g}s"


def split_commas(value: Any) -> Any:
    """Packer's rule: a string where a list is expected is split on commas."""
    if isinstance(value, str):
        return [p for p in value.split(",")] if value else []
    return value


Duration = Annotated[float, BeforeValidator(parse_duration)]
StrList = Annotated[list[str], BeforeValidator(split_commas)]
IntList = Annotated[list[int], BeforeValidator(split_commas)]


class _SecretMark:
    """Marks a config field whose value is a secret (see `Secret`)."""

    def __repr__(self) -> str:
        return "SECRET"


SECRET = _SecretMark()
# A password, secret key, token or private key: masked in every output, never recorded.
Secret = Annotated[str, SECRET]

F = TypeVar("F", bound=Callable[..., list[TemplateError]])


def config_check(fn: F) -> F:
    """Mark a config method as a cross-field check: `PluginConfig.check()` runs it."""
    fn.__config_check__ = True  # type: ignore[attr-defined]
    return fn


def option_error(message: str, *keys: str | int, hint: str | None = None) -> TemplateError:
    """An error at an option of a plugin's block, its path kept as keys (`("scripts", 1)`)."""
    from builder.template.parse import format_path

    return TemplateError(message, Location(path=format_path(keys), keys=keys), hint)


class PluginConfig(BaseModel):
    """Base of every builder/provisioner/post-processor config: unknown keys are errors.

    `deferred` names fields that are NOT interpolated when the template is prepared,
    because their consumer renders them later with run-time data (`{{.Path}}`).
    Fields typed `Secret` are masked everywhere; methods marked `@config_check` are the
    cross-field checks, collected over the class hierarchy and run once by `check()`.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True, coerce_numbers_to_str=True)
    deferred: ClassVar[frozenset[str]] = frozenset()

    def was_set(self, name: str) -> bool:
        return name in self.model_fields_set

    def check(self) -> list[TemplateError]:
        """Every `@config_check` of this class and its bases, base classes first."""
        errors: list[TemplateError] = []
        seen: set[str] = set()
        for klass in reversed(type(self).__mro__):
            for name, member in vars(klass).items():
                if name in seen or not getattr(member, "__config_check__", False):
                    continue
                seen.add(name)
                errors.extend(getattr(self, name)())
        return errors

    def secrets(self) -> list[str]:
        """The values of every `Secret` field, nested blocks included (non-empty only)."""
        return [v for v in _secret_values(self) if v]

    @classmethod
    def secret_paths(cls) -> list[tuple[str, ...]]:
        """Where the `Secret` fields are: `("password",)`, `("assume_role", "token")`…."""
        return list(_secret_paths(cls, ()))


def is_secret_field(info: FieldInfo) -> bool:
    """True when a field is declared `Secret` (also inside `Secret | None`, lists of it)."""
    return SECRET in info.metadata or _mentions_secret(info.annotation)


def _mentions_secret(annotation: Any) -> bool:
    if get_origin(annotation) is Annotated:
        return SECRET in annotation.__metadata__
    return any(_mentions_secret(arg) for arg in get_args(annotation))


def _secret_values(value: Any) -> Iterator[str]:
    if isinstance(value, BaseModel):
        for name, info in type(value).model_fields.items():
            item = getattr(value, name, None)
            if is_secret_field(info):
                yield from _strings(item)
            else:
                yield from _secret_values(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _secret_values(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _secret_values(item)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def _secret_paths(model: type[BaseModel], prefix: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    for name, info in model.model_fields.items():
        if is_secret_field(info):
            yield (*prefix, name)
            continue
        inner = _inner_model(info.annotation)
        if inner is not None and inner is not model:
            yield from _secret_paths(inner, (*prefix, name))


_TYPE_WORDS = {
    "int_parsing": "expected an integer",
    "int_type": "expected an integer",
    "int_from_float": "expected an integer",
    "float_parsing": "expected a number",
    "float_type": "expected a number",
    "bool_parsing": "expected a boolean (true or false)",
    "bool_type": "expected a boolean (true or false)",
    "string_type": "expected a string",
    "list_type": "expected a list",
    "dict_type": "expected an object",
    "model_type": "expected an object",
    "model_attributes_type": "expected an object",
}


def config_errors(
    exc: ValidationError,
    model: type[BaseModel],
    base_path: str,
    locate: Any,
) -> ConfigErrors:
    """Turn pydantic's errors into template errors with paths and positions.

    `locate(path_tuple) -> Location` maps a path under the plugin block to a Location.
    """
    out: list[TemplateError] = []
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        kind = err.get("type", "")
        # pydantic puts the union/validator name in the loc for some errors; drop non-keys
        clean = tuple(p for p in loc if isinstance(p, int) or not str(p).startswith("function-"))
        if kind == "extra_forbidden":
            key = str(clean[-1])
            parent = _model_at(model, clean[:-1])
            known = sorted(parent.model_fields) if parent is not None else []
            known_names = [
                (f.alias or n) for n, f in (parent.model_fields.items() if parent else [])
            ] or known
            close = difflib.get_close_matches(key, known_names, n=1)
            hint = f"did you mean '{close[0]}'?" if close else None
            out.append(
                TemplateError(f"unknown option '{key}'", locate(clean), hint)
                if hint is None
                else TemplateError(f"unknown option '{key}'", locate(clean), hint)
            )
            continue
        if kind == "missing":
            out.append(TemplateError(f"missing required option '{clean[-1]}'", locate(clean[:-1])))
            continue
        message = _TYPE_WORDS.get(kind) or str(err.get("msg", "invalid value"))
        message = message.removeprefix("Value error, ")
        out.append(TemplateError(message, locate(clean)))
    return ConfigErrors(out)


def _model_at(model: type[BaseModel], path: tuple[Any, ...]) -> type[BaseModel] | None:
    """The nested model class at `path`, if the path walks through model fields."""
    current: Any = model
    for part in path:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(str(part))
        if field is None:
            return None
        current = _inner_model(field.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None
