"""HCL's values and types, in Python.

Values are plain Python: str, int/float (HCL's number), bool, None (null), list (tuple and
list), HclSet (set), dict (object and map). Two markers sit beside them: UNKNOWN, a value
not known yet, and Deferred, a string that the engine renders later (`build.ID` becomes
the JSON path's `{{ build `ID` }}`). Types are the small classes below; `convert` is
cty's conversion, with its wording in the errors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any


class ConversionError(Exception):
    """A value that does not fit a type; the message is cty's."""


class _Unknown:
    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()


class Deferred(str):
    """A string rendered later with run-time data (the JSON path's `{{ build `X` }}`)."""

    __slots__ = ()


class HclSet(list):  # type: ignore[type-arg]
    """A set value: unique members, kept in first-seen order."""

    __slots__ = ()


def is_unknown(value: Any) -> bool:
    """Whether value is, or holds, an unknown value."""
    if value is UNKNOWN:
        return True
    if isinstance(value, dict):
        return any(is_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(is_unknown(v) for v in value)
    return False


def number(value: float | int) -> float | int:
    """A number in canonical form: integral values as int."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    return value


def format_number(value: float | int) -> str:
    """A number as HCL prints it in a string: `3`, `2.5`, `100000000000000000000`."""
    if isinstance(value, int):
        return str(value)
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer():
        return str(int(value))
    text = format(Decimal(repr(value)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def parse_number(text: str) -> float | int:
    """A string as a number (cty's rule: a decimal, maybe with exponent); ValueError if not."""
    stripped = text.strip()
    if stripped != text or not stripped:
        raise ValueError(text)
    lowered = stripped.lower()
    if lowered in ("nan", "inf", "+inf", "-inf", "infinity") or "_" in stripped:
        raise ValueError(text)
    try:
        return int(stripped)
    except ValueError:
        return number(float(stripped))


def type_of(value: Any) -> Type:
    """The type of a value, as HCL infers it (a list literal is a tuple)."""
    if value is None or value is UNKNOWN:
        return DYNAMIC
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, (int, float)):
        return NUMBER
    if isinstance(value, str):
        return STRING
    if isinstance(value, HclSet):
        return SetType(_unify([type_of(v) for v in value]))
    if isinstance(value, list):
        return TupleType(tuple(type_of(v) for v in value))
    if isinstance(value, dict):
        return ObjectType({k: type_of(v) for k, v in value.items()})
    raise TypeError(f"not an HCL value: {type(value).__name__}")


def type_name(value: Any) -> str:
    """A friendly name for a value's type, as in cty's messages."""
    if value is None:
        return "null"
    return type_of(value).friendly()


def _unify(types: list[Type]) -> Type:
    known = [t for t in types if t is not DYNAMIC]
    if not known:
        return DYNAMIC
    first = known[0]
    if all(t == first for t in known):
        return first
    if all(t in (STRING, NUMBER, BOOL) for t in known):
        return STRING
    return DYNAMIC


# --------------------------------------------------------------------------- types
class Type:
    """An HCL type constraint."""

    def friendly(self) -> str:
        raise NotImplementedError

    def convert(self, value: Any, path: str = "") -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        return self.friendly()


@dataclass(frozen=True, repr=False)
class Primitive(Type):
    name: str

    def friendly(self) -> str:
        return self.name

    def convert(self, value: Any, path: str = "") -> Any:
        if value is None or value is UNKNOWN:
            return value
        if self.name == "string":
            if isinstance(value, str):
                return value
            if isinstance(value, bool):
                return "true" if value else "false"
            if isinstance(value, (int, float)):
                return format_number(value)
            raise _err(path, "string required")
        if self.name == "number":
            if isinstance(value, bool):
                raise _err(path, "number required")
            if isinstance(value, (int, float)):
                return value
            if isinstance(value, str):
                try:
                    return parse_number(value)
                except ValueError:
                    raise _err(path, "a number is required") from None
            raise _err(path, "number required")
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            if value == "true":
                return True
            if value == "false":
                return False
            raise _err(path, "a bool is required")
        raise _err(path, "bool required")


STRING = Primitive("string")
NUMBER = Primitive("number")
BOOL = Primitive("bool")


@dataclass(frozen=True, repr=False)
class Dynamic(Type):
    def friendly(self) -> str:
        return "any"

    def convert(self, value: Any, path: str = "") -> Any:
        return value


DYNAMIC = Dynamic()


@dataclass(frozen=True, repr=False)
class ListType(Type):
    element: Type

    def friendly(self) -> str:
        return f"list of {self.element.friendly()}"

    def convert(self, value: Any, path: str = "") -> Any:
        if value is None or value is UNKNOWN:
            return value
        if not isinstance(value, list):
            raise _err(path, "list of " + self.element.friendly() + " required")
        return _homogeneous([self.element.convert(v, _at(path, i)) for i, v in enumerate(value)])


@dataclass(frozen=True, repr=False)
class SetType(Type):
    element: Type

    def friendly(self) -> str:
        return f"set of {self.element.friendly()}"

    def convert(self, value: Any, path: str = "") -> Any:
        if value is None or value is UNKNOWN:
            return value
        if not isinstance(value, list):
            raise _err(path, "set of " + self.element.friendly() + " required")
        out = HclSet()
        for i, v in enumerate(value):
            c = self.element.convert(v, _at(path, i))
            if c not in out:
                out.append(c)
        return HclSet(_homogeneous(out))


@dataclass(frozen=True, repr=False)
class MapType(Type):
    element: Type

    def friendly(self) -> str:
        return f"map of {self.element.friendly()}"

    def convert(self, value: Any, path: str = "") -> Any:
        if value is None or value is UNKNOWN:
            return value
        if not isinstance(value, dict):
            raise _err(path, "map of " + self.element.friendly() + " required")
        items = {k: self.element.convert(v, _key(path, k)) for k, v in value.items()}
        return dict(zip(items, _homogeneous(list(items.values())), strict=True))


@dataclass(frozen=True, repr=False)
class TupleType(Type):
    elements: tuple[Type, ...]

    def friendly(self) -> str:
        return "tuple"

    def convert(self, value: Any, path: str = "") -> Any:
        if value is None or value is UNKNOWN:
            return value
        if not isinstance(value, list):
            raise _err(path, "tuple required")
        if len(value) != len(self.elements):
            raise _err(path, f"tuple required with {len(self.elements)} elements")
        return [
            t.convert(v, _at(path, i))
            for i, (t, v) in enumerate(zip(self.elements, value, strict=True))
        ]


@dataclass(frozen=True, repr=False)
class ObjectType(Type):
    attributes: dict[str, Type]
    optional: frozenset[str] = frozenset()
    defaults: tuple[tuple[str, Any], ...] = ()

    def __hash__(self) -> int:
        return hash(tuple(self.attributes))

    def friendly(self) -> str:
        return "object"

    def convert(self, value: Any, path: str = "") -> Any:
        if value is None or value is UNKNOWN:
            return value
        if not isinstance(value, dict):
            raise _err(path, "object required")
        missing = [k for k in self.attributes if k not in value and k not in self.optional]
        if missing:
            if len(missing) == 1:
                raise _err(path, f'attribute "{missing[0]}" is required')
            raise _err(path, "attributes " + ", ".join(f'"{m}"' for m in missing) + " are required")
        defaults = dict(self.defaults)
        out: dict[str, Any] = {}
        for k, t in self.attributes.items():
            v = value.get(k, defaults.get(k))
            out[k] = t.convert(v, _key(path, k))
        return out


def _homogeneous(values: list[Any]) -> list[Any]:
    """Members of a list of `any` unified as cty does: mixed primitives become strings."""
    kinds = {type_of(v) for v in values if v is not None and v is not UNKNOWN}
    if len(kinds) > 1 and kinds <= {STRING, NUMBER, BOOL}:
        return [STRING.convert(v) for v in values]
    return values


def _at(path: str, i: int) -> str:
    return f"{path}[{i}]"


def _key(path: str, k: str) -> str:
    return f'{path}["{k}"]'


def _err(path: str, message: str) -> ConversionError:
    return ConversionError(f"{path}: {message}" if path else message)


def convert(value: Any, want: Type) -> Any:
    """value converted to the type `want`; ConversionError with cty's wording if it cannot."""
    return want.convert(value)


def plain(value: Any) -> Any:
    """A value as the plugin configs take it: sets become lists, Deferred stays a str."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
