"""Template values seen as Go types: deferral, truthiness, type names, argument checks."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from builder.errors import InterpolationError


class Deferred(str):
    """Text standing for a value known only later; printed verbatim, defers any action using it."""


class ArgTypeError(InterpolationError):
    """A function argument of the wrong Go type (reported without 'error calling')."""

    def __init__(self, expected: str, value: Any):
        super().__init__(f"wrong type for value; expected {expected}; got {type_name(value)}")


def truth(v: Any) -> bool:
    """Go template truthiness: empty string, zero, nil and empty collections are false."""
    if v is None:
        return False
    if isinstance(v, (bool, int, float, complex)):
        return v != 0
    if isinstance(v, (str, bytes, list, tuple, Mapping, set, frozenset)):
        return len(v) > 0
    return True


def type_name(v: Any) -> str:
    """The Go type name a template author would see in an error."""
    if v is None:
        return "<nil>"
    for typ, name in (
        (bool, "bool"),
        (int, "int"),
        (float, "float64"),
        (complex, "complex128"),
        (str, "string"),
        (bytes, "[]uint8"),
        ((list, tuple), "[]interface {}"),
        (Mapping, "map[string]interface {}"),
    ):
        if isinstance(v, typ):
            return name
    return "func" if inspect.isroutine(v) else type(v).__name__


def want_str(v: Any) -> str:
    """Check a function argument is a string, as Go's reflection would."""
    if not isinstance(v, str):
        raise ArgTypeError("string", v)
    return v


def want_int(v: Any) -> int:
    """Check a function argument is an int, as Go's reflection would."""
    if not isinstance(v, int) or isinstance(v, bool):
        raise ArgTypeError("int", v)
    return v


def sorted_keys(m: Mapping[Any, Any]) -> list[Any]:
    """A map's keys in Go's printing and range order (by type name, then text, if mixed)."""
    try:
        return sorted(m)
    except TypeError:
        return sorted(m, key=lambda k: (type_name(k), str(k)))
